"""RL.MEMORY.REPLAY_EPISODES: the memory's step on the rollout's episodes plus replayed past ones."""

from __future__ import annotations

import os
import shutil

import pytest
import torch

from audio_separation.common.checkpoint import load_checkpoint
from audio_separation.config import ConfigError
from audio_separation.rl.memory_replay import EpisodeReplay
from audio_separation.rl.rollout_storage import RolloutStorage, episode_memory_queries
from audio_separation.rl.trainer import DDPPOTrainer


def _episodes(first: int, count: int, length: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """(L, count, 2, 2) episodes whose every value is the episode's number (first, first + 1, ...)."""
    numbers = torch.arange(first, first + count, dtype=torch.float32)
    passive = numbers.reshape(1, count, 1, 1).expand(length, count, 2, 2).clone()
    return passive, -passive


def test_replay_adds_past_episodes_then_keeps_the_newest() -> None:
    replay = EpisodeReplay(3)
    passive, gt = replay.batch(*_episodes(0, 2), total=4)  # empty buffer: the rollout only
    assert passive.shape[1] == 2 and replay.count == 2
    torch.manual_seed(0)
    passive, gt = replay.batch(*_episodes(2, 2), total=4)  # 2 fresh + both held
    assert sorted(passive[0, :, 0, 0].tolist()) == [0, 1, 2, 3] and passive[0, :2, 0, 0].tolist() == [2, 3]
    assert torch.equal(gt, -passive)  # targets travel with their episodes
    assert replay.count == 3  # ring of 3: episode 0 was overwritten by 3
    held = sorted(replay.passive[:, 0, 0, 0].tolist())
    assert held == [1, 2, 3]
    passive, _ = replay.batch(*_episodes(4, 2), total=10)  # asks for more than are held
    assert passive.shape[1] == 2 + 3 and 0 not in passive[0, :, 0, 0].tolist()


def test_replay_state_round_trips_and_refuses_another_size() -> None:
    replay = EpisodeReplay(4)
    replay.push(*_episodes(0, 3))
    restored = EpisodeReplay(4)
    restored.load_state_dict(replay.state_dict())
    assert (restored.count, restored.position) == (3, 3)
    assert torch.equal(restored.passive[:3], replay.passive[:3])
    with pytest.raises(ValueError, match="REPLAY_EPISODES"):
        EpisodeReplay(5).load_state_dict(replay.state_dict())


def test_episode_queries_equal_the_storages_own() -> None:
    storage = RolloutStorage(episode_length=5, num_envs=2, num_freq_bins=4, num_frames=4)
    storage.passive.copy_(torch.rand(storage.passive.shape))
    storage.gt_mono.copy_(torch.rand(storage.gt_mono.shape))
    ours = storage.memory_queries([0, 3, 4], capacity=3, decode_window=1, with_targets=True)
    theirs = episode_memory_queries(storage.passive, storage.gt_mono, [0, 3, 4], 3, 1)
    for name in ("entries", "window_index", "window_step", "decode", "targets"):
        assert torch.equal(getattr(ours, name), getattr(theirs, name)), name


def test_batch_must_exceed_the_rollout(rl_config) -> None:
    with pytest.raises(ConfigError, match="RL.MEMORY.BATCH_EPISODES"):
        rl_config(None, "RL.MEMORY.REPLAY_EPISODES", "4", "RL.MEMORY.BATCH_EPISODES", "1")


def test_training_with_replay_resumes_exactly(rl_config, tmp_path) -> None:
    """A run resumed from its ckpt.2 with the replay ends where the straight run does: the buffer is in
    the checkpoint. The replay changes what the memory learns."""
    replay = ("NUM_UPDATES", "4", "CHECKPOINT_INTERVAL", "2", "RL.MEMORY.REPLAY_EPISODES", "3")
    replay = (*replay, "RL.MEMORY.BATCH_EPISODES", "4")
    straight = str(tmp_path / "straight")
    DDPPOTrainer.from_config(rl_config(straight, *replay)).train()
    saved = load_checkpoint(os.path.join(straight, "data", "ckpt.2.pth"))["extra"]["memory_replay"]
    assert saved["count"] == 3 and saved["passive"].shape[0] == 3  # 2 updates x 2 envs, capped at 3
    resumed_dir = tmp_path / "resumed"
    (resumed_dir / "data").mkdir(parents=True)
    shutil.copy(os.path.join(straight, "data", "ckpt.2.pth"), resumed_dir / "data" / "ckpt.2.pth")
    DDPPOTrainer.from_config(rl_config(str(resumed_dir), *replay)).train()
    expected = load_checkpoint(os.path.join(straight, "data", "ckpt.4.pth"))["model"]
    resumed = load_checkpoint(str(resumed_dir / "data" / "ckpt.4.pth"))["model"]
    for name, value in expected.items():
        assert torch.allclose(value, resumed[name], atol=1e-6), name
    without = str(tmp_path / "without")
    DDPPOTrainer.from_config(rl_config(without, "NUM_UPDATES", "4", "CHECKPOINT_INTERVAL", "2")).train()
    plain = load_checkpoint(os.path.join(without, "data", "ckpt.4.pth"))["model"]
    assert any(not torch.equal(plain[name], expected[name]) for name in expected if name.startswith("memory."))
