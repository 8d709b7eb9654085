"""Atomic checkpoints: round trip of every part, latest_checkpoint, clear errors for bad files."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from audio_separation.common.checkpoint import (
    CheckpointError,
    checkpoint_path,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from audio_separation.config import get_config


def _model_and_optimizer(seed: int):
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    return model, optimizer


def test_round_trip_restores_model_optimizer_rng_and_counters(tmp_path) -> None:
    model, optimizer = _model_and_optimizer(0)
    path = checkpoint_path(str(tmp_path / "data"), 3)
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    save_checkpoint(path, config=get_config(), model=model, optimizer=optimizer, counters={"epoch": 3, "step": 7})
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    assert not [name for name in os.listdir(tmp_path / "data") if ".tmp" in name]
    other, other_optimizer = _model_and_optimizer(1)
    payload = load_checkpoint(path, model=other, optimizer=other_optimizer, restore_rng=True)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected
    assert payload["counters"] == {"epoch": 3, "step": 7}
    assert "SEED" in payload["config"]
    for a, b in zip(model.parameters(), other.parameters()):
        assert torch.equal(a, b)
    assert other_optimizer.state_dict()["state"][0]["step"] == optimizer.state_dict()["state"][0]["step"]


def test_latest_checkpoint_orders_numerically(tmp_path) -> None:
    assert latest_checkpoint(str(tmp_path / "missing")) is None
    for index in (2, 10, 9):
        save_checkpoint(checkpoint_path(str(tmp_path), index), counters={"epoch": index}, model=torch.nn.Linear(1, 1))
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    assert [i for i, _ in list_checkpoints(str(tmp_path))] == [2, 9, 10]
    assert latest_checkpoint(str(tmp_path)).endswith("ckpt.10.pth")


def test_corrupt_and_mismatched_files_name_the_path(tmp_path) -> None:
    corrupt = tmp_path / "ckpt.1.pth"
    corrupt.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="ckpt.1.pth"):
        load_checkpoint(str(corrupt))
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(str(tmp_path / "ckpt.2.pth"))
    path = save_checkpoint(str(tmp_path / "ckpt.3.pth"), model=torch.nn.Linear(3, 2), counters={})
    with pytest.raises(CheckpointError, match="ckpt.3.pth.*does not match"):
        load_checkpoint(path, model=torch.nn.Linear(5, 2))
