"""Furniture for procedural apartments: boxes against the walls (and tables in the open) chosen by room kind.

    furnish(plan, rng) -> FloorPlan with plan.furniture filled

Each room gets a few pieces from a catalogue for its kind (a bedroom a bed and a wardrobe, a kitchen a
counter and a table, ...), placed flush against a wall at a random offset (tables in the room's middle
area). A piece is refused when it overlaps another, stands in front of a doorway, would leave the room
with fewer than MIN_ROOM_NODES navigation nodes, or would split the navigation graph in two; so the
furnished grid stays one connected component that reaches every room.

The boxes matter for navigation (world/navgrid.py removes nodes and edges near them) and for the views
(world/views.py draws them); the acoustic model ignores them (shoebox rooms, world/acoustics.py).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, replace

import networkx as nx
import numpy as np

from audio_separation.world.floorplan import FloorPlan, Furniture, Room
from audio_separation.world.navgrid import build_graph, grid_nodes

DOOR_CLEARANCE = 1.0  # metres kept free of furniture in front of each doorway, on both sides
GAP = 0.3  # metres between two pieces
WALL_GAP = 0.05  # metres between a piece and the wall it stands against
MIN_ROOM_NODES = 2  # a room keeps at least this many navigation nodes
TRIES_PER_PIECE = 25


@dataclass(frozen=True)
class PieceKind:
    """A kind of furniture: footprint ranges (length along the wall, depth away from it), height, hues."""

    name: str
    length: tuple[float, float]
    depth: tuple[float, float]
    height: float
    hue: tuple[float, float]  # HSV hue range of its colour
    against_wall: bool = True


_PIECES = {
    "bed": PieceKind("bed", (1.4, 1.8), (1.9, 2.1), 0.55, (0.55, 0.7)),
    "wardrobe": PieceKind("wardrobe", (1.0, 1.8), (0.55, 0.65), 2.0, (0.07, 0.1)),
    "sofa": PieceKind("sofa", (1.8, 2.4), (0.85, 0.95), 0.85, (0.0, 1.0)),
    "table": PieceKind("table", (1.2, 1.6), (0.8, 1.0), 0.75, (0.06, 0.1), against_wall=False),
    "counter": PieceKind("counter", (1.6, 2.8), (0.6, 0.65), 0.9, (0.0, 0.15)),
    "shelf": PieceKind("shelf", (0.8, 1.4), (0.35, 0.4), 1.9, (0.06, 0.1)),
    "desk": PieceKind("desk", (1.2, 1.5), (0.65, 0.75), 0.75, (0.06, 0.12)),
    "bathtub": PieceKind("bathtub", (1.5, 1.7), (0.7, 0.75), 0.55, (0.5, 0.6)),
    "cabinet": PieceKind("cabinet", (0.6, 1.0), (0.4, 0.5), 0.9, (0.05, 0.12)),
}

# Pieces tried per room kind, most important first (a small room keeps only the first ones).
CATALOGUE: dict[str, tuple[str, ...]] = {
    "living room": ("sofa", "shelf", "table", "cabinet"),
    "kitchen": ("counter", "table", "cabinet"),
    "bedroom": ("bed", "wardrobe", "desk"),
    "bathroom": ("bathtub", "cabinet"),
    "hallway": ("cabinet", "shelf"),
    "study": ("desk", "shelf", "cabinet"),
    "dining room": ("table", "cabinet", "shelf"),
}


def furnish(plan: FloorPlan, rng: np.random.Generator, area_per_piece: float = 5.0) -> FloorPlan:
    """The plan with furniture: per room up to 1 + area // area_per_piece pieces of its kind's catalogue."""
    placed: list[Furniture] = []
    graph = build_graph(plan, grid_nodes(plan))
    if not nx.is_connected(graph):
        raise ValueError(f"floor plan {plan.name!r}: its navigation graph is split before any furniture")
    for room in sorted(plan.rooms, key=lambda r: r.index):
        wanted = 1 + int(room.width * room.depth // area_per_piece)
        for kind in CATALOGUE[room.kind][:wanted]:
            piece = _place(plan, room, _PIECES[kind], placed, rng)
            if piece is not None:
                placed.append(piece)
    return replace(plan, furniture=placed)


def _place(
    plan: FloorPlan, room: Room, kind: PieceKind, placed: list[Furniture], rng: np.random.Generator
) -> Furniture | None:
    colour = _colour(kind, rng)
    for _ in range(TRIES_PER_PIECE):
        box = _candidate_box(room, kind, rng)
        if box is None:
            continue
        piece = Furniture(kind.name, room.index, *box, height=kind.height, color=colour)
        if _acceptable(plan, room, piece, placed):
            return piece
    return None


def _candidate_box(room: Room, kind: PieceKind, rng: np.random.Generator) -> tuple[float, ...] | None:
    """(x0, y0, x1, y1) of a footprint inside the room, on a 5 cm grid, or None when it does not fit."""
    length = _snap(rng.uniform(*kind.length))
    depth = _snap(rng.uniform(*kind.depth))
    wall = int(rng.integers(4))  # 0 south, 1 east, 2 north, 3 west
    along_x = wall in (0, 2)
    span_x, span_y = (length, depth) if along_x else (depth, length)
    if span_x > room.width - 2 * WALL_GAP or span_y > room.depth - 2 * WALL_GAP:
        return None
    if kind.against_wall:
        x_low, x_high = room.x0 + WALL_GAP, room.x1 - WALL_GAP - span_x
        y_low, y_high = room.y0 + WALL_GAP, room.y1 - WALL_GAP - span_y
        x0 = _snap(rng.uniform(x_low, x_high)) if along_x else (x_low if wall == 3 else x_high)
        y0 = _snap(rng.uniform(y_low, y_high)) if not along_x else (y_low if wall == 0 else y_high)
    else:  # free-standing: at least 0.6 m from every wall so it can be walked around
        x_low, x_high = room.x0 + 0.6, room.x1 - 0.6 - span_x
        y_low, y_high = room.y0 + 0.6, room.y1 - 0.6 - span_y
        if x_low > x_high or y_low > y_high:
            return None
        x0, y0 = _snap(rng.uniform(x_low, x_high)), _snap(rng.uniform(y_low, y_high))
    x0 = min(max(x0, room.x0 + WALL_GAP), room.x1 - WALL_GAP - span_x)
    y0 = min(max(y0, room.y0 + WALL_GAP), room.y1 - WALL_GAP - span_y)
    return (round(x0, 2), round(y0, 2), round(x0 + span_x, 2), round(y0 + span_y, 2))


def _acceptable(plan: FloorPlan, room: Room, piece: Furniture, placed: list[Furniture]) -> bool:
    for other in placed:
        if _overlap(piece, other, GAP):
            return False
    for door in plan.doors_of(room.index):
        cx, cy = door.center
        half = 0.5 + DOOR_CLEARANCE
        zone = (cx - half, cy - DOOR_CLEARANCE, cx + half, cy + DOOR_CLEARANCE)
        if door.vertical:
            zone = (cx - DOOR_CLEARANCE, cy - half, cx + DOOR_CLEARANCE, cy + half)
        if piece.x0 < zone[2] and zone[0] < piece.x1 and piece.y0 < zone[3] and zone[1] < piece.y1:
            return False
    trial = replace(plan, furniture=[*placed, piece])
    points = grid_nodes(trial)
    in_room = [node for node, point in points.items() if trial.room_at(point[0], point[1]) == room.index]
    if len(in_room) < MIN_ROOM_NODES:
        return False
    graph = build_graph(trial, points)
    rooms_reached = {trial.room_at(point[0], point[1]) for point in points.values()}
    return nx.is_connected(graph) and rooms_reached == {r.index for r in plan.rooms}


def _overlap(a: Furniture, b: Furniture, gap: float) -> bool:
    return a.x0 < b.x1 + gap and b.x0 < a.x1 + gap and a.y0 < b.y1 + gap and b.y0 < a.y1 + gap


def _colour(kind: PieceKind, rng: np.random.Generator) -> tuple[int, int, int]:
    hue = float(rng.uniform(*kind.hue))
    red, green, blue = colorsys.hsv_to_rgb(hue, float(rng.uniform(0.3, 0.65)), float(rng.uniform(0.35, 0.75)))
    return (int(255 * red), int(255 * green), int(255 * blue))


def _snap(value: float, step: float = 0.05) -> float:
    return round(round(value / step) * step, 2)
