"""Graph navigation: the forward rule, turns, and node/heading lookup from episode poses.

Conventions (habitat frame, y up): heading h in degrees faces (-sin h, -cos h) in the X-Z plane, so
heading 0 faces -Z and turning left adds 90 degrees. MOVE_FORWARD goes to the neighbour whose direction
is within +-45 degrees of the facing direction (exact diagonals included; the smallest angular difference
wins, then the smallest node index); without one the agent stays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from audio_separation.world.soundspaces import MissingSceneError, SoundSpacesLayout, read_graph

MOVE_FORWARD, TURN_LEFT, TURN_RIGHT = 0, 1, 2
ACTION_NAMES = ("MOVE_FORWARD", "TURN_LEFT", "TURN_RIGHT")
TURN_DEGREES = 90
FORWARD_TOLERANCE_DEGREES = 45.0
_ANGLE_EPSILON = 1e-6  # degrees; makes exact diagonals count as within +-45


def facing_direction(heading: float) -> np.ndarray:
    """Unit facing vector (x, z) in the habitat X-Z plane for a heading in degrees."""
    radians = math.radians(heading)
    return np.array([-math.sin(radians), -math.cos(radians)])


def direction_heading(dx: float, dz: float) -> float:
    """The heading in degrees [0, 360) that faces the X-Z direction (dx, dz) (inverse of facing_direction)."""
    return math.degrees(math.atan2(-dx, -dz)) % 360.0


def angle_difference(first: float, second: float) -> float:
    """Signed smallest difference first - second in degrees, in (-180, 180]."""
    difference = (first - second) % 360.0
    return difference - 360.0 if difference > 180.0 else difference


def forward_neighbour(graph: nx.Graph, node: int, heading: float) -> int:
    """The node MOVE_FORWARD reaches from `node` facing `heading` (the node itself when none qualifies)."""
    x, _, z = graph.nodes[node]["point"]
    best: tuple[float, int] | None = None
    for neighbour in graph.neighbors(node):
        if neighbour == node:
            continue
        nx_, _, nz = graph.nodes[neighbour]["point"]
        difference = abs(angle_difference(direction_heading(nx_ - x, nz - z), heading))
        if difference <= FORWARD_TOLERANCE_DEGREES + _ANGLE_EPSILON:
            candidate = (difference, int(neighbour))
            if best is None or candidate < best:
                best = candidate
    return node if best is None else best[1]


def turn(heading: int, action: int) -> int:
    """Heading after TURN_LEFT (+90) or TURN_RIGHT (-90), in [0, 360)."""
    if action == TURN_LEFT:
        return int((heading + TURN_DEGREES) % 360)
    if action == TURN_RIGHT:
        return int((heading - TURN_DEGREES) % 360)
    raise ValueError(f"not a turn action: {action}")


def heading_of_rotation(rotation: list[float]) -> float:
    """Heading in degrees [0, 360) of a quaternion [x, y, z, w] rotating about +y."""
    if len(rotation) != 4:
        raise ValueError(f"start_rotation must be a quaternion [x, y, z, w], got {rotation!r}")
    x, y, z, w = (float(v) for v in rotation)
    return math.degrees(2.0 * math.atan2(y, w)) % 360.0


def nearest_heading(heading: float, headings: list[int], tolerance: float = 1.0) -> int:
    """The allowed heading closest to `heading`; ValueError if none is within tolerance degrees."""
    best = min(headings, key=lambda allowed: abs(angle_difference(heading, allowed)))
    if abs(angle_difference(heading, best)) > tolerance:
        raise ValueError(f"heading {heading:.2f} degrees is not one of the grid headings {list(headings)}")
    return int(best)


@dataclass
class SceneNavigation:
    """A scene's graph with a precomputed transition table (node, heading, action) -> (node, heading)."""

    graph: nx.Graph
    headings: list[int]
    nodes: list[int] = field(init=False)
    points: np.ndarray = field(init=False)  # (nodes, 3) habitat-frame positions, in `nodes` order
    _forward: dict[tuple[int, int], int] = field(init=False, repr=False)
    _index: dict[int, int] = field(init=False, repr=False)
    _distances: dict[int, dict[int, float]] = field(init=False, repr=False)  # target -> node -> metres

    def __post_init__(self) -> None:
        self.nodes = sorted(int(node) for node in self.graph.nodes())
        self.points = np.array([self.graph.nodes[node]["point"] for node in self.nodes], dtype=np.float64)
        self._index = {node: i for i, node in enumerate(self.nodes)}
        self._forward = {
            (node, heading): int(forward_neighbour(self.graph, node, heading))
            for node in self.nodes
            for heading in self.headings
        }
        self._distances = {}

    def step(self, node: int, heading: int, action: int) -> tuple[int, int]:
        """The pose after an action."""
        if action == MOVE_FORWARD:
            return self._forward[(node, heading)], heading
        return node, turn(heading, action)

    def nearest_node(self, position: list[float], tolerance: float) -> int:
        """The node at `position` (habitat frame); ValueError when the closest is further than tolerance."""
        distances = np.linalg.norm(self.points - np.asarray(position, dtype=np.float64)[None, :], axis=1)
        index = int(np.argmin(distances))
        if distances[index] > tolerance:
            raise ValueError(
                f"position {list(position)} is {distances[index]:.3f} m from the nearest node {self.nodes[index]} (tolerance {tolerance} m)"
            )
        return self.nodes[index]

    def has_node(self, node: int) -> bool:
        return node in self.graph

    def point(self, node: int) -> np.ndarray:
        """Habitat-frame position of a node."""
        return self.points[self._index[node]]

    def geodesic_distance(self, node: int, target: int) -> float:
        """Shortest-path length in metres (edge 'weight') from node to target; inf when unreachable. The
        distances to a target are computed once (networkx Dijkstra from the target) on its first use."""
        if target not in self._distances:
            lengths = nx.single_source_dijkstra_path_length(self.graph, target, weight="weight")
            self._distances[target] = {int(key): float(value) for key, value in lengths.items()}
        return self._distances[target].get(int(node), math.inf)


def load_scene_navigation(layout: SoundSpacesLayout, scene: str, headings: list[int]) -> SceneNavigation:
    """The navigation of a scene read from its graph.pkl; a missing scene names the path and the world."""
    path = layout.graph_path(scene)
    try:
        graph = read_graph(path)
    except MissingSceneError:
        raise MissingSceneError(
            f"scene {scene!r} not found: no graph at {path} (WORLD.DATA_ROOT={layout.root}, WORLD.DATASET={layout.dataset})"
        ) from None
    return SceneNavigation(graph, list(headings))
