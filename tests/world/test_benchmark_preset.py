"""The benchmark preset at plan level (no build): scene counts and roles, rooms, nodes, furniture, sound bank."""

from __future__ import annotations

import dataclasses
import json

import networkx as nx
import numpy as np
import pytest

from audio_separation.world.episodes import split_scenes
from audio_separation.world.floorplan import FloorPlan, Furniture, Room
from audio_separation.world.navgrid import FURNITURE_CLEARANCE, build_graph, grid_nodes
from audio_separation.world.presets import PRESETS, plan_world
from audio_separation.world.sound_bank import SOUND_BANK_PRESETS, build_sound_bank, preset_counts
from audio_separation.world.views import render_view


@pytest.fixture(scope="module")
def benchmark_plans():
    return plan_world(PRESETS["benchmark"], seed=0)


def test_benchmark_scene_counts_and_roles(benchmark_plans):
    preset = PRESETS["benchmark"]
    assert len(benchmark_plans) == preset.num_scenes >= 24
    roles = split_scenes([plan.name for plan in benchmark_plans], 0, role_counts=preset.scene_roles)
    assert (len(roles["train"]), len(roles["val"]), len(roles["test"])) == (16, 4, 4)
    assert preset.episodes["test"] == preset.episodes["testUnheard"] == 1000


def test_benchmark_apartments_have_4_to_8_rooms_and_40_nodes_on_average(benchmark_plans):
    node_counts = []
    for plan in benchmark_plans:
        assert 4 <= len(plan.rooms) <= 8, plan.name
        points = grid_nodes(plan)
        graph = build_graph(plan, points)
        assert nx.is_connected(graph), plan.name
        rooms_reached = {plan.room_at(*points[node][:2]) for node in graph}
        assert rooms_reached == {room.index for room in plan.rooms}, plan.name
        node_counts.append(len(points))
    assert np.mean(node_counts) >= 40


def test_benchmark_furniture_blocks_nodes_and_edges(benchmark_plans):
    blocked_total = 0
    for plan in benchmark_plans:
        assert plan.furniture, plan.name
        bare = dataclasses.replace(plan, furniture=[])
        furnished, empty = grid_nodes(plan), grid_nodes(bare)
        kept = {tuple(p[:2]) for p in furnished.values()}
        removed = [tuple(p[:2]) for p in empty.values() if tuple(p[:2]) not in kept]
        blocked_total += len(removed)
        for x, y in removed:  # a node disappears only next to furniture, and every such node disappears
            assert plan.blocked_by_furniture(x, y, FURNITURE_CLEARANCE)
        for x, y in kept:
            assert not plan.blocked_by_furniture(x, y, FURNITURE_CLEARANCE)
        graph = build_graph(plan, furnished)
        for u, v in graph.edges():  # no edge passes through (or grazes) a piece
            assert not plan.segment_hits_furniture(tuple(furnished[u][:2]), tuple(furnished[v][:2]))
        for item in plan.furniture:  # inside its room, standing on the floor
            room = plan.rooms[item.room]
            assert room.x0 <= item.x0 < item.x1 <= room.x1 and room.y0 <= item.y0 < item.y1 <= room.y1
    assert blocked_total > 0


def test_plans_without_furniture_serialise_as_before():
    for name in ("tiny", "default"):
        for plan in plan_world(PRESETS[name], seed=0):
            assert not plan.furniture
            assert "furniture" not in json.loads(plan.to_json())
    furnished = plan_world(PRESETS["benchmark"], seed=0)[0]
    assert FloorPlan.from_json(furnished.to_json()) == furnished


def _one_room_plan(furniture: list[Furniture]) -> FloorPlan:
    room = Room(0, "study", 0, 0, 6, 4, 2.8, 0.3, 0.5, (200, 180, 160), (90, 80, 70))
    return FloorPlan("box_room", [room], [], furniture)


def test_views_draw_furniture_at_its_depth():
    # camera at (1, 2) facing east (heading 270); a low box whose west face is at x = 3, a wall at x = 6
    low_box = Furniture("table", 0, 3.0, 1.5, 4.0, 2.5, 0.75, (150, 40, 40))
    bare_rgb, bare_depth = render_view(_one_room_plan([]), 1.0, 2.0, 270, resolution=64, depth_max=10.0)
    rgb, depth = render_view(_one_room_plan([low_box]), 1.0, 2.0, 270, resolution=64, depth_max=10.0)
    centre = 32
    # the row through the box's front face (below the horizon: 1.5 m camera, 0.75 m box): depth 2 m, not 5
    row = next(r for r in range(centre, 64) if abs(depth[r, centre, 0] * 10.0 - 2.0) < 1e-4)
    assert bare_depth[row, centre, 0] * 10.0 > 2.0 + 1e-3
    assert tuple(rgb[row, centre]) != tuple(bare_rgb[row, centre])
    assert rgb[row, centre, 0] > rgb[row, centre, 1]  # reddish: the box's colour
    # above the horizon the wall at 5 m is unchanged (the box is lower than the camera)
    assert np.allclose(depth[:centre], bare_depth[:centre])
    # a tall box hides the wall above the horizon too
    tall = Furniture("wardrobe", 0, 3.0, 1.5, 3.6, 2.5, 2.0, (40, 40, 150))
    _, tall_depth = render_view(_one_room_plan([tall]), 1.0, 2.0, 270, resolution=64, depth_max=10.0)
    assert abs(tall_depth[centre - 4, centre, 0] * 10.0 - 2.0) < 1e-4


def test_furniture_out_of_sight_changes_no_pixel():
    behind = _one_room_plan([Furniture("shelf", 0, 0.1, 0.1, 0.5, 0.5, 1.9, (10, 200, 10))])
    rgb, depth = render_view(behind, 3.0, 2.0, 270, resolution=32)  # facing east; the shelf is in the west
    bare_rgb, bare_depth = render_view(_one_room_plan([]), 3.0, 2.0, 270, resolution=32)
    assert np.array_equal(rgb, bare_rgb) and np.array_equal(depth, bare_depth)


def test_benchmark_sound_bank_counts():
    counts = preset_counts(SOUND_BANK_PRESETS["benchmark"])
    assert counts["target_classes"] >= 12
    assert counts["clips"] >= 300
    for small in ("tiny", "default"):  # the old banks keep their classes
        assert preset_counts(SOUND_BANK_PRESETS[small])["target_classes"] < 12


def test_benchmark_only_classes_synthesise(tmp_path, monkeypatch):
    """One clip of each class the benchmark bank adds (the two new voices and music styles) is real sound."""
    monkeypatch.setitem(
        SOUND_BANK_PRESETS,
        "added",
        {
            "speakers": SOUND_BANK_PRESETS["benchmark"]["speakers"],
            "music_classes": ["musicguitar", "musicwoodwind"],
            "noise_classes": ["noisehum"],
            "heard_clips_per_class": 1,
            "unheard_clips_per_class": 1,
        },
    )
    import soundfile as sf

    content = build_sound_bank(str(tmp_path), preset="added", progress=False, clip_seconds=3.0)
    for name in ("speaker8_0.wav", "speaker9_0.wav", "musicguitar_0.wav", "musicwoodwind_0.wav"):
        assert name in content["heard"]
        audio, rate = sf.read(tmp_path / "heard" / name)
        assert rate == 16000 and np.sqrt(np.mean(audio**2)) > 0.01, name


def test_doors_stay_clear_of_furniture(benchmark_plans):
    for plan in benchmark_plans:
        for door in plan.doors:
            cx, cy = door.center
            assert not plan.blocked_by_furniture(cx, cy, 0.5), (plan.name, door)
