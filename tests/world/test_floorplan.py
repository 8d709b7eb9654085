"""Floor plans and the navigation grid: outline, doors, and no graph edge through a wall."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from audio_separation.world.builder import PRESETS, plan_world
from audio_separation.world.floorplan import Door, FloorPlan, Room, generate_floorplan
from audio_separation.world.navgrid import build_graph, grid_nodes
from audio_separation.world.soundspaces import habitat_to_mesh


def _room(index, x0, y0, x1, y1):
    return Room(index, "room", x0, y0, x1, y1, 2.5, 0.3, 0.4, (200, 0, 0), (50, 50, 50))


@pytest.fixture()
def two_rooms():
    # room 0: [0,3]x[0,3], room 1: [3,6]x[0,3], door on x=3 between y=1 and y=2
    return FloorPlan("two", [_room(0, 0, 0, 3, 3), _room(1, 3, 0, 6, 3)], [Door(0, 1, 3.0, 1.0, 3.0, 2.0)])


def test_segment_crosses_wall_only_outside_doorways(two_rooms):
    assert not two_rooms.segment_crosses_wall((2.5, 1.5), (3.5, 1.5))  # through the door
    assert two_rooms.segment_crosses_wall((2.5, 0.5), (3.5, 0.5))  # through the wall below it
    assert not two_rooms.segment_crosses_wall((0.5, 0.5), (2.5, 2.5))  # inside one room
    assert two_rooms.segment_crosses_wall((2.5, 2.5), (3.5, 2.5))


def test_graph_on_hand_made_plan(two_rooms):
    points = grid_nodes(two_rooms)
    graph = build_graph(two_rooms, points)
    assert len(points) == 18
    crossing = [(u, v) for u, v in graph.edges() if (points[u][0] < 3) != (points[v][0] < 3)]
    assert len(crossing) == 1  # exactly the edge through the 1 m door
    u, v = crossing[0]
    assert points[u][1] == points[v][1] == 1.5
    assert nx.is_connected(graph)


def _inside_or_in_doorway(plan: FloorPlan, x: float, y: float) -> bool:
    if plan.room_at(x, y) >= 0:
        return True
    for door in plan.doors:  # on a wall line: allowed only within an opening
        if door.vertical and abs(x - door.x0) < 1e-6 and min(door.y0, door.y1) < y < max(door.y0, door.y1):
            return True
        if not door.vertical and abs(y - door.y0) < 1e-6 and min(door.x0, door.x1) < x < max(door.x0, door.x1):
            return True
    return False


@pytest.mark.parametrize("preset", ["tiny", "default"])
def test_no_edge_crosses_a_wall_and_graph_connected(preset):
    for plan in plan_world(PRESETS[preset], seed=3):
        points = grid_nodes(plan)
        graph = build_graph(plan, points)
        assert nx.is_connected(graph), plan.name
        for u, v in graph.edges():
            # an independent check: sample the edge densely; every sample is inside a room or a doorway
            p, q = points[u][:2], points[v][:2]
            for t in np.linspace(0, 1, 101):
                x, y = p + t * (q - p)
                assert _inside_or_in_doorway(plan, x, y), (plan.name, u, v)
        # the graph's 'point' is the habitat frame of points.txt's mesh frame
        for node, data in graph.nodes(data=True):
            np.testing.assert_allclose(habitat_to_mesh(data["point"]), points[node])


def test_default_world_has_non_rectangular_apartments_and_rooms_that_differ():
    plans = plan_world(PRESETS["default"], seed=0)
    non_rectangular = 0
    for plan in plans:
        x0, y0, x1, y1 = plan.bounds
        area = sum(r.width * r.depth for r in plan.rooms)
        non_rectangular += area < (x1 - x0) * (y1 - y0)
        assert len(plan.rooms) >= 2
        assert len(plan.doors) >= len(plan.rooms) - 1
    assert non_rectangular >= len(plans) // 2
    t60s = [room.target_t60 for plan in plans for room in plan.rooms]
    assert min(t60s) <= 0.25 and max(t60s) >= 0.8


def test_floorplan_json_round_trip():
    plan = generate_floorplan("x", np.random.default_rng(0), (5, 7), (4, 5), (3, 4), 2, [0.3, 0.6])
    assert FloorPlan.from_json(plan.to_json()) == plan
