"""The forward rule, turns and pose lookups on known grids."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from audio_separation.env.navigation import (
    MOVE_FORWARD,
    TURN_LEFT,
    TURN_RIGHT,
    SceneNavigation,
    facing_direction,
    forward_neighbour,
    heading_of_rotation,
    nearest_heading,
    turn,
)
from audio_separation.world.acoustics import facing_vectors
from audio_separation.world.soundspaces import mesh_to_habitat


def grid_graph(diagonals: bool = False) -> nx.Graph:
    """3 x 3 grid, 1 m spacing, habitat frame: node = 3 * row + column at x = column, z = row."""
    graph = nx.Graph()
    for row in range(3):
        for column in range(3):
            graph.add_node(3 * row + column, point=(float(column), 0.0, float(row)))
    for row in range(3):
        for column in range(3):
            node = 3 * row + column
            if column < 2:
                graph.add_edge(node, node + 1, weight=1.0)
            if row < 2:
                graph.add_edge(node, node + 3, weight=1.0)
            if diagonals and column < 2 and row < 2:
                graph.add_edge(node, node + 4, weight=math.sqrt(2))
    return graph


def test_forward_rule_on_a_grid() -> None:
    graph = grid_graph()
    # heading 0 faces -Z (row - 1), 90 faces -X (column - 1), 180 faces +Z, 270 faces +X
    assert forward_neighbour(graph, 4, 0) == 1
    assert forward_neighbour(graph, 4, 90) == 3
    assert forward_neighbour(graph, 4, 180) == 7
    assert forward_neighbour(graph, 4, 270) == 5
    # at an edge there is no neighbour ahead: stay
    assert forward_neighbour(graph, 0, 0) == 0
    assert forward_neighbour(graph, 0, 90) == 0
    assert forward_neighbour(graph, 8, 180) == 8


def test_forward_rule_diagonals_and_preference() -> None:
    graph = grid_graph(diagonals=True)
    # from node 0 (x 0, z 0) facing +Z (180): straight ahead (node 3) beats the diagonal (node 4)
    assert forward_neighbour(graph, 0, 180) == 3
    graph.remove_edge(0, 3)
    # the exact diagonal at 45 degrees counts as ahead
    assert forward_neighbour(graph, 0, 180) == 4
    assert forward_neighbour(graph, 0, 270) == 1
    graph.remove_edge(0, 1)
    assert forward_neighbour(graph, 0, 270) == 4  # +X with the diagonal at -45 degrees
    assert forward_neighbour(graph, 0, 0) == 0  # nothing within 45 degrees of -Z
    # a neighbour just beyond 45 degrees is not ahead
    far = nx.Graph()
    far.add_node(0, point=(0.0, 0.0, 0.0))
    far.add_node(1, point=(1.01, 0.0, 1.0))  # 45.3 degrees from +Z
    far.add_edge(0, 1)
    assert forward_neighbour(far, 0, 180) == 0


def test_turns_and_transition_table() -> None:
    assert turn(0, TURN_LEFT) == 90 and turn(270, TURN_LEFT) == 0
    assert turn(0, TURN_RIGHT) == 270 and turn(90, TURN_RIGHT) == 0
    with pytest.raises(ValueError):
        turn(0, MOVE_FORWARD)
    navigation = SceneNavigation(grid_graph(), [0, 90, 180, 270])
    assert navigation.step(4, 0, MOVE_FORWARD) == (1, 0)
    assert navigation.step(4, 0, TURN_LEFT) == (4, 90)
    assert navigation.step(4, 90, MOVE_FORWARD) == (3, 90)
    assert navigation.step(0, 0, MOVE_FORWARD) == (0, 0)


def test_heading_convention_matches_the_world() -> None:
    """The env's facing direction is the mesh-frame facing of acoustics/views mapped to habitat X-Z."""
    for heading in (0, 90, 180, 270, 45):
        forward_mesh, _ = facing_vectors(heading)
        mapped = mesh_to_habitat(forward_mesh) - mesh_to_habitat((0.0, 0.0, 0.0))
        np.testing.assert_allclose(facing_direction(heading), [mapped[0], mapped[2]], atol=1e-12)


def test_rotation_quaternion_and_nearest_heading() -> None:
    for heading in (0, 90, 180, 270):
        half = math.radians(heading) / 2
        quaternion = [0.0, math.sin(half), 0.0, math.cos(half)]
        assert nearest_heading(heading_of_rotation(quaternion), [0, 90, 180, 270]) == heading
    with pytest.raises(ValueError, match="not one of the grid headings"):
        nearest_heading(45.0, [0, 90, 180, 270])


def test_nearest_node_tolerance() -> None:
    navigation = SceneNavigation(grid_graph(), [0, 90, 180, 270])
    assert navigation.nearest_node([1.02, 0.0, 2.0], tolerance=0.1) == 7
    with pytest.raises(ValueError, match="nearest node"):
        navigation.nearest_node([0.5, 0.0, 0.5], tolerance=0.1)
