"""Procedural apartment floor plans: axis-aligned rectangular rooms joined by 1 m doorways.

Coordinates are metres in the floor plane of the mesh frame (x right, y "north"); the habitat frame is
(x, z - 1.5, -y) as for MP3D. Room walls lie on integer coordinates, so every 1 m grid cell (centre at
i + 0.5, j + 0.5) belongs to exactly one room and a grid edge crosses a wall only through a doorway.

Acoustic parameters live on the rooms: a reverberation time target per room is turned into a uniform
energy absorption coefficient with Eyring's formula (world/acoustics.py uses it).

Furniture (optional, world/furniture.py places it) is a list of axis-aligned boxes standing on the floor:
it removes navigation nodes and edges (world/navgrid.py) and is drawn in the views (world/views.py); the
acoustics ignore it (shoebox rooms).
"""

from __future__ import annotations

import colorsys
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np

ROOM_KINDS = ("living room", "kitchen", "bedroom", "bathroom", "hallway", "study", "dining room")


@dataclass(frozen=True)
class Room:
    index: int
    kind: str
    x0: int  # west wall (metres)
    y0: int  # south wall
    x1: int  # east wall
    y1: int  # north wall
    height: float  # metres floor to ceiling
    absorption: float  # uniform energy absorption coefficient of all surfaces, in (0, 1)
    target_t60: float  # seconds; the reverberation time the absorption was chosen for (Eyring)
    wall_color: tuple[int, int, int]  # RGB of this room's walls in the rendered views
    floor_color: tuple[int, int, int]  # RGB of this room's floor

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def depth(self) -> int:
        return self.y1 - self.y0

    @property
    def volume(self) -> float:
        return self.width * self.depth * self.height

    @property
    def surface(self) -> float:
        return 2 * (self.width * self.depth + self.width * self.height + self.depth * self.height)

    def contains(self, x: float, y: float, margin: float = 0.0) -> bool:
        return self.x0 + margin <= x <= self.x1 - margin and self.y0 + margin <= y <= self.y1 - margin


@dataclass(frozen=True)
class Door:
    room_a: int
    room_b: int
    x0: float  # the opening is the segment (x0, y0) - (x1, y1) on the shared wall
    y0: float
    x1: float
    y1: float

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2)

    @property
    def vertical(self) -> bool:
        """True when the opening lies on a wall of constant x."""
        return self.x0 == self.x1

    def other(self, room: int) -> int:
        return self.room_b if room == self.room_a else self.room_a


@dataclass(frozen=True)
class Furniture:
    """A box standing on the floor of one room: footprint (x0, y0)-(x1, y1) in metres, height in metres."""

    kind: str
    room: int
    x0: float
    y0: float
    x1: float
    y1: float
    height: float
    color: tuple[int, int, int]  # RGB in the rendered views

    def contains(self, x: float, y: float, margin: float = 0.0) -> bool:
        """Whether (x, y) lies within the footprint grown by margin on every side."""
        return self.x0 - margin <= x <= self.x1 + margin and self.y0 - margin <= y <= self.y1 + margin

    def crosses(self, p: tuple[float, float], q: tuple[float, float], margin: float = 0.0) -> bool:
        """Whether the segment p -> q touches the footprint grown by margin (slab test)."""
        t_low, t_high = 0.0, 1.0
        for start, delta, low, high in (
            (p[0], q[0] - p[0], self.x0 - margin, self.x1 + margin),
            (p[1], q[1] - p[1], self.y0 - margin, self.y1 + margin),
        ):
            if delta == 0:
                if not low <= start <= high:
                    return False
                continue
            t0, t1 = sorted(((low - start) / delta, (high - start) / delta))
            t_low, t_high = max(t_low, t0), min(t_high, t1)
            if t_low > t_high:
                return False
        return True


@dataclass
class FloorPlan:
    name: str
    rooms: list[Room]
    doors: list[Door] = field(default_factory=list)
    furniture: list[Furniture] = field(default_factory=list)

    # ---------------------------------------------------------------- geometry queries
    def room_at(self, x: float, y: float) -> int:
        """Index of the room whose interior holds (x, y), or -1 outside the apartment."""
        for room in self.rooms:
            if room.x0 < x < room.x1 and room.y0 < y < room.y1:
                return room.index
        return -1

    @property
    def bounds(self) -> tuple[int, int, int, int]:
        return (
            min(r.x0 for r in self.rooms),
            min(r.y0 for r in self.rooms),
            max(r.x1 for r in self.rooms),
            max(r.y1 for r in self.rooms),
        )

    def blocked_by_furniture(self, x: float, y: float, margin: float = 0.0) -> bool:
        """Whether (x, y) is within margin of a piece of furniture."""
        return any(item.contains(x, y, margin) for item in self.furniture)

    def segment_hits_furniture(self, p: tuple[float, float], q: tuple[float, float], margin: float = 0.0) -> bool:
        return any(item.crosses(p, q, margin) for item in self.furniture)

    def doors_of(self, room: int) -> list[Door]:
        return [d for d in self.doors if room in (d.room_a, d.room_b)]

    def door_between(self, room_a: int, room_b: int) -> list[Door]:
        return [d for d in self.doors if {d.room_a, d.room_b} == {room_a, room_b}]

    def segment_crosses_wall(self, p: tuple[float, float], q: tuple[float, float]) -> bool:
        """Whether the straight segment p -> q passes through a wall (not through a doorway).

        Walks the segment room by room: it leaves a room either through a doorway into the room on the
        other side, or through a wall.
        """
        room = self.room_at(*p)
        if room < 0:
            return True
        px, py = p
        dx, dy = q[0] - px, q[1] - py
        t = 0.0
        for _ in range(len(self.rooms) + 2):
            r = self.rooms[room]
            t_exit, exit_x, exit_y = _exit_parameter(r, px, py, dx, dy)
            if t_exit >= 1.0:
                return False
            door = self._door_at(room, exit_x, exit_y)
            if door is None:
                return True
            room = door.other(room)
            t = t_exit
            # step just past the wall so room_at finds the next room
            px, py = px + dx * (t + 1e-9), py + dy * (t + 1e-9)
            dx, dy = q[0] - px, q[1] - py
        return True

    def _door_at(self, room: int, x: float, y: float, tolerance: float = 1e-6) -> Door | None:
        for door in self.doors_of(room):
            if (
                door.vertical
                and abs(x - door.x0) < tolerance
                and min(door.y0, door.y1) - tolerance <= y <= max(door.y0, door.y1) + tolerance
            ):
                return door
            if (
                not door.vertical
                and abs(y - door.y0) < tolerance
                and min(door.x0, door.x1) - tolerance <= x <= max(door.x0, door.x1) + tolerance
            ):
                return door
        return None

    def wall_segments(self) -> Iterator[tuple[tuple[float, float], tuple[float, float], int]]:
        """Every solid wall piece as (start, end, room index); door openings are cut out."""
        for room in self.rooms:
            sides = [
                ((room.x0, room.y0), (room.x1, room.y0)),
                ((room.x1, room.y0), (room.x1, room.y1)),
                ((room.x1, room.y1), (room.x0, room.y1)),
                ((room.x0, room.y1), (room.x0, room.y0)),
            ]
            for start, end in sides:
                yield from ((a, b, room.index) for a, b in _cut_doors(start, end, self.doors_of(room.index)))

    def distance_to_nearest_wall(self, x: float, y: float) -> float:
        """Euclidean distance from (x, y) to the nearest solid wall piece."""
        best = math.inf
        for a, b, _ in self.wall_segments():
            best = min(best, _point_segment_distance((x, y), a, b))
        return best

    # ---------------------------------------------------------------- (de)serialisation
    def to_json(self) -> str:
        data = {"name": self.name, "rooms": [asdict(r) for r in self.rooms], "doors": [asdict(d) for d in self.doors]}
        if self.furniture:  # absent when empty, so plans without furniture serialise as before
            data["furniture"] = [asdict(item) for item in self.furniture]
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FloorPlan:
        data = json.loads(text)
        rooms = [
            Room(**{**r, "wall_color": tuple(r["wall_color"]), "floor_color": tuple(r["floor_color"])})
            for r in data["rooms"]
        ]
        furniture = [Furniture(**{**f, "color": tuple(f["color"])}) for f in data.get("furniture", [])]
        return cls(name=data["name"], rooms=rooms, doors=[Door(**d) for d in data["doors"]], furniture=furniture)


def _exit_parameter(room: Room, px: float, py: float, dx: float, dy: float) -> tuple[float, float, float]:
    """Smallest t > 0 where p + t d leaves the room rectangle, and the exit point."""
    candidates = []
    if dx > 0:
        candidates.append((room.x1 - px) / dx)
    elif dx < 0:
        candidates.append((room.x0 - px) / dx)
    if dy > 0:
        candidates.append((room.y1 - py) / dy)
    elif dy < 0:
        candidates.append((room.y0 - py) / dy)
    t = min(candidates) if candidates else math.inf
    return t, px + dx * t, py + dy * t


def _cut_doors(start, end, doors: list[Door]):
    """Split wall side start->end into solid pieces around the door openings lying on it."""
    (sx, sy), (ex, ey) = start, end
    vertical = sx == ex
    lo, hi = (min(sy, ey), max(sy, ey)) if vertical else (min(sx, ex), max(sx, ex))
    gaps = []
    for door in doors:
        if vertical and door.vertical and door.x0 == sx:
            gaps.append((min(door.y0, door.y1), max(door.y0, door.y1)))
        elif not vertical and not door.vertical and door.y0 == sy:
            gaps.append((min(door.x0, door.x1), max(door.x0, door.x1)))
    pieces, cursor = [], lo
    for g0, g1 in sorted(gaps):
        if g0 > cursor:
            pieces.append((cursor, g0))
        cursor = max(cursor, g1)
    if cursor < hi:
        pieces.append((cursor, hi))
    for a, b in pieces:
        yield ((sx, a), (sx, b)) if vertical else ((a, sy), (b, sy))


def _point_segment_distance(p, a, b) -> float:
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / length2))
    return math.hypot(p[0] - (ax + t * dx), p[1] - (ay + t * dy))


# ==================================================================================== generation
def eyring_absorption(t60: float, volume: float, surface: float) -> float:
    """Uniform absorption coefficient giving reverberation time t60 by Eyring: T = 0.161 V / (-S ln(1 - a))."""
    return float(np.clip(1.0 - math.exp(-0.161 * volume / (surface * t60)), 0.01, 0.99))


def eyring_t60(absorption: float, volume: float, surface: float) -> float:
    return 0.161 * volume / (-surface * math.log(1.0 - absorption))


def sabine_t60(absorption: float, volume: float, surface: float) -> float:
    return 0.161 * volume / (surface * absorption)


def generate_floorplan(
    name: str,
    rng: np.random.Generator,
    width_range: tuple[int, int],
    depth_range: tuple[int, int],
    num_rooms: tuple[int, int],
    min_room_side: int,
    t60_targets: list[float],
) -> FloorPlan:
    """An apartment: a bounding rectangle split into rooms (BSP), one corner room removed for a
    non-rectangular outline when enough rooms remain, doors along a spanning tree of adjacent rooms.

    t60_targets: reverberation times to give the rooms (cycled), so a world can be made to span a range.
    """
    for _attempt in range(100):
        width = int(rng.integers(width_range[0], width_range[1] + 1))
        depth = int(rng.integers(depth_range[0], depth_range[1] + 1))
        wanted = int(rng.integers(num_rooms[0], num_rooms[1] + 1))
        rects = _split(rng, [(0, 0, width, depth)], wanted, min_room_side)
        if len(rects) >= 3:
            rects = _remove_corner_room(rng, rects, width, depth)
        adjacency = _adjacency(rects)
        if not _connected(len(rects), adjacency):
            continue
        break
    else:  # pragma: no cover - the split always yields a connected layout in practice
        raise RuntimeError(f"could not generate a connected floor plan for {name}")

    rooms = []
    for index, (x0, y0, x1, y1) in enumerate(rects):
        height = float(np.round(rng.uniform(2.4, 3.2), 2))
        volume = (x1 - x0) * (y1 - y0) * height
        surface = 2 * ((x1 - x0) * (y1 - y0) + ((x1 - x0) + (y1 - y0)) * height)
        target = float(t60_targets[index % len(t60_targets)])
        hue = float(rng.uniform(0, 1))
        wall = tuple(
            int(255 * c)
            for c in colorsys.hsv_to_rgb(hue, float(rng.uniform(0.35, 0.8)), float(rng.uniform(0.55, 0.95)))
        )
        floor = tuple(int(255 * c) for c in colorsys.hsv_to_rgb((hue + 0.5) % 1.0, 0.3, float(rng.uniform(0.25, 0.5))))
        rooms.append(
            Room(
                index=index,
                kind=ROOM_KINDS[int(rng.integers(len(ROOM_KINDS)))],
                x0=x0,
                y0=y0,
                x1=x1,
                y1=y1,
                height=height,
                absorption=eyring_absorption(target, volume, surface),
                target_t60=target,
                wall_color=wall,
                floor_color=floor,
            )
        )
    doors = _place_doors(rng, rects, adjacency)
    return FloorPlan(name=name, rooms=rooms, doors=doors)


def _split(rng, rects, wanted, min_side):
    rects = list(rects)
    while len(rects) < wanted:
        order = sorted(range(len(rects)), key=lambda i: -(rects[i][2] - rects[i][0]) * (rects[i][3] - rects[i][1]))
        for i in order:
            x0, y0, x1, y1 = rects[i]
            w, d = x1 - x0, y1 - y0
            options = []
            if w >= 2 * min_side:
                options.append("x")
            if d >= 2 * min_side:
                options.append("y")
            if not options:
                continue
            axis = (
                options[int(rng.integers(len(options)))]
                if len(options) > 1 and w != d
                else ("x" if w >= d and "x" in options else options[0])
            )
            if axis == "x":
                cut = int(rng.integers(x0 + min_side, x1 - min_side + 1))
                rects[i : i + 1] = [(x0, y0, cut, y1), (cut, y0, x1, y1)]
            else:
                cut = int(rng.integers(y0 + min_side, y1 - min_side + 1))
                rects[i : i + 1] = [(x0, y0, x1, cut), (x0, cut, x1, y1)]
            break
        else:
            break
    return rects


def _remove_corner_room(rng, rects, width, depth):
    corners = {(0, 0), (width, 0), (0, depth), (width, depth)}
    candidates = [
        i
        for i, (x0, y0, x1, y1) in enumerate(rects)
        if {(x0, y0), (x1, y0), (x0, y1), (x1, y1)} & corners and (x1 - x0) * (y1 - y0) < 0.4 * width * depth
    ]
    rng.shuffle(candidates)
    for i in candidates:
        rest = rects[:i] + rects[i + 1 :]
        if _connected(len(rest), _adjacency(rest)):
            return rest
    return rects


def _shared_wall(a, b):
    """The shared wall segment of two rectangles as ('x', x, lo, hi) / ('y', y, lo, hi), or None."""
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    if ax1 == bx0 or bx1 == ax0:
        x = ax1 if ax1 == bx0 else ax0
        lo, hi = max(ay0, by0), min(ay1, by1)
        if hi - lo >= 1:
            return ("x", x, lo, hi)
    if ay1 == by0 or by1 == ay0:
        y = ay1 if ay1 == by0 else ay0
        lo, hi = max(ax0, bx0), min(ax1, bx1)
        if hi - lo >= 1:
            return ("y", y, lo, hi)
    return None


def _adjacency(rects):
    return {
        (i, j): wall
        for i in range(len(rects))
        for j in range(i + 1, len(rects))
        if (wall := _shared_wall(rects[i], rects[j]))
    }


def _connected(count, adjacency):
    if count == 0:
        return False
    seen, stack = {0}, [0]
    while stack:
        i = stack.pop()
        for a, b in adjacency:
            for u, v in ((a, b), (b, a)):
                if u == i and v not in seen:
                    seen.add(v)
                    stack.append(v)
    return len(seen) == count


def _place_doors(rng, rects, adjacency):
    pairs = sorted(adjacency)
    order = [pairs[i] for i in rng.permutation(len(pairs))]
    parent = list(range(len(rects)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    chosen = []
    for a, b in order:
        if find(a) != find(b):
            parent[find(a)] = find(b)
            chosen.append((a, b))
        elif rng.uniform() < 0.25:  # an occasional loop, as real apartments have
            chosen.append((a, b))
    doors = []
    for a, b in sorted(chosen):
        axis, coord, lo, hi = adjacency[(a, b)]
        start = int(rng.integers(lo, hi))  # a 1 m opening aligned with the grid cells
        if axis == "x":
            doors.append(
                Door(room_a=a, room_b=b, x0=float(coord), y0=float(start), x1=float(coord), y1=float(start + 1))
            )
        else:
            doors.append(
                Door(room_a=a, room_b=b, x0=float(start), y0=float(coord), x1=float(start + 1), y1=float(coord))
            )
    return doors
