"""Egocentric views: shapes, habitat depth convention, heading convention, doors, determinism."""
from __future__ import annotations

import numpy as np
import pytest

from audio_separation.world.floorplan import Door, FloorPlan, Room
from audio_separation.world.views import render_scene_observations, render_view

DEPTH_MAX = 10.0


@pytest.fixture(scope="module")
def plan():
    # room 0 [0,4]x[0,4] red walls; room 1 [4,8]x[0,4] blue walls; a door on x=4 between y=1.5 and 2.5
    red = Room(0, "a", 0, 0, 4, 4, 2.8, 0.3, 0.4, (220, 30, 30), (60, 60, 60))
    blue = Room(1, "b", 4, 0, 8, 4, 2.8, 0.3, 0.4, (30, 30, 220), (90, 90, 90))
    return FloorPlan("views", [red, blue], [Door(0, 1, 4.0, 1.5, 4.0, 2.5)])


def test_shapes_dtypes_ranges(plan):
    rgb, depth = render_view(plan, 2.0, 2.0, 0, resolution=64, depth_max=DEPTH_MAX)
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
    assert depth.shape == (64, 64, 1) and depth.dtype == np.float32
    assert 0.0 <= depth.min() and depth.max() <= 1.0


def test_depth_to_a_wall_ahead_and_heading_convention(plan):
    # standing at (2, 2.5): heading 0 faces north (+y) -> wall at y=4 is 1.5 m ahead
    _, depth = render_view(plan, 2.0, 2.5, 0, resolution=65, depth_max=DEPTH_MAX)
    assert depth[32, 32, 0] == pytest.approx(1.5 / DEPTH_MAX, abs=0.01)
    # heading 180 faces south: wall at y=0 is 2.5 m ahead
    _, depth_south = render_view(plan, 2.0, 2.5, 180, resolution=65, depth_max=DEPTH_MAX)
    assert depth_south[32, 32, 0] == pytest.approx(2.5 / DEPTH_MAX, abs=0.01)
    # heading 90 faces west: wall at x=0 is 2 m ahead
    _, depth_west = render_view(plan, 2.0, 2.5, 90, resolution=65, depth_max=DEPTH_MAX)
    assert depth_west[32, 32, 0] == pytest.approx(2.0 / DEPTH_MAX, abs=0.01)


def test_symmetric_room_gives_symmetric_depth(plan):
    _, depth = render_view(plan, 2.0, 1.0, 0, resolution=64, depth_max=DEPTH_MAX)
    np.testing.assert_allclose(depth[:, :, 0], depth[:, ::-1, 0], atol=0.02)


def test_looking_through_the_door_shows_the_next_room(plan):
    # heading 270 faces east (+x): straight through the doorway into the blue room
    rgb, depth = render_view(plan, 2.0, 2.0, 270, resolution=65, depth_max=DEPTH_MAX)
    centre = rgb[32, 32].astype(int)
    assert centre[2] > centre[0]  # blue wall of room 1 seen through the door
    assert depth[32, 32, 0] == pytest.approx(6.0 / DEPTH_MAX, abs=0.01)
    # from further south the same heading hits room 0's red wall at x=4
    rgb_wall, depth_wall = render_view(plan, 2.0, 0.5, 270, resolution=65, depth_max=DEPTH_MAX)
    assert rgb_wall[32, 32, 0] > rgb_wall[32, 32, 2]
    assert depth_wall[32, 32, 0] == pytest.approx(2.0 / DEPTH_MAX, abs=0.01)


def test_scene_observations_are_deterministic(plan):
    points = {0: np.array([1.5, 1.5, 1.5]), 1: np.array([5.5, 2.5, 1.5])}
    first = render_scene_observations(plan, points, [0, 90, 180, 270], resolution=32, depth_max=DEPTH_MAX)
    second = render_scene_observations(plan, points, [0, 90, 180, 270], resolution=32, depth_max=DEPTH_MAX)
    assert set(first) == {(n, h) for n in points for h in (0, 90, 180, 270)}
    for key in first:
        np.testing.assert_array_equal(first[key]["rgb"], second[key]["rgb"])
        np.testing.assert_array_equal(first[key]["depth"], second[key]["depth"])
    assert not np.array_equal(first[(0, 0)]["rgb"], first[(0, 180)]["rgb"])
