"""RL.REWARD pose_gain: the sensor MIXED_BINAURAL_STAY hears this step's second of audio from the previous
pose, and the reward is the same second's passive error from there minus from the new pose."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audio_separation.config import ConfigError
from audio_separation.env import make_env
from audio_separation.env.navigation import MOVE_FORWARD, TURN_LEFT, TURN_RIGHT
from audio_separation.env.settings import EnvSettings
from audio_separation.rl.environment import rl_env_settings
from audio_separation.rl.frozen_separator import load_frozen_separator, separate
from audio_separation.rl.reward import normalised_error
from tests.env.conftest import derive_config

SENSORS = "['MIXED_BINAURAL_MAGNITUDE', 'MIXED_BINAURAL_STAY', 'GT_MONO', 'TARGET_CLASS', 'POSE', 'RGB']"


def test_stay_sensor_hears_the_current_second_from_the_previous_pose(tiny_config) -> None:
    config = derive_config(tiny_config, "ENV.VECTOR_ENV_TYPE", "sync", "TASK.SENSORS", SENSORS)
    env = make_env(EnvSettings.from_config(config))
    observation, info = env.reset(seed=0)
    # t = 0: no action yet, the previous pose is the start pose
    np.testing.assert_array_equal(observation["stay_binaural_magnitude"], observation["mixed_binaural_magnitude"])
    simulator = env.simulator
    for action in (TURN_LEFT, MOVE_FORWARD, TURN_RIGHT, MOVE_FORWARD):
        before = (simulator.node, simulator.heading)
        observation, *_ = env.step(action)
        assert simulator.previous_pose == before
        # the same second at the old pose, rendered by hand with the simulator put there
        here = (simulator.node, simulator.heading)
        simulator.node, simulator.heading = before
        expected = np.log1p(np.abs(simulator.render_audio(False).mixture)).transpose(1, 2, 0)
        simulator.node, simulator.heading = here
        np.testing.assert_allclose(observation["stay_binaural_magnitude"], expected, rtol=1e-5, atol=1e-6)
        assert not np.allclose(observation["stay_binaural_magnitude"], observation["mixed_binaural_magnitude"])


def test_pose_gain_needs_the_stay_sensor(rl_config) -> None:
    with pytest.raises(ConfigError, match="MIXED_BINAURAL_STAY"):
        rl_config(None, "RL.REWARD", "pose_gain")


def assert_counterfactual_rewards(config, reference_pose) -> int:
    """Roll out the approach expert under `config`'s counterfactual reward and recompute every transition's
    reward by hand: the passive error of the new second heard from reference_pose(poses, step) minus the
    passive error the agent got (exactly 0 where the agent is at that pose). Returns how many transitions
    were away from the reference pose."""
    from tests.rl.test_imitation import _rollout

    storage, recordings, _ = _rollout(config, experts=True, probability=1.0)
    separator, _ = load_frozen_separator(config)
    settings = rl_env_settings(config, evaluation=True)
    rms = float(config.AUDIO.TARGET_MONO_RMS)
    moved = 0
    for index, recording in enumerate(recordings):
        env = make_env(settings, index, len(recordings))  # env `index` of the vector env, with its seed
        env.reset(seed=3 + index)
        simulator = env.simulator
        assert simulator.episode.episode_id == recording.infos[0]["episode_id"]
        poses = [(int(info["node"]), int(info["heading"])) for info in recording.infos]
        for step in range(1, len(poses)):
            here, reference = poses[step], reference_pose(poses, step)
            simulator.step_index, (simulator.node, simulator.heading) = step, reference
            heard = np.log1p(np.abs(simulator.render_audio(False).mixture)).transpose(1, 2, 0)
            target_class = torch.tensor([[int(simulator.episode.target_label)]])
            with torch.inference_mode():
                _, reference_estimate = separate(separator, torch.as_tensor(heard)[None], target_class)
            gt_mono = storage.gt_mono[step, index][None]
            expected = normalised_error(reference_estimate, gt_mono, rms) - normalised_error(
                storage.passive[step, index][None], gt_mono, rms
            )
            assert storage.rewards[step - 1, index].item() == pytest.approx(expected.item(), abs=1e-5)
            if here == reference:
                assert storage.rewards[step - 1, index].item() == 0.0
            else:
                moved += 1
        env.close()
    return moved


def test_pose_gain_rewards_are_stay_error_minus_passive_error(rl_config) -> None:
    """For each transition: the passive error of the new second heard from the pose before the action minus
    the passive error the agent got."""
    config = rl_config(None, "TASK.MAX_EPISODE_STEPS", "6", "RL.REWARD", "pose_gain", "TASK.SENSORS", SENSORS)
    assert assert_counterfactual_rewards(config, lambda poses, step: poses[step - 1])


def test_reward_signal_script_compares_agents_on_the_same_episodes(rl_config) -> None:
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "scripts"))
    import reward_signal

    paper = rl_config(None, "TASK.MAX_EPISODE_STEPS", "4")
    returns, episode_ids = reward_signal.episode_returns(paper, ["approach", "still"], rounds=2)
    assert {name: len(values) for name, values in returns.items()} == {"approach": 4, "still": 4}
    assert len(set(episode_ids)) == 4  # two rounds of two envs: four episodes, not each env's first one twice
    assert np.all(returns["still"] < 0)  # -nMSE summed over 3 transitions
    counterfactual = rl_config(None, "TASK.MAX_EPISODE_STEPS", "4", "RL.REWARD", "pose_gain", "TASK.SENSORS", SENSORS)
    again, again_ids = reward_signal.episode_returns(counterfactual, ["approach", "still"], rounds=2)
    assert again_ids == episode_ids
    # the same agents on the same episodes: only the reward differs, and the counterfactual one is far smaller
    assert np.all(np.abs(again["still"]) < np.abs(returns["still"]))
