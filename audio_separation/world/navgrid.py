"""The navigation grid of a procedural scene: one node per 1 m cell centre, 4-connected, no edge through a wall.

Furniture (FloorPlan.furniture) removes the nodes within FURNITURE_CLEARANCE of it and the edges passing
that close; a plan without furniture gives the same grid as before furniture existed.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np

from audio_separation.world.floorplan import FloorPlan
from audio_separation.world.soundspaces import mesh_to_habitat

EAR_HEIGHT = 1.5  # metres above the floor of every node (mesh-frame z); habitat y = z - 1.5 = 0
FURNITURE_CLEARANCE = 0.15  # metres: a node or an edge this close to furniture is not navigable (about an agent radius)


def grid_nodes(plan: FloorPlan, grid_size: float = 1.0) -> dict[int, np.ndarray]:
    """node index -> mesh-frame point (x, y, EAR_HEIGHT), numbered row by row (south to north, west to east)."""
    x_min, y_min, x_max, y_max = plan.bounds
    points: dict[int, np.ndarray] = {}
    rows = int(round((y_max - y_min) / grid_size))
    columns = int(round((x_max - x_min) / grid_size))
    for row in range(rows):
        for column in range(columns):
            x = x_min + (column + 0.5) * grid_size
            y = y_min + (row + 0.5) * grid_size
            if plan.room_at(x, y) >= 0 and not plan.blocked_by_furniture(x, y, FURNITURE_CLEARANCE):
                points[len(points)] = np.array([x, y, EAR_HEIGHT])
    return points


def build_graph(plan: FloorPlan, points: dict[int, np.ndarray], grid_size: float = 1.0) -> nx.Graph:
    """4-connected graph over grid nodes; an edge exists only if its segment crosses no wall.

    Node attribute 'point' is the habitat-frame position (SoundSpaces convention); edge 'weight' is metres.
    """
    graph = nx.Graph()
    for node in sorted(points):
        graph.add_node(
            node, point=tuple(float(v) for v in mesh_to_habitat(points[node])), room=plan.room_at(*points[node][:2])
        )
    by_cell = {(round(p[0] / grid_size, 3), round(p[1] / grid_size, 3)): node for node, p in points.items()}
    for node, p in sorted(points.items()):
        for dx, dy in ((1, 0), (0, 1)):
            neighbour = by_cell.get((round(p[0] / grid_size + dx, 3), round(p[1] / grid_size + dy, 3)))
            if neighbour is None:
                continue
            q = points[neighbour]
            segment = ((p[0], p[1]), (q[0], q[1]))
            if not plan.segment_crosses_wall(*segment) and not plan.segment_hits_furniture(
                *segment, FURNITURE_CLEARANCE
            ):
                graph.add_edge(node, neighbour, weight=float(math.hypot(q[0] - p[0], q[1] - p[1])))
    return graph
