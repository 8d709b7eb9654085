"""RL.MEMORY.FINETUNE_UPDATES: the last updates train only the memory, on the fixed policy's rollouts."""

from __future__ import annotations

import os

import pytest
import torch

from audio_separation.common.checkpoint import load_checkpoint
from audio_separation.config import ConfigError, get_config
from audio_separation.rl.phases import TrainingPhases
from audio_separation.rl.trainer import DDPPOTrainer


def _phases(*opts: str) -> TrainingPhases:
    return TrainingPhases.from_config(get_config(opts=list(opts)))


def test_schedules_without_finetuning_are_the_joint_ones() -> None:
    phases = _phases("NUM_UPDATES", "10", "RL.IMITATION.UPDATES", "4", "RL.MEMORY.LR", "0.005")
    assert [phases.imitating(u) for u in (0, 3, 4)] == [True, True, False]
    assert not any(phases.finetuning_memory(u) for u in range(10))
    assert phases.ppo_decay(2) == 1.0 and phases.ppo_decay(4) == 1.0 and phases.ppo_decay(7) == pytest.approx(0.5)
    assert phases.memory_lr(5) == pytest.approx(0.005 * 0.5) and phases.memory_lr(5, decay=False) == 0.005


def test_finetuning_phase_restarts_the_memory_rate_and_leaves_ppo_decay_as_before() -> None:
    base = ("NUM_UPDATES", "10", "RL.IMITATION.UPDATES", "4", "RL.MEMORY.LR", "0.005")
    plain = _phases(*base)
    extended = _phases(*base[:1], "14", *base[2:], "RL.MEMORY.FINETUNE_UPDATES", "4", "RL.MEMORY.FINETUNE_LR", "0.001")
    for update in range(10):  # N + K with K fine-tuning updates = N, then K more
        assert extended.ppo_decay(update) == plain.ppo_decay(update)
        assert extended.memory_lr(update) == plain.memory_lr(update)
        assert not extended.finetuning_memory(update)
    assert [extended.finetuning_memory(u) for u in (10, 13)] == [True, True]
    assert [extended.memory_lr(u) for u in (10, 11, 13)] == pytest.approx([0.001, 0.00075, 0.00025])


@pytest.mark.parametrize(
    "opts",
    [
        ("NUM_UPDATES", "5", "RL.IMITATION.UPDATES", "3", "RL.MEMORY.FINETUNE_UPDATES", "3"),
        ("RL.MEMORY.FINETUNE_UPDATES", "-1"),
        ("RL.MEMORY.FINETUNE_LR", "-0.1"),
    ],
)
def test_bad_phase_splits_are_config_errors_naming_the_keys(opts) -> None:
    with pytest.raises(ConfigError, match="RL.MEMORY.FINETUNE"):
        _phases(*opts)


def _weights(trainer_dir: str, update: int) -> dict[str, torch.Tensor]:
    return load_checkpoint(os.path.join(trainer_dir, "data", f"ckpt.{update}.pth"))["model"]


def test_finetuning_updates_change_the_memory_not_the_policy_and_resume_like_a_straight_run(
    rl_config, tmp_path
) -> None:
    """A 2-update run, then resumed as 2 + 2 with 2 fine-tuning updates: the policy's weights stay those
    of ckpt.2, the memory's move, and the result equals a straight 4-update run with the same phases."""
    short = str(tmp_path / "short")
    DDPPOTrainer.from_config(rl_config(short, "NUM_UPDATES", "2", "CHECKPOINT_INTERVAL", "2")).train()
    extended = rl_config(short, "NUM_UPDATES", "4", "CHECKPOINT_INTERVAL", "2", "RL.MEMORY.FINETUNE_UPDATES", "2")
    trainer = DDPPOTrainer.from_config(extended)
    assert trainer.train()["update"] == 4
    assert [stats["value_loss"] for stats in trainer.update_history] == [0.0, 0.0]
    assert all(stats["memory_l1"] > 0 for stats in trainer.update_history)
    before, after = _weights(short, 2), _weights(short, 4)
    policy = [name for name in before if name.startswith("policy.")]
    memory = [name for name in before if name.startswith("memory.")]
    assert policy and memory
    assert all(torch.equal(before[name], after[name]) for name in policy)
    assert any(not torch.equal(before[name], after[name]) for name in memory)

    straight = str(tmp_path / "straight")
    DDPPOTrainer.from_config(
        rl_config(straight, "NUM_UPDATES", "4", "CHECKPOINT_INTERVAL", "2", "RL.MEMORY.FINETUNE_UPDATES", "2")
    ).train()
    expected = _weights(straight, 4)
    for name, value in expected.items():
        assert torch.allclose(value, after[name], atol=1e-6), name
