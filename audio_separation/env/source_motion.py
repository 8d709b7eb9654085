"""Moving sources (TASK.SOURCE_MOTION): each moving source walks a path through the scene's free space.

A path is a chain of shortest paths on the navigation graph: from the source's episode node to a goal
node drawn uniformly among the nodes reachable from it, then on to the next goal, and so on until it is
long enough for the episode. Graph edges are navigable segments (in a generated world 1 m grid edges
that cross walls only through doorways), so every point of the polyline, and every position
interpolated on it, lies in free space. The source moves along it at TASK.SOURCE_MOTION.SPEED m/s:
observation t hears the source at arc length SPEED x t x (1-s step), the position at the start of the
step's chunk (updated once per 1-s chunk; t = 0 is the episode's source node). Positions are floor
(x, y) in the frame of points.txt (x, -z of the habitat frame), the coordinates the NAF answers at.

Which sources move (TASK.SOURCE_MOTION.SOURCES): "distractors" (every source but the target: the task's
target, its node in the infos and the geodesic distance stay what they are) or "all". The path of a
source depends only on (TASK.SOURCE_MOTION.SEED, episode id, source index), so the sync, grouped and
batched envs move it the same way.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import networkx as nx
import numpy as np

from audio_separation.common.seeding import derive_seed
from audio_separation.env.navigation import SceneNavigation

MOVING_SOURCES = ("distractors", "all")


@dataclass(frozen=True)
class MotionSettings:
    """TASK.SOURCE_MOTION (config/default.py documents the keys)."""

    enabled: bool = False  # TASK.SOURCE_MOTION.ENABLED
    speed: float = 0.5  # TASK.SOURCE_MOTION.SPEED: metres per second along the path
    sources: str = "distractors"  # TASK.SOURCE_MOTION.SOURCES: which sources move
    seed: int = 0  # TASK.SOURCE_MOTION.SEED: base seed of the paths

    def __post_init__(self) -> None:
        if self.sources not in MOVING_SOURCES:
            raise ValueError(f"TASK.SOURCE_MOTION.SOURCES must be one of {list(MOVING_SOURCES)}, got {self.sources!r}")
        if not (np.isfinite(self.speed) and self.speed > 0):
            raise ValueError(f"TASK.SOURCE_MOTION.SPEED must be > 0 metres per second, got {self.speed!r}")

    @classmethod
    def from_config(cls, config) -> MotionSettings:
        motion = config.TASK.SOURCE_MOTION
        return cls(
            enabled=bool(motion.ENABLED),
            speed=float(motion.SPEED),
            sources=str(motion.SOURCES).lower(),
            seed=int(motion.SEED),
        )

    def moves(self, source_index: int) -> bool:
        return self.enabled and (self.sources == "all" or source_index > 0)


class SourcePath:
    """A polyline of floor points (x, y), walked by arc length."""

    def __init__(self, vertices: np.ndarray) -> None:
        self.vertices = np.asarray(vertices, dtype=np.float64).reshape(-1, 2)
        steps = np.linalg.norm(np.diff(self.vertices, axis=0), axis=1)
        self.cumulative = np.concatenate([[0.0], np.cumsum(steps)])

    @property
    def length(self) -> float:
        return float(self.cumulative[-1])

    def position(self, distance: float) -> tuple[float, float]:
        """The point at arc length `distance` (clamped to the path's ends)."""
        distance = min(max(float(distance), 0.0), self.length)
        segment = int(np.searchsorted(self.cumulative, distance, side="right")) - 1
        if segment >= len(self.vertices) - 1:
            x, y = self.vertices[-1]
            return float(x), float(y)
        span = self.cumulative[segment + 1] - self.cumulative[segment]
        fraction = 0.0 if span <= 0 else (distance - self.cumulative[segment]) / span
        x, y = self.vertices[segment] + fraction * (self.vertices[segment + 1] - self.vertices[segment])
        return float(x), float(y)


def floor_xy(navigation: SceneNavigation, node: int) -> np.ndarray:
    """A node's floor position (x, y) in the points.txt frame: (x, -z) of its habitat-frame point."""
    point = navigation.point(node)
    return np.array([point[0], -point[2]], dtype=np.float64)


def plan_path(navigation: SceneNavigation, start: int, length: float, rng: np.random.Generator) -> SourcePath:
    """A walk of at least `length` metres from node `start` through random goals (module docstring); a
    node without neighbours gives a path of one point (the source stays)."""
    graph = navigation.graph
    reachable = sorted(int(node) for node in nx.node_connected_component(graph, start))
    nodes, walked, here = [int(start)], 0.0, int(start)
    while walked < length and len(reachable) > 1:
        goal = here
        while goal == here:
            goal = reachable[int(rng.integers(len(reachable)))]
        leg = nx.shortest_path(graph, here, goal, weight="weight")
        for previous, following in zip(leg[:-1], leg[1:]):
            walked += float(np.linalg.norm(floor_xy(navigation, following) - floor_xy(navigation, previous)))
        nodes.extend(int(node) for node in leg[1:])
        here = goal
    return SourcePath(np.stack([floor_xy(navigation, node) for node in nodes]))


def plan_episode_motion(
    motion: MotionSettings,
    navigation: SceneNavigation,
    episode_id: str,
    source_nodes: list[int],
    episode_seconds: float,
) -> list[SourcePath | None]:
    """Per source its path (None: it stays at its node), long enough for episode_seconds of motion."""
    if not motion.enabled:
        return [None] * len(source_nodes)
    episode_key = zlib.crc32(str(episode_id).encode("utf-8"))
    paths: list[SourcePath | None] = []
    for index, node in enumerate(source_nodes):
        if not motion.moves(index):
            paths.append(None)
            continue
        rng = np.random.default_rng(derive_seed(motion.seed, episode_key, index))
        paths.append(plan_path(navigation, int(node), motion.speed * episode_seconds, rng))
    return paths


def emitter_at(path: SourcePath | None, node: int, speed: float, seconds: float) -> int | tuple[float, float]:
    """What a source is at `seconds` into the episode: its node (static), or its floor (x, y) on the path."""
    if path is None:
        return int(node)
    return path.position(speed * seconds)
