"""RL.REWARD still_gain: the sensor MIXED_BINAURAL_START hears this step's second of audio from the
episode's start pose, and the reward is the same second's passive error from there minus from the
agent's pose, so an episode's return is its passive-error advantage over standing still."""

from __future__ import annotations

import numpy as np
import pytest

from audio_separation.config import ConfigError
from audio_separation.env import make_env
from audio_separation.env.navigation import MOVE_FORWARD, TURN_LEFT, TURN_RIGHT
from audio_separation.env.settings import EnvSettings
from tests.env.conftest import derive_config

SENSORS = "['MIXED_BINAURAL_MAGNITUDE', 'MIXED_BINAURAL_START', 'GT_MONO', 'TARGET_CLASS', 'POSE', 'RGB']"


def _heard_from(simulator, pose) -> np.ndarray:
    here = (simulator.node, simulator.heading)
    simulator.node, simulator.heading = pose
    magnitude = np.log1p(np.abs(simulator.render_audio(False).mixture)).transpose(1, 2, 0)
    simulator.node, simulator.heading = here
    return magnitude


def test_start_sensor_hears_the_current_second_from_the_start_pose(tiny_config) -> None:
    config = derive_config(tiny_config, "ENV.VECTOR_ENV_TYPE", "sync", "TASK.SENSORS", SENSORS)
    env = make_env(EnvSettings.from_config(config))
    observation, _ = env.reset(seed=0)
    simulator = env.simulator
    start = (simulator.node, simulator.heading)
    np.testing.assert_array_equal(observation["start_binaural_magnitude"], observation["mixed_binaural_magnitude"])
    for action in (TURN_LEFT, MOVE_FORWARD, TURN_RIGHT, MOVE_FORWARD):
        observation, *_ = env.step(action)
        np.testing.assert_allclose(
            observation["start_binaural_magnitude"], _heard_from(simulator, start), rtol=1e-5, atol=1e-6
        )
        # the pose two actions ago is not the start pose: the sensor is not the previous pose's render
        assert (simulator.node, simulator.heading) != start
        assert not np.allclose(observation["start_binaural_magnitude"], observation["mixed_binaural_magnitude"])


def test_still_gain_needs_the_start_sensor(rl_config) -> None:
    with pytest.raises(ConfigError, match="MIXED_BINAURAL_START"):
        rl_config(None, "RL.REWARD", "still_gain")


def test_still_gain_rewards_are_start_error_minus_passive_error(rl_config) -> None:
    """For each transition: the passive error of the new second heard from the start pose minus the passive
    error the agent got (0 at the start pose)."""
    from tests.rl.test_pose_gain_reward import assert_counterfactual_rewards

    config = rl_config(None, "TASK.MAX_EPISODE_STEPS", "6", "RL.REWARD", "still_gain", "TASK.SENSORS", SENSORS)
    assert assert_counterfactual_rewards(config, lambda poses, step: poses[0])  # the expert left its start pose
