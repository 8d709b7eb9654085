"""Two-process gloo DDP: one step keeps parameters identical across ranks; the trainer runs under DDP."""

from __future__ import annotations

import os
import socket
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from audio_separation.common import distributed
from audio_separation.config import get_config


def _free_port() -> int:
    with socket.socket() as handle:
        handle.bind(("127.0.0.1", 0))
        return handle.getsockname()[1]


def _spawn(function, args: tuple, seconds: float = 180.0) -> None:
    """mp.spawn with a deadline: a deadlocked collective fails the test instead of hanging CI."""
    context = mp.spawn(function, args=args, nprocs=2, join=False)
    deadline = time.time() + seconds
    while not context.join(timeout=2):
        if time.time() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail(f"{function.__name__} did not finish within {seconds} s (deadlock?)")


def _set_env(rank: int, world_size: int, port: int) -> None:
    os.environ.update(
        {
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(world_size),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
        }
    )


def _ddp_step(rank: int, world_size: int, port: int, out_dir: str) -> None:
    _set_env(rank, world_size, port)
    torch.set_num_threads(1)
    distributed.init_distributed()
    from audio_separation.naf.model import build_model

    config = get_config(
        opts=["NAF.HIDDEN", "16", "NAF.NUM_BLOCKS", "2", "NAF.SKIP_AFTER", "1", "NAF.GRID_SPACING", "1.0"]
    )
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(build_model(config, (0.0, 0.0, 2.0, 2.0), 4, 256, 8))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    torch.manual_seed(100 + rank)  # different data on every rank
    listener, emitter = torch.rand(4, 2) * 2, torch.rand(4, 2) * 2
    frames = torch.arange(8)[None].expand(4, -1)
    loss = model(listener, emitter, torch.randint(0, 4, (4,)), frames).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    gathered = [torch.zeros_like(flat) for _ in range(world_size)]
    dist.all_gather(gathered, flat)
    mean_rank = float(distributed.all_reduce_mean(float(rank)))
    torch.save(
        {"gathered": gathered, "mean_rank": mean_rank, "is_main": distributed.is_main()},
        os.path.join(out_dir, f"rank{rank}.pt"),
    )
    distributed.cleanup_distributed()


def test_two_process_gloo_step_keeps_parameters_identical(tmp_path) -> None:
    _spawn(_ddp_step, (2, _free_port(), str(tmp_path)))
    for rank in range(2):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        first, second = result["gathered"]
        assert torch.equal(first, second)
        assert result["mean_rank"] == 0.5
        assert result["is_main"] == (rank == 0)


def _ddp_trainer(rank: int, world_size: int, port: int, opts: list, model_dir: str) -> None:
    _set_env(rank, world_size, port)
    torch.set_num_threads(1)
    from audio_separation.naf.trainer import NafTrainer

    NafTrainer.from_config(get_config(opts=opts, model_dir=model_dir)).train()


@pytest.mark.slow
def test_trainer_under_two_process_ddp(naf_config, naf_scene, tmp_path) -> None:
    from tests.naf.conftest import naf_opts

    opts = naf_opts(naf_config.WORLD.DATA_ROOT, naf_config.NAF.DATA_DIR, "NUM_EPOCHS", "1")
    _spawn(_ddp_trainer, (2, _free_port(), opts, str(tmp_path / "ddp")))
    assert os.path.isfile(tmp_path / "ddp" / "data" / "ckpt.1.pth")
