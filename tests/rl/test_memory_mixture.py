"""RL.MEMORY.MIXTURE_INPUT: memory entries that hold the step's binaural mixture beside the passive estimate."""

from __future__ import annotations

import os

import pytest
import torch

from audio_separation.common.checkpoint import load_checkpoint
from audio_separation.config import get_config
from audio_separation.models.memory import TransformerMemory
from audio_separation.rl.agent_checkpoint import agent_settings, load_agent
from audio_separation.rl.rollout_storage import RolloutStorage
from audio_separation.rl.trainer import DDPPOTrainer

SMALL = dict(num_freq_bins=64, num_frames=8, channels=4, num_heads=2, ffn_size=16)


def test_mixture_memory_starts_at_the_estimate_and_reads_the_mixture() -> None:
    torch.manual_seed(0)
    memory = TransformerMemory(**SMALL, predict_residual=True, mixture_input=True)
    assert memory.encode_half[0].in_channels == 3 * 8  # (estimate + 2 ears) x 8 frequency slices
    entries = torch.rand(1, 3, 64, 8, 3)
    refined = memory(entries, torch.tensor([2]))
    assert refined.shape == (1, 3, 64, 8)
    assert torch.allclose(refined, entries[..., 0])  # an untrained residual memory returns the estimate
    torch.nn.init.normal_(memory.decode_full.weight, std=0.1)
    other_mixture = entries.clone()
    other_mixture[..., 1:] = torch.rand(1, 3, 64, 8, 2)  # the same estimates, another mixture
    assert not torch.allclose(memory(entries, torch.tensor([2])), memory(other_mixture, torch.tensor([2])))
    with pytest.raises(ValueError, match=r"\(\.\.\., F, T, 3\)"):
        memory(torch.rand(1, 3, 64, 8), torch.tensor([2]))
    assert agent_settings(get_config(opts=["RL.MEMORY.MIXTURE_INPUT", "True"]))["memory"]["mixture_input"] is True
    assert "mixture_input" not in agent_settings(get_config())["memory"]  # older checkpoints stay valid


def test_storage_keeps_estimate_and_mixture_as_one_entry() -> None:
    storage = RolloutStorage(episode_length=3, num_envs=2, num_freq_bins=4, num_frames=4, memory_mixture=True)
    passive, mixture = torch.rand(2, 4, 4), torch.rand(2, 4, 4, 2)
    storage.insert_observation(
        1, binaural=torch.rand(2, 4, 4, 2), passive=passive, gt_mono=torch.rand(2, 4, 4), mixture=mixture
    )
    assert torch.equal(storage.passive[1], passive) and torch.equal(storage.memory_entries[1, ..., 0], passive)
    assert torch.equal(storage.memory_entries[1, ..., 1:], mixture)
    queries = storage.memory_queries([1], capacity=2, decode_window=1)
    assert queries.entries.shape == (2 * 2, 4, 4, 3)  # slots 0 .. 1 of both envs, whole entries
    with pytest.raises(ValueError, match="MIXTURE_INPUT"):
        storage.insert_observation(0, binaural=torch.rand(2, 4, 4, 2), passive=passive, gt_mono=passive)
    plain = RolloutStorage(episode_length=3, num_envs=2, num_freq_bins=4, num_frames=4)
    assert plain.memory_entries is plain.passive


def test_training_and_evaluation_with_the_mixture_memory(rl_config, tmp_path) -> None:
    """Two updates (with the replay, whose buffer then holds whole entries) and an evaluation: the
    checkpoint rebuilds a mixture memory, which refines differently from an estimate-only one."""
    mixture = ("RL.MEMORY.MIXTURE_INPUT", "True", "RL.MEMORY.REPLAY_EPISODES", "3", "RL.MEMORY.BATCH_EPISODES", "4")
    model_dir = str(tmp_path / "mixture")
    DDPPOTrainer.from_config(rl_config(model_dir, "NUM_UPDATES", "2", "CHECKPOINT_INTERVAL", "2", *mixture)).train()
    path = os.path.join(model_dir, "data", "ckpt.2.pth")
    agent, payload = load_agent(path)
    assert agent.memory.mixture_input and payload["extra"]["agent_settings"]["memory"]["mixture_input"]
    replay = load_checkpoint(path)["extra"]["memory_replay"]
    assert replay["passive"].shape[-1] == 3 and replay["gt_mono"].shape[1:] == replay["passive"].shape[1:-1]
    [summary] = DDPPOTrainer.from_config(
        rl_config(model_dir, "TASK.SPLIT", "val", "EVAL.NUM_EPISODES", "2", "EVAL.MEDIA_EPISODES", "0", run_type="eval")
    ).eval()
    refined, passive = summary["metrics"]["refined"]["si_sdr"]["mean"], summary["metrics"]["passive"]["si_sdr"]["mean"]
    assert summary["num_episodes"] == 2 and refined != pytest.approx(passive, abs=1e-6)
