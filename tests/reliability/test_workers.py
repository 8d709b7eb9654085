"""Fault suite, dead workers: a killed async env worker or DataLoader worker ends the run within 10 s
with an error naming it (never a hang); passive pretraining runs under two-process gloo DDP."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import time

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from audio_separation.common.checkpoint import load_checkpoint
from audio_separation.common.errors import WorkerDiedError
from audio_separation.common.preemption import signals_blocked
from audio_separation.config import get_config
from audio_separation.env import EnvSettings, make_vector_env
from audio_separation.pretrain.trainer import PassiveTrainer
from tests.reliability.conftest import PASSIVE


def test_a_killed_async_env_worker_ends_the_run_within_10_s(tiny_config) -> None:
    config = tiny_config.clone()
    config.defrost()
    config.merge_from_list(
        ["NUM_PROCESSES", 2, "ENV.MULTIPROCESSING_CONTEXT", "fork", "TASK.SENSORS", ["MIXED_BINAURAL_MAGNITUDE"]]
    )
    config.freeze()
    with signals_blocked():  # as RL starts them: SIGTERM cannot stop these workers
        envs = make_vector_env(EnvSettings.from_config(config), vector_env_type="async")
    try:
        envs.reset(seed=0)
        victim = envs.processes[1]
        os.kill(victim.pid, signal.SIGKILL)
        started = time.perf_counter()
        with pytest.raises(WorkerDiedError, match=rf"env 1 \(PID {victim.pid}, killed by SIGKILL\) died during step"):
            envs.step(np.zeros(2, dtype=np.int64))
        assert time.perf_counter() - started < 10
    finally:
        started = time.perf_counter()
        envs.close()  # used to wait forever
        assert time.perf_counter() - started < 12
    assert not any(process.is_alive() for process in envs.processes)


def test_a_killed_dataloader_worker_is_named_within_10_s(passive_config, tmp_path, monkeypatch) -> None:
    original = PassiveTrainer.train_step
    killed = {}

    def kill_a_worker(self, *args, **kwargs):
        if not killed:
            workers = multiprocessing.active_children()
            assert workers, "no DataLoader worker to kill"
            os.kill(workers[0].pid, signal.SIGKILL)
            killed["at"] = time.perf_counter()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PassiveTrainer, "train_step", kill_a_worker)
    config = passive_config(
        str(tmp_path / "run"), "NUM_PROCESSES", "1", "PASSIVE.ITEMS_PER_EPOCH", "40", "NUM_EPOCHS", "1"
    )
    with pytest.raises(WorkerDiedError, match=r"a DataLoader worker of the passive train set died .*NUM_PROCESSES=1"):
        PassiveTrainer.from_config(config).train()
    assert time.perf_counter() - killed["at"] < 10


def _free_port() -> int:
    with socket.socket() as handle:
        handle.bind(("127.0.0.1", 0))
        return handle.getsockname()[1]


def _passive_rank(rank: int, world_size: int, port: int, opts: list, model_dir: str) -> None:
    os.environ.update(
        {
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(world_size),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
        }
    )
    torch.set_num_threads(1)
    trainer = PassiveTrainer.from_config(get_config(opts=opts, model_dir=model_dir))
    counters = trainer.train()
    torch.save({"losses": trainer.step_losses, "counters": counters}, os.path.join(model_dir, f"rank{rank}.pt"))


def test_passive_pretraining_under_two_process_gloo_ddp(tiny_world, tmp_path) -> None:
    model_dir = str(tmp_path / "ddp")
    os.makedirs(model_dir)
    opts = ["WORLD.DATA_ROOT", tiny_world[0], *PASSIVE, "NUM_EPOCHS", "1", "PASSIVE.BATCH_SIZE", "2"]
    context = mp.spawn(_passive_rank, args=(2, _free_port(), opts, model_dir), nprocs=2, join=False)
    deadline = time.time() + 240
    while not context.join(timeout=2):
        if time.time() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail("passive DDP did not finish within 240 s (deadlock?)")
    ranks = [torch.load(os.path.join(model_dir, f"rank{rank}.pt")) for rank in range(2)]
    assert [len(rank["losses"]) for rank in ranks] == [2, 2]  # 8 items: 2 steps of 2 per process
    assert ranks[0]["losses"] != ranks[1]["losses"]  # each process trains on its own share
    checkpoint = load_checkpoint(os.path.join(model_dir, "data", "ckpt.1.pth"))
    assert checkpoint["counters"]["world_size"] == 2 and checkpoint["counters"]["samples"] == 8
