"""Distributed helpers in a single process, the tensorboard fallback, and the CUDA path's clean skip."""

from __future__ import annotations

import builtins

import pytest
import torch

from audio_separation.common import distributed
from audio_separation.common.tensorboard import NullWriter, make_writer


def test_single_process_defaults(monkeypatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    state = distributed.init_distributed()
    assert state.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert (state.rank, state.local_rank, state.world_size, state.is_main) == (0, 0, 1, True)
    assert (distributed.get_rank(), distributed.get_world_size(), distributed.is_main()) == (0, 1, True)
    assert float(distributed.all_reduce_mean(2.5)) == 2.5
    distributed.barrier()
    distributed.cleanup_distributed()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA: the NCCL path is exercised on GPU machines only")
def test_cuda_device_follows_local_rank(monkeypatch) -> None:
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.delenv("RANK", raising=False)
    assert distributed.init_distributed().device == torch.device("cuda", 0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA: TORCH_GPU_ID selects the device of a plain process")
def test_plain_process_uses_torch_gpu_id(monkeypatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.select_device(torch.cuda.device_count() - 1).index == torch.cuda.device_count() - 1
    with pytest.raises(ValueError, match="TORCH_GPU_ID"):
        distributed.select_device(torch.cuda.device_count())


def test_cpu_without_cuda_whatever_the_gpu_id(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert distributed.select_device(5) == torch.device("cpu")


def test_writer_falls_back_to_noop_without_tensorboard(monkeypatch, tmp_path) -> None:
    real_import = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)
    writer = make_writer(str(tmp_path / "tb"))
    assert isinstance(writer, NullWriter)
    writer.add_scalar("losses/x", 1.0, 0)
    writer.close()
    assert isinstance(make_writer(str(tmp_path / "tb"), enabled=False), NullWriter)
