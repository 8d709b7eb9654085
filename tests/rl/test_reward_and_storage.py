"""Reward sign and scale, GAE on a hand-made episode, and the storage's memory windows."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from audio_separation.rl.ppo import linear_decay
from audio_separation.rl.reward import normalised_error, separation_reward
from audio_separation.rl.rollout_storage import RolloutStorage


def unit_rms_target(rms: float = 1.2) -> torch.Tensor:
    target = torch.rand(3, 64, 8) + 0.1
    return target * (rms / target.pow(2).mean(dim=(-2, -1), keepdim=True).sqrt())


def test_all_zero_estimate_gives_minus_one() -> None:
    target = unit_rms_target()
    error = normalised_error(torch.zeros_like(target), target, 1.2)
    assert torch.allclose(error, torch.ones(3), atol=1e-5)
    reward = separation_reward("negative_error", torch.zeros(3), error, terminal=False)
    assert torch.allclose(reward, -torch.ones(3), atol=1e-5)


def test_reward_sign_perfect_and_negative_estimates() -> None:
    target = unit_rms_target()
    perfect = normalised_error(target, target, 1.2)
    assert torch.allclose(separation_reward("negative_error", perfect, perfect, terminal=False), torch.zeros(3))
    # a negative estimate is clamped at 0 (a magnitude): no better than silence
    assert torch.allclose(normalised_error(-target, target, 1.2), torch.ones(3), atol=1e-5)
    half = normalised_error(0.5 * target, target, 1.2)
    assert torch.allclose(half, torch.full((3,), 0.25), atol=1e-5)
    # Move2Hear's improvement reward: positive when the error falls
    assert torch.all(separation_reward("improvement", torch.ones(3), half, terminal=False) > 0)
    assert torch.all(separation_reward("negative_error", torch.ones(3), half, terminal=True, zero_terminal=True) == 0)
    with pytest.raises(ValueError, match="RL.REWARD"):
        separation_reward("nope", half, half, terminal=False)


def test_gae_on_a_hand_made_episode() -> None:
    storage = RolloutStorage(4, 1, 64, 8, None)  # 4 observations, 3 actions
    storage.rewards[:, 0] = torch.tensor([1.0, 0.0, 2.0])
    storage.values[:, 0] = torch.tensor([0.5, 0.25, 1.0])
    gamma, tau = 0.9, 0.8
    storage.compute_returns(gamma, tau)
    deltas = [
        1.0 + gamma * 0.25 - 0.5,
        0.0 + gamma * 1.0 - 0.25,
        2.0 + 0.0 - 1.0,
    ]  # the last transition ends the episode
    expected = [0.0, 0.0, 0.0]
    running = 0.0
    for step in reversed(range(3)):
        running = deltas[step] + gamma * tau * running
        expected[step] = running
    assert torch.allclose(storage.advantages[:, 0], torch.tensor(expected))
    assert torch.allclose(storage.returns[:, 0], torch.tensor(expected) + storage.values[:, 0])


def test_memory_queries_gather_each_envs_own_past() -> None:
    storage = RolloutStorage(5, 2, 64, 8, None)
    for step in range(5):
        for env in range(2):
            storage.passive[step, env] = 10 * step + env  # entry value names (step, env)
            storage.gt_mono[step, env] = -(10 * step + env)
    queries = storage.memory_queries([1, 4], capacity=3, decode_window=1, with_targets=True)
    # queries: (step 1, env 0), (1, 1), (4, 0), (4, 1); positions hold offsets 2, 1, 0
    assert queries.window_step.tolist() == [[-1, 0, 1], [-1, 0, 1], [2, 3, 4], [2, 3, 4]]
    values = queries.entries[:, 0, 0][queries.window_index]
    assert values[queries.window_step >= 0].tolist() == [0, 10, 1, 11, 20, 30, 40, 21, 31, 41]
    assert queries.decode.tolist() == [[False, True, True]] * 4
    assert queries.targets[:, 0, 0].tolist() == [0, -10, -1, -11, -30, -40, -31, -41]


def test_linear_decay() -> None:
    assert linear_decay(0, 10) == 1.0
    assert math.isclose(linear_decay(5, 10), 0.5)
    assert linear_decay(10, 10) == 0.0


def test_storage_keeps_the_observations_the_policy_consumes() -> None:
    from gymnasium.spaces import Box

    from audio_separation.models.policy import ActorCritic

    rgb = ActorCritic(num_freq_bins=64, num_frames=8, view_resolution=36, hidden_size=8, embedding_size=8)
    blind = ActorCritic(num_freq_bins=64, num_frames=8, hidden_size=8, embedding_size=8, use_rgb=False)
    assert rgb.observation_keys == ("rgb",) and blind.observation_keys == ()
    spaces = {"rgb": Box(0, 255, (36, 36, 3), np.uint8), "pose": Box(-1, 1, (4,), np.float32)}
    storage = RolloutStorage(3, 2, 64, 8, {key: spaces[key] for key in rgb.observation_keys})
    assert storage.observation_keys == ("rgb",) and storage.observations["rgb"].dtype == torch.uint8
    spectrogram = torch.zeros(2, 64, 8)
    frame = torch.full((2, 36, 36, 3), 7, dtype=torch.uint8)
    storage.insert_observation(
        1, binaural=torch.zeros(2, 64, 8, 2), passive=spectrogram, gt_mono=spectrogram, observations={"rgb": frame}
    )
    assert torch.equal(storage.policy_inputs(1)["rgb"], frame)
    assert set(RolloutStorage(3, 2, 64, 8, None).policy_inputs(0)) == {"binaural", "refined_mono", "previous_action"}
    with pytest.raises(KeyError, match="rgb"):
        storage.insert_observation(0, binaural=torch.zeros(2, 64, 8, 2), passive=spectrogram, gt_mono=spectrogram)


def test_value_statistics_explained_variance() -> None:
    storage = RolloutStorage(4, 2, 64, 8, None)  # 3 actions x 2 envs
    storage.rewards[:] = torch.tensor([[1.0, -1.0], [0.0, 2.0], [3.0, 0.5]])
    storage.compute_returns(1.0, 1.0)  # values 0: returns are the reward-to-go
    returns = storage.returns.clone()
    assert storage.value_statistics()["explained_variance"] == pytest.approx(0.0)  # constant 0 predicts nothing
    storage.values.copy_(returns)
    storage.compute_returns(1.0, 1.0)
    statistics = storage.value_statistics()
    assert statistics["explained_variance"] == pytest.approx(1.0) and statistics["advantage_std"] == pytest.approx(0.0)
    storage.values.copy_(-returns)  # anti-correlated: worse than a constant
    storage.compute_returns(1.0, 1.0)
    assert storage.value_statistics()["explained_variance"] < 0
