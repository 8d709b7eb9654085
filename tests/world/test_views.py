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


# ------------------------------------------------------------------------------------------------
# layout of the image, doorways seen from inside, clipping, scene rendering of a generated plan

RED_FLOOR, GREEN_FLOOR = (150, 50, 40), (40, 140, 60)


@pytest.fixture(scope="module")
def coloured_plan():
    # the same two rooms as `plan`, with floors of distinct hues and the door on the grid (y in [1, 2])
    red = Room(0, "a", 0, 0, 4, 4, 2.8, 0.3, 0.4, (220, 30, 30), RED_FLOOR)
    blue = Room(1, "b", 4, 0, 8, 4, 2.8, 0.3, 0.4, (30, 30, 220), GREEN_FLOOR)
    return FloorPlan("coloured", [red, blue], [Door(0, 1, 4.0, 1.0, 4.0, 2.0)])


def _row_of_height(height: float, distance: float, resolution: int) -> int:
    """Image row that sees `height` metres above the floor at z-depth `distance` (camera at 1.5 m, 90 deg fov)."""
    focal = resolution / 2
    return int(np.floor(resolution / 2 - (height - 1.5) / distance * focal))


def test_even_resolution_centre_columns_see_the_wall_ahead(plan):
    resolution = 128
    _, depth = render_view(plan, 2.0, 2.5, 0, resolution=resolution, depth_max=DEPTH_MAX)
    # one pixel-worth of tolerance: how much the depth of a frontal wall could change across a pixel
    pixel = 1.5 / (resolution / 2) / DEPTH_MAX
    for column in (resolution // 2 - 1, resolution // 2):
        assert depth[resolution // 2, column, 0] == pytest.approx(1.5 / DEPTH_MAX, abs=pixel)
    # z-depth, not Euclidean distance: every wall pixel of a frontal wall has the same depth
    row = depth[resolution // 2, :, 0]
    np.testing.assert_allclose(row, 1.5 / DEPTH_MAX, atol=1e-6)


def test_image_layout_ceiling_above_wall_above_floor(coloured_plan):
    rgb, depth = render_view(coloured_plan, 2.0, 2.0, 0, resolution=64, depth_max=DEPTH_MAX)
    top, middle, bottom = rgb[0, 32].astype(int), rgb[32, 32].astype(int), rgb[63, 32].astype(int)
    assert abs(top[0] - top[1]) < 10 and abs(top[1] - top[2]) < 10 and top.min() > 150  # light grey ceiling
    assert middle[0] > 2 * middle[2]  # red wall at eye height
    assert bottom[0] > bottom[1] > 0 and bottom[0] < 200  # red-brown floor of room 0, not the ceiling grey
    # the floor's depth grows towards the horizon, the ceiling's too (both end at the wall)
    column = depth[:, 32, 0]
    assert np.all(np.diff(column[40:]) <= 1e-6)  # bottom rows: nearer floor
    assert np.all(np.diff(column[:20]) >= -1e-6)  # top rows: nearer ceiling


def test_columns_run_left_to_right(coloured_plan):
    # at (3.5, 1) facing north: the doorway on the east wall (x = 4, y in [1, 2]) is at the right edge
    rgb, depth = render_view(coloured_plan, 3.5, 1.0, 0, resolution=64, depth_max=DEPTH_MAX)
    right, left = rgb[32, 62].astype(int), rgb[32, 1].astype(int)
    assert right[2] > right[0]  # blue wall of room 1 through the doorway
    assert left[0] > left[2]
    # z-depth: through the doorway the ray ends on room 1's north wall (y = 4), 3 m ahead along the axis
    assert depth[32, 62, 0] == pytest.approx(3.0 / DEPTH_MAX, abs=1e-6)


def test_doorway_lintel_and_next_rooms_floor(coloured_plan):
    resolution = 128
    rgb, depth = render_view(coloured_plan, 2.0, 1.5, 270, resolution=resolution, depth_max=DEPTH_MAX)
    centre = resolution // 2
    # the doorway is 2 m ahead: above 2.1 m the wall continues (the lintel, red, at depth 2)
    lintel_row = _row_of_height(2.4, 2.0, resolution)
    assert depth[lintel_row, centre, 0] == pytest.approx(2.0 / DEPTH_MAX, abs=1e-6)
    assert rgb[lintel_row, centre, 0] > 2 * rgb[lintel_row, centre, 2]
    # below it the view goes on into the blue room, whose far wall is 6 m ahead
    assert depth[centre, centre, 0] == pytest.approx(6.0 / DEPTH_MAX, abs=1e-6)
    # the floor beyond the doorway (3 m ahead) is room 1's green floor; nearer (1.8 m) room 0's red floor
    far_floor = rgb[_row_of_height(0.0, 3.0, resolution), centre].astype(int)
    near_floor = rgb[_row_of_height(0.0, 1.8, resolution), centre].astype(int)
    assert far_floor[1] > far_floor[0]
    assert near_floor[0] > near_floor[1]
    # the through-door columns are deeper than the walls either side of the doorway
    assert depth[centre, 0, 0] < depth[centre, centre, 0] > depth[centre, -1, 0]


def test_depth_is_clipped_at_depth_max():
    long_room = Room(0, "hallway", 0, 0, 20, 2, 2.6, 0.3, 0.4, (200, 200, 120), (80, 70, 60))
    plan = FloorPlan("long", [long_room])
    _, depth = render_view(plan, 1.0, 1.0, 270, resolution=32, depth_max=5.0)
    assert depth[16, 16, 0] == 1.0
    assert depth.max() <= 1.0 and depth.min() >= 0.0


def test_camera_outside_the_plan_fails_loudly(plan):
    with pytest.raises(ValueError, match="not inside any room"):
        render_view(plan, 9.0, 2.0, 0)
    with pytest.raises(ValueError, match="ceiling"):
        render_view(plan, 2.0, 2.0, 0, camera_height=3.0)


def test_generated_scene_renders_every_node_and_heading_quickly():
    import time

    from audio_separation.world.floorplan import generate_floorplan
    from audio_separation.world.navgrid import grid_nodes

    plan = generate_floorplan("generated", np.random.default_rng(3), (6, 9), (5, 8), (3, 5), 2, [0.4, 0.7])
    points = grid_nodes(plan)
    headings = [0, 90, 180, 270]
    started = time.perf_counter()
    observations = render_scene_observations(plan, points, headings, resolution=128, depth_max=DEPTH_MAX)
    elapsed = time.perf_counter() - started
    assert set(observations) == {(node, heading) for node in points for heading in headings}
    for views in observations.values():
        assert views["rgb"].shape == (128, 128, 3) and views["depth"].shape == (128, 128, 1)
        assert 0.0 < views["depth"].min() and views["depth"].max() <= 1.0
    assert elapsed < 10.0  # about 0.3 s on 2 CPU cores; a loose bound against a pathological slowdown
