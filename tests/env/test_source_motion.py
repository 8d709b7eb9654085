"""Moving sources (TASK.SOURCE_MOTION): paths stay in the floor plan's free space, are walked at the
configured speed, are the same in the sync and batched envs, and bad settings fail naming the keys."""

from __future__ import annotations

import math

import numpy as np
import pytest

from audio_separation.env import make_env
from audio_separation.env.batched_vector import BatchedVectorEnv
from audio_separation.env.navigation import MOVE_FORWARD, TURN_LEFT, load_scene_navigation
from audio_separation.env.settings import EnvSettings
from audio_separation.env.source_motion import MotionSettings, SourcePath, floor_xy, plan_path
from audio_separation.world.floorplan import FloorPlan
from audio_separation.world.soundspaces import HEADINGS, SoundSpacesLayout
from tests.env.conftest import derive_config

SPEED = 0.7  # m/s: not a divisor of the 1 m grid, so positions fall between nodes
MOTION = ["TASK.SOURCE_MOTION.ENABLED", "True", "TASK.SOURCE_MOTION.SPEED", str(SPEED)]
# the NAF is opened on the first audio render; these envs observe the pose only, so no checkpoint is needed
NAF_WITHOUT_AUDIO = ["WORLD.RIR_SOURCE", "naf", "WORLD.NAF_CHECKPOINTS", "/nonexistent", "TASK.SENSORS", ["POSE"]]


def _plan(layout: SoundSpacesLayout, scene: str) -> FloorPlan:
    with open(layout.floorplan_path(scene)) as handle:
        return FloorPlan.from_json(handle.read())


def in_free_space(plan: FloorPlan, x: float, y: float, tolerance: float = 1e-6) -> bool:
    """Inside a room, or in a doorway's opening (a point on the wall line between two rooms)."""
    if plan.room_at(x, y) >= 0:
        return True
    for door in plan.doors:
        if (
            door.vertical
            and abs(x - door.x0) < tolerance
            and min(door.y0, door.y1) - tolerance <= y <= max(door.y0, door.y1) + tolerance
        ):
            return True
        if (
            not door.vertical
            and abs(y - door.y0) < tolerance
            and min(door.x0, door.x1) - tolerance <= x <= max(door.x0, door.x1) + tolerance
        ):
            return True
    return False


def test_source_path_is_walked_by_arc_length() -> None:
    path = SourcePath(np.array([[0.0, 0.0], [3.0, 0.0], [3.0, 4.0]]))
    assert path.length == pytest.approx(7.0)
    assert path.position(0.0) == (0.0, 0.0)
    assert path.position(1.5) == pytest.approx((1.5, 0.0))
    assert path.position(5.0) == pytest.approx((3.0, 2.0))
    assert path.position(99.0) == pytest.approx((3.0, 4.0))  # clamped at the end


@pytest.mark.parametrize("scene", ["apartment_00", "apartment_01", "apartment_02"])
def test_paths_stay_in_free_space_and_are_long_enough(tiny_world, scene) -> None:
    root, _ = tiny_world
    layout = SoundSpacesLayout(root, "procedural")
    navigation = load_scene_navigation(layout, scene, list(HEADINGS))
    plan = _plan(layout, scene)
    for seed, start in enumerate(navigation.nodes[:6]):
        path = plan_path(navigation, start, 25.0, np.random.default_rng(seed))
        assert path.length >= 25.0
        np.testing.assert_allclose(path.position(0.0), floor_xy(navigation, start))
        samples = [path.position(d) for d in np.linspace(0.0, path.length, 1001)]
        for x, y in samples:
            assert in_free_space(plan, x, y), (scene, start, x, y)
        for p, q in zip(samples[:-1], samples[1:]):
            if plan.room_at(*p) >= 0:
                assert not plan.segment_crosses_wall(p, q), (scene, p, q)
        # consecutive path vertices are graph neighbours (edges are the navigable segments)
        for a, b in zip(path.vertices[:-1], path.vertices[1:]):
            assert math.dist(a, b) == pytest.approx(1.0)


def test_env_moves_distractors_at_the_configured_speed(env_config) -> None:
    settings = EnvSettings.from_config(derive_config(env_config, *MOTION, *NAF_WITHOUT_AUDIO))
    env = make_env(settings)
    env.reset(seed=0)
    simulator = env.simulator
    episode = simulator.episode
    navigation = simulator.navigation(episode.scene)
    positions = [simulator.emitters()]
    for action in [MOVE_FORWARD, TURN_LEFT] * 9 + [MOVE_FORWARD]:
        _, _, terminated, _, _ = env.step(action)
        positions.append(simulator.emitters())
        if terminated:
            break
    assert len(positions) == settings.task.max_episode_steps
    assert all(step[0] == episode.source_nodes[0] for step in positions)  # the target stays at its node
    moving = [step[1] for step in positions]
    assert all(isinstance(p, tuple) and len(p) == 2 for p in moving)
    np.testing.assert_allclose(moving[0], floor_xy(navigation, episode.source_nodes[1]))
    path = simulator._paths[1]
    for t, position in enumerate(moving):  # at arc length SPEED x t seconds along its path
        np.testing.assert_allclose(position, path.position(SPEED * t), atol=1e-12)
    walked = sum(math.dist(a, b) for a, b in zip(moving[:-1], moving[1:]))
    assert walked <= SPEED * (len(moving) - 1) + 1e-9  # straight-line steps never exceed the arc length
    assert walked >= 0.5 * SPEED * (len(moving) - 1)  # and it really moves
    env.close()


def test_all_sources_move_and_paths_match_the_batched_env(env_config) -> None:
    config = derive_config(env_config, *MOTION, "TASK.SOURCE_MOTION.SOURCES", "all", *NAF_WITHOUT_AUDIO)
    settings = EnvSettings.from_config(config)
    env = make_env(settings, 0, 2)
    batched = BatchedVectorEnv(settings, num_envs=2)
    env.reset(seed=5)
    batched.reset(seed=[5, 6])
    episode = env.simulator.episode
    assert batched._current[0].episode_id == episode.episode_id
    for mine, theirs in zip(env.simulator._paths, batched._paths[0]):
        assert mine is not None and theirs is not None
        np.testing.assert_array_equal(mine.vertices, theirs.vertices)
    navigation = env.simulator.navigation(episode.scene)
    for position, node in zip(env.simulator.emitters(), episode.source_nodes):  # t = 0: at the episode's nodes
        np.testing.assert_allclose(position, floor_xy(navigation, node))
    env.step(MOVE_FORWARD)
    for position, path in zip(env.simulator.emitters(), env.simulator._paths):
        np.testing.assert_allclose(position, path.position(SPEED))
    env.close()
    batched.close()


def test_motion_defaults_off_and_bad_settings_name_the_keys(env_config) -> None:
    settings = EnvSettings.from_config(env_config)
    assert settings.task.motion == MotionSettings() and not settings.task.motion.enabled
    with pytest.raises(ValueError, match=r"TASK.SOURCE_MOTION.ENABLED True needs .*WORLD.RIR_SOURCE naf"):
        EnvSettings.from_config(derive_config(env_config, *MOTION))
    with pytest.raises(ValueError, match="TASK.SOURCE_MOTION.SOURCES"):
        EnvSettings.from_config(derive_config(env_config, "TASK.SOURCE_MOTION.SOURCES", "target"))
    with pytest.raises(ValueError, match="TASK.SOURCE_MOTION.SPEED"):
        EnvSettings.from_config(derive_config(env_config, "TASK.SOURCE_MOTION.SPEED", "0"))
