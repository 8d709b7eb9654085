"""The PPO update re-evaluates exactly what the rollout acted with: before the first step of an update,
the log-probabilities and values the policy computes from the stored inputs equal those the rollout
recorded (ratio 1), for the paper's policy and for the quickstart's (interaural features + previous action)."""

from __future__ import annotations

import pytest
import torch

from audio_separation.rl import ppo as ppo_module
from audio_separation.rl.trainer import DDPPOTrainer

POLICIES = {
    "paper": [],
    "quickstart": ["RL.POLICY.INTERAURAL_BANDS", "32", "RL.POLICY.PREVIOUS_ACTION_SIZE", "16"],
}


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_update_sees_the_rollouts_log_probs_and_values(rl_config, tmp_path, monkeypatch, policy) -> None:
    original = ppo_module.PPO.update
    gaps = []

    def checking_update(self, storage, clip):
        steps, envs = storage.num_actions_per_env, storage.num_envs
        inputs = {key: value.flatten(0, 1) for key, value in storage.policy_inputs(slice(0, steps)).items()}
        with torch.no_grad():
            output = self.policy.sequence(inputs, steps, self.policy.initial_hidden(envs, storage.device))
            log_probs = output.distribution.log_prob(storage.actions)
        gaps.append(
            (
                float((log_probs - storage.log_probs).abs().max()),
                float((output.value - storage.values).abs().max()),
            )
        )
        return original(self, storage, clip)

    monkeypatch.setattr(ppo_module.PPO, "update", checking_update)
    trainer = DDPPOTrainer.from_config(
        rl_config(str(tmp_path / policy), "NUM_UPDATES", "2", "CHECKPOINT_INTERVAL", "2", *POLICIES[policy])
    )
    trainer.train()
    assert len(gaps) == 2
    for log_prob_gap, value_gap in gaps:
        assert log_prob_gap < 1e-5 and value_gap < 1e-5, gaps
