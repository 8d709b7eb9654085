"""GPU readiness (marked cuda, skipped without CUDA; scripts/bench/gpu.sh runs them): the passive trainer
for a few steps on CUDA."""

from __future__ import annotations

import pytest
import torch

from audio_separation.pretrain.trainer import PassiveTrainer

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_passive_trains_on_cuda(passive_config, tmp_path) -> None:
    trainer = PassiveTrainer.from_config(passive_config(str(tmp_path), "NUM_EPOCHS", "1"))
    assert trainer.run.device.device.type == "cuda"
    trainer.train()
