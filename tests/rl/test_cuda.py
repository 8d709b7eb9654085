"""GPU readiness (marked cuda, skipped without CUDA; scripts/bench/gpu.sh runs them): the ddppo trainer
for a few updates on CUDA, with the sync env (observations copied to the device) and with the batched
env on the same device (observations never leave it)."""

from __future__ import annotations

import pytest
import torch

from audio_separation.rl.trainer import DDPPOTrainer

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


@pytest.mark.parametrize("vector_env_type", ["sync", "batched"])
def test_ddppo_trains_on_cuda(rl_config, tmp_path, vector_env_type: str) -> None:
    config = rl_config(
        str(tmp_path / vector_env_type),
        "ENV.VECTOR_ENV_TYPE",
        vector_env_type,
        "ENV.DEVICE",
        "cuda",
        "NUM_UPDATES",
        "2",
    )
    trainer = DDPPOTrainer.from_config(config)
    counters = trainer.train()
    assert counters["update"] == 2
    assert all(parameter.device.type == "cuda" for parameter in trainer.agent.parameters())
    assert all(torch.isfinite(torch.tensor(stats["reward"])) for stats in trainer.update_history)
