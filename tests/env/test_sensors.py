"""Sensors are registered classes: a new one is a class + its name in TASK.SENSORS, nothing else."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from gymnasium import spaces

from audio_separation.common.registry import registry
from audio_separation.env import make_env
from audio_separation.env.navigation import MOVE_FORWARD
from audio_separation.env.sensors import Sensor
from audio_separation.env.settings import EnvSettings


class StepIndexSensor(Sensor):
    """A toy sensor: the step index, as int64 (1,)."""

    keys = ("step_index",)

    def spaces(self) -> dict[str, spaces.Space]:
        return {"step_index": spaces.Box(low=0, high=np.iinfo(np.int64).max, shape=(1,), dtype=np.int64)}

    def value(self, step) -> np.ndarray:
        return np.array([step.simulator.step_index], dtype=np.int64)


@pytest.fixture
def step_index_sensor():
    registry.register_sensor(name="STEP_INDEX")(StepIndexSensor)
    yield "STEP_INDEX"
    registry._maps["sensor"].pop("STEP_INDEX")


def test_a_registered_sensor_joins_space_and_observations(env_config, step_index_sensor) -> None:
    settings = EnvSettings.from_config(env_config).with_sensors(step_index_sensor)
    env = make_env(settings)
    assert env.observation_space["step_index"] == StepIndexSensor(None).spaces()["step_index"]
    observation, _ = env.reset()
    assert observation["step_index"].tolist() == [0] and list(observation) == list(env.observation_space.spaces)
    for expected in (1, 2):
        observation, *_ = env.step(MOVE_FORWARD)
        assert observation["step_index"].tolist() == [expected]
        assert env.observation_space.contains(observation)
    buffers = {key: np.zeros(space.shape, space.dtype) for key, space in env.observation_space.spaces.items()}
    env.set_observation_buffers(buffers)
    observation, *_ = env.step(MOVE_FORWARD)
    assert observation["step_index"] is buffers["step_index"] and buffers["step_index"].tolist() == [3]


def test_sensors_that_read_nothing_render_nothing(env_config, step_index_sensor) -> None:
    settings = EnvSettings.from_config(env_config)
    env = make_env(settings.replace(task=dataclasses.replace(settings.task, sensors=(step_index_sensor,))))
    observation, _ = env.reset()
    assert list(observation) == ["step_index"]
    assert env.simulator.renderer.rir_lookups == 0 and env.timings["views"] < 0.01


def test_two_sensors_with_one_key_are_refused(env_config, step_index_sensor) -> None:
    class Twin(StepIndexSensor):
        pass

    registry.register_sensor(name="STEP_INDEX_TWIN")(Twin)
    try:
        with pytest.raises(ValueError, match="both produce observation key 'step_index'"):
            make_env(EnvSettings.from_config(env_config).with_sensors(step_index_sensor, "STEP_INDEX_TWIN"))
    finally:
        registry._maps["sensor"].pop("STEP_INDEX_TWIN")
