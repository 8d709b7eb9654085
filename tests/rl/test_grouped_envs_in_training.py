"""The RL trainer runs unchanged on the grouped vector env: the same seeds give the same parameters as
with the sync vector env (observations, infos and episode ends are identical)."""

from __future__ import annotations

import torch

from audio_separation.rl.agent_checkpoint import ActiveSeparationAgent, agent_settings
from audio_separation.rl.trainer import DDPPOTrainer


def _parameters(rl_config, model_dir: str, vector_env_type: str) -> dict[str, torch.Tensor]:
    config = rl_config(
        model_dir,
        "ENV.VECTOR_ENV_TYPE",
        vector_env_type,
        "ENV.NUM_WORKERS",
        "2",
        "ENV.MULTIPROCESSING_CONTEXT",
        "fork",
        "NUM_UPDATES",
        "2",
        "CHECKPOINT_INTERVAL",
        "2",
    )
    trainer = DDPPOTrainer.from_config(config)
    counters = trainer.train()
    assert counters["update"] == 2
    return {name: value.detach().clone() for name, value in trainer.agent.state_dict().items()}


def test_grouped_and_sync_envs_train_identically(rl_config, tmp_path) -> None:
    sync = _parameters(rl_config, str(tmp_path / "sync"), "sync")
    grouped = _parameters(rl_config, str(tmp_path / "grouped"), "grouped")
    assert sync.keys() == grouped.keys()
    for name in sync:
        torch.testing.assert_close(grouped[name], sync[name], rtol=0, atol=0, msg=name)
    # the updates did change the policy, so the equality above is not that of two untouched models
    config = rl_config(str(tmp_path / "untouched"))
    torch.manual_seed(config.SEED)  # as the trainer seeds the initial weights
    untouched = ActiveSeparationAgent(agent_settings(config)).state_dict()
    assert any(not torch.equal(value, untouched[name]) for name, value in sync.items() if value.is_floating_point())


def test_batched_env_trains_like_sync(rl_config, tmp_path) -> None:
    # the batched env's observations equal the sync env's to float32 rounding (tests/env/test_batched_vector.py),
    # its episodes, seeds and infos exactly: two updates end at the same parameters up to that rounding
    sync = _parameters(rl_config, str(tmp_path / "sync"), "sync")
    batched = _parameters(rl_config, str(tmp_path / "batched"), "batched")
    assert sync.keys() == batched.keys()
    for name in sync:
        torch.testing.assert_close(batched[name], sync[name], rtol=1e-4, atol=1e-5, msg=name)
