"""Egocentric RGB and depth views of a procedural floor plan, rendered by ray casting.

What the agent "sees" at a node and heading, in the layout of habitat's RGB and depth sensors: a pinhole
camera at the node's (x, y), ``camera_height`` metres above the floor, looking horizontally along the
heading (habitat convention: heading h faces (-sin h, cos h) in floor coordinates, so heading 0 faces
north (+y) and heading 90 faces west), 90 degree horizontal field of view, square images.

The renderer is 2.5-D ("Wolfenstein" style): walls are vertical, floor and ceiling horizontal, and one
ray per image column is walked through the rooms in the floor plane. A ray leaves its room rectangle
either through a doorway, into the room on the other side, or through a wall. Each pixel of the column
then sees the first of: the floor or ceiling of the room the ray is in, the lintel above a doorway
(walls continue above ``DOOR_HEIGHT``), or the wall that ends the ray.

Furniture (FloorPlan.furniture) is drawn as solid boxes standing on the floor: the face a ray enters and,
for boxes lower than the camera, the top; a box hides whatever lies behind it. A plan without furniture
renders exactly as before furniture existed.

Approximations: furniture is plain boxes (a table is a block), no lighting model (shading is a fixed darkening with distance
and a fixed shade per wall orientation), zero-thickness walls, procedural textures (skirting board, panel
lines every metre, floor tiles, door frames) chosen only to make views informative about place and
direction. Everything is deterministic: the same plan gives byte-identical arrays.

Depth is habitat's: distance along the optical axis (z-depth), clipped to ``depth_max`` and divided by it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from audio_separation.world.floorplan import FloorPlan

CAMERA_HEIGHT = 1.5  # metres above the floor; the same as the ears (navgrid.EAR_HEIGHT)
HORIZONTAL_FOV = 90.0  # degrees, as habitat's default RGB/depth sensors
DOOR_HEIGHT = 2.1  # metres; the wall continues above a doorway (the lintel)
CEILING_COLOR = (226, 226, 222)  # light grey, the same in every room
SKIRTING_HEIGHT = 0.1  # metres; a darker band at the foot of every wall
FRAME_WIDTH = 0.07  # metres; width of the dark frame around every doorway
FLOOR_TILE = 0.5  # metres; side of the floor's checker tiles

_SURFACE_WALL, _SURFACE_FLOOR, _SURFACE_CEILING = 0, 1, 2


@dataclass(frozen=True)
class _PlanArrays:
    """Per-room quantities of a floor plan as arrays indexed by room index, built once per plan."""

    bounds: np.ndarray  # (rooms, 4) float64: x0, y0, x1, y1
    heights: np.ndarray  # (rooms,) float64
    wall_colors: np.ndarray  # (rooms, 3) float64
    floor_colors: np.ndarray  # (rooms, 3) float64
    doors: tuple[tuple[bool, float, float, float, int, int], ...]  # (vertical, line, lo, hi, room_a, room_b)
    furniture: np.ndarray  # (pieces, 5) float64: x0, y0, x1, y1, height
    furniture_colors: np.ndarray  # (pieces, 3) float64


def _plan_arrays(plan: FloorPlan) -> _PlanArrays:
    if not plan.rooms:
        raise ValueError(f"floor plan {plan.name!r} has no rooms to render")
    indices = sorted(room.index for room in plan.rooms)
    if indices != list(range(len(plan.rooms))):
        raise ValueError(f"floor plan {plan.name!r}: room indices must be 0..{len(plan.rooms) - 1}, got {indices}")
    rooms = sorted(plan.rooms, key=lambda room: room.index)
    doors = []
    for door in plan.doors:
        if door.vertical:
            doors.append((True, float(door.x0), min(door.y0, door.y1), max(door.y0, door.y1), door.room_a, door.room_b))
        elif door.y0 == door.y1:
            doors.append(
                (False, float(door.y0), min(door.x0, door.x1), max(door.x0, door.x1), door.room_a, door.room_b)
            )
        else:
            raise ValueError(f"floor plan {plan.name!r}: door {door} is not axis-aligned")
    return _PlanArrays(
        bounds=np.array([[r.x0, r.y0, r.x1, r.y1] for r in rooms], dtype=np.float64),
        heights=np.array([r.height for r in rooms], dtype=np.float64),
        wall_colors=np.array([r.wall_color for r in rooms], dtype=np.float64),
        floor_colors=np.array([r.floor_color for r in rooms], dtype=np.float64),
        doors=tuple(doors),
        furniture=np.array([[f.x0, f.y0, f.x1, f.y1, f.height] for f in plan.furniture], dtype=np.float64).reshape(
            -1, 5
        ),
        furniture_colors=np.array([f.color for f in plan.furniture], dtype=np.float64).reshape(-1, 3),
    )


def _axes(heading: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """(forward, right) unit vectors in floor coordinates; exact for multiples of 90 degrees."""
    radians = math.radians(heading)
    snap = lambda v: float(round(v)) if abs(v - round(v)) < 1e-12 else v  # noqa: E731 - cos(90 deg) is 6e-17
    sin, cos = snap(math.sin(radians)), snap(math.cos(radians))
    return (-sin, cos), (cos, sin)


@dataclass
class _Rays:
    """Where each column's ray goes: its segments room by room and the wall that stops it."""

    segment_start: list[np.ndarray]  # per segment k: (W,) t where the ray enters its k-th room (inf: none)
    segment_end: list[np.ndarray]  # (W,) t where it leaves it
    segment_room: list[np.ndarray]  # (W,) room index, -1 where the column has no k-th segment
    entry_orientation: list[np.ndarray]  # (W,) for k >= 1: 0 the doorway is on a wall of constant x, 1 of constant y
    entry_along: list[np.ndarray]  # (W,) coordinate along that wall of the doorway crossing
    end_t: np.ndarray  # (W,) t (= z-depth) of the wall that stops the ray
    end_room: np.ndarray  # (W,) room whose wall it is
    end_orientation: np.ndarray  # (W,) 0 constant-x wall, 1 constant-y wall
    end_along: np.ndarray  # (W,) coordinate along the wall of the hit
    end_jamb: np.ndarray  # (W,) bool: the hit is within FRAME_WIDTH of a doorway on the same wall


def _cast_rays(arrays: _PlanArrays, room: int, cx: float, cy: float, dx: np.ndarray, dy: np.ndarray) -> _Rays:
    """Walk every column's ray p(t) = c + t d through the rooms (vectorised over columns).

    d has unit component along the optical axis, so t is the z-depth of the point at p(t).
    """
    width = dx.shape[0]
    with np.errstate(divide="ignore"):
        inv_dx = np.where(dx != 0, 1.0 / np.where(dx != 0, dx, 1.0), np.inf)
        inv_dy = np.where(dy != 0, 1.0 / np.where(dy != 0, dy, 1.0), np.inf)
    current = np.full(width, room, dtype=np.int64)
    start = np.zeros(width)
    active = np.ones(width, dtype=bool)
    rays = _Rays(
        [],
        [],
        [],
        [],
        [],
        np.zeros(width),
        np.zeros(width, dtype=np.int64),
        np.zeros(width, dtype=np.int8),
        np.zeros(width),
        np.zeros(width, dtype=bool),
    )
    entry_orientation = np.zeros(width, dtype=np.int8)
    entry_along = np.zeros(width)
    for _step in range(len(arrays.heights) + 2):
        x0, y0, x1, y1 = arrays.bounds[current].T
        wall_x = np.where(dx > 0, x1, x0)
        wall_y = np.where(dy > 0, y1, y0)
        tx = np.where(dx != 0, (wall_x - cx) * inv_dx, np.inf)
        ty = np.where(dy != 0, (wall_y - cy) * inv_dy, np.inf)
        through_x = tx <= ty  # leaves through a wall of constant x
        t_exit = np.minimum(tx, ty)
        exit_x = np.where(through_x, wall_x, cx + t_exit * dx)
        exit_y = np.where(through_x, cy + t_exit * dy, wall_y)
        along = np.where(through_x, exit_y, exit_x)
        line = np.where(through_x, wall_x, wall_y)

        rays.segment_start.append(np.where(active, start, np.inf))
        rays.segment_end.append(np.where(active, t_exit, np.inf))
        rays.segment_room.append(np.where(active, current, -1))
        rays.entry_orientation.append(entry_orientation)
        rays.entry_along.append(entry_along)

        following = np.full(width, -1, dtype=np.int64)
        for vertical, door_line, lo, hi, room_a, room_b in arrays.doors:
            on_door = (
                active
                & (through_x == vertical)
                & (np.abs(line - door_line) < 1e-6)
                & (along >= lo - 1e-9)
                & (along <= hi + 1e-9)
            )
            following = np.where(on_door & (current == room_a), room_b, following)
            following = np.where(on_door & (current == room_b), room_a, following)
        passing = following >= 0
        stopped = active & ~passing
        rays.end_t = np.where(stopped, t_exit, rays.end_t)
        rays.end_room = np.where(stopped, current, rays.end_room)
        rays.end_orientation = np.where(stopped, np.where(through_x, 0, 1), rays.end_orientation).astype(np.int8)
        rays.end_along = np.where(stopped, along, rays.end_along)
        for vertical, door_line, lo, hi, room_a, room_b in arrays.doors:
            beside = (
                stopped
                & (through_x == vertical)
                & (np.abs(line - door_line) < 1e-6)
                & ((current == room_a) | (current == room_b))
                & (((along > lo - FRAME_WIDTH) & (along < lo)) | ((along > hi) & (along < hi + FRAME_WIDTH)))
            )
            rays.end_jamb |= beside
        entry_orientation = np.where(through_x, 0, 1).astype(np.int8)
        entry_along = along
        current = np.where(passing, following, current)
        start = np.where(passing, t_exit, start)
        active = passing
        if not active.any():
            break
    else:  # pragma: no cover - a ray crosses each room at most once (rooms are convex and disjoint)
        raise RuntimeError("ray casting did not terminate; are rooms overlapping?")
    return rays


def _render(
    arrays: _PlanArrays,
    x: float,
    y: float,
    heading: float,
    resolution: int,
    depth_max: float,
    camera_height: float,
    room: int,
) -> tuple[np.ndarray, np.ndarray]:
    focal = (resolution / 2.0) / math.tan(math.radians(HORIZONTAL_FOV) / 2.0)
    offsets = (np.arange(resolution) + 0.5 - resolution / 2.0) / focal  # camera-plane coordinate of pixel centres
    (forward_x, forward_y), (right_x, right_y) = _axes(heading)
    dx = forward_x + offsets * right_x  # (W,) column ray directions, left to right
    dy = forward_y + offsets * right_y
    up = -offsets[:, None]  # (H, 1) rows top to bottom: positive is above the horizon
    rays = _cast_rays(arrays, room, x, y, dx, dy)

    shape = (resolution, resolution)
    with np.errstate(divide="ignore"):
        floor_t = np.where(up < 0, camera_height / np.where(up < 0, -up, 1.0), np.inf)  # (H, 1)
        inverse_up = np.where(up > 0, 1.0 / np.where(up > 0, up, 1.0), np.inf)  # (H, 1)
    hit = np.zeros(shape, dtype=bool)
    depth = np.broadcast_to(rays.end_t, shape).copy()
    surface = np.full(shape, _SURFACE_WALL, dtype=np.int8)
    room_of = np.broadcast_to(rays.end_room, shape).copy()
    orientation = np.broadcast_to(rays.end_orientation, shape).copy()
    along = np.broadcast_to(rays.end_along, shape).copy()
    frame = np.zeros(shape, dtype=bool)  # doorway frame: the strip under a lintel and beside a doorway

    for k, (start, end, segment_room) in enumerate(zip(rays.segment_start, rays.segment_end, rays.segment_room)):
        valid = segment_room >= 0
        if not valid.any():
            break
        safe_room = np.where(valid, segment_room, 0)
        room_height = arrays.heights[safe_room]
        if k >= 1:  # the ray enters this room through a doorway at t = start: the lintel is above DOOR_HEIGHT
            previous = rays.segment_room[k - 1]
            top = np.minimum(DOOR_HEIGHT, np.minimum(arrays.heights[np.where(valid, previous, 0)], room_height))
            height_at_door = camera_height + up * np.where(valid, start, 0.0)
            lintel = ~hit & valid & (height_at_door > top)
            depth = np.where(lintel, start, depth)
            surface = np.where(lintel, _SURFACE_WALL, surface)
            room_of = np.where(lintel, previous, room_of)
            orientation = np.where(lintel, rays.entry_orientation[k], orientation)
            along = np.where(lintel, rays.entry_along[k], along)
            frame |= lintel & (height_at_door < top + FRAME_WIDTH)
            hit |= lintel
        floor = ~hit & valid & (floor_t >= start) & (floor_t < end)
        ceiling_t = (room_height - camera_height) * inverse_up  # (H, W)
        ceiling = ~hit & valid & (ceiling_t >= start) & (ceiling_t < end)
        depth = np.where(floor, floor_t, np.where(ceiling, ceiling_t, depth))
        surface = np.where(floor, _SURFACE_FLOOR, np.where(ceiling, _SURFACE_CEILING, surface))
        room_of = np.where(floor | ceiling, segment_room, room_of)
        hit |= floor | ceiling

    final_wall = ~hit
    height = camera_height + up * depth  # (H, W) height above the floor of what each pixel sees
    frame |= final_wall & rays.end_jamb[None, :] & (height < DOOR_HEIGHT + FRAME_WIDTH)
    rgb = _shade(arrays, x, y, dx, dy, up, focal, depth, surface, room_of, orientation, along, frame, height)
    if len(arrays.furniture):
        rgb, depth = _draw_furniture(arrays, x, y, dx, dy, up, camera_height, rgb, depth)
    normalised = (np.clip(depth, 0.0, depth_max) / depth_max).astype(np.float32)[:, :, None]
    return rgb, normalised


def _shade(
    arrays: _PlanArrays,
    x: float,
    y: float,
    dx: np.ndarray,
    dy: np.ndarray,
    up: np.ndarray,
    focal: float,
    depth: np.ndarray,
    surface: np.ndarray,
    room_of: np.ndarray,
    orientation: np.ndarray,
    along: np.ndarray,
    frame: np.ndarray,
    height: np.ndarray,
) -> np.ndarray:
    """Colours of every pixel from what it sees: a fixed darkening with distance and procedural textures."""
    distance_shade = 0.35 + 0.65 * np.exp(-depth / 8.0)
    is_wall = surface == _SURFACE_WALL
    is_floor = surface == _SURFACE_FLOOR

    # walls: room colour, x-facing walls a little darker, panel lines every metre, skirting, door frames
    wall = arrays.wall_colors[room_of] * np.where(orientation == 0, 0.82, 1.0)[..., None]
    normal_component = np.abs(np.where(orientation == 0, dx[None, :], dy[None, :]))
    footprint = depth / (np.maximum(normal_component, 1e-6) * focal)  # metres along the wall per pixel column
    half_line = np.clip(0.5 * footprint, 0.012, 0.08)
    panel_line = np.abs(along - np.round(along)) < half_line
    skirting = height < np.maximum(SKIRTING_HEIGHT, depth / focal)  # at least one pixel tall
    wall_factor = np.where(panel_line, 0.72, 1.0) * np.where(skirting, 0.55, 1.0) * np.where(frame, 0.45, 1.0)
    wall = wall * wall_factor[..., None]

    # floor: the colour of the room the floor point lies in, faint checker tiles fading with distance
    floor_x = x + depth * dx[None, :]
    floor_y = y + depth * dy[None, :]
    tiles = (np.floor(floor_x / FLOOR_TILE) + np.floor(floor_y / FLOOR_TILE)) % 2
    floor = (
        arrays.floor_colors[room_of] * (1.0 + np.where(tiles == 0, 1.0, -1.0) * 0.08 * np.exp(-depth / 4.0))[..., None]
    )

    ceiling = np.array(CEILING_COLOR, dtype=np.float64) * (0.8 + 0.2 * np.exp(-depth / 6.0))[..., None]
    colour = np.where(is_wall[..., None], wall, np.where(is_floor[..., None], floor, ceiling))
    colour = colour * np.where(is_wall | is_floor, distance_shade, 1.0)[..., None]
    return np.clip(np.rint(colour), 0, 255).astype(np.uint8)


def _draw_furniture(
    arrays: _PlanArrays,
    x: float,
    y: float,
    dx: np.ndarray,
    dy: np.ndarray,
    up: np.ndarray,
    camera_height: float,
    rgb: np.ndarray,
    depth: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Paint every box nearer than what a pixel sees: its entry face, or its top when below the camera."""
    rgb = rgb.astype(np.float64)
    depth = depth.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        for (x0, y0, x1, y1, box_height), colour in zip(arrays.furniture, arrays.furniture_colors):
            t_near, t_far, x_face = _slab(x, y, dx, dy, x0, y0, x1, y1)  # (W,) each
            valid = (t_near < t_far) & (t_near > 0)
            height_at_face = camera_height + up * t_near  # (H, W)
            front = valid & (height_at_face >= 0) & (height_at_face <= box_height)
            top_t = np.where(up < 0, (camera_height - box_height) / np.where(up < 0, -up, 1.0), np.inf)  # (H, 1)
            top = valid & ~front & (box_height < camera_height) & (top_t >= t_near) & (top_t <= t_far)
            box_depth = np.where(front, t_near, np.where(top, top_t, np.inf))
            nearer = box_depth < depth
            if not nearer.any():
                continue
            face_shade = np.where(x_face, 0.8, 0.95)[None, :] * np.where(height_at_face > box_height - 0.04, 0.7, 1.0)
            shade = np.where(top, 1.12, face_shade) * (0.35 + 0.65 * np.exp(-box_depth / 8.0))
            rgb = np.where(nearer[..., None], colour * shade[..., None], rgb)
            depth = np.where(nearer, box_depth, depth)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8), depth


def _slab(x, y, dx, dy, x0, y0, x1, y1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column: where the ray enters and leaves the box footprint, and whether it enters a face of constant x."""
    big = np.inf
    tx0 = np.where(dx != 0, (x0 - x) / np.where(dx != 0, dx, 1.0), np.where((x0 <= x) & (x <= x1), -big, big))
    tx1 = np.where(dx != 0, (x1 - x) / np.where(dx != 0, dx, 1.0), np.where((x0 <= x) & (x <= x1), big, big))
    ty0 = np.where(dy != 0, (y0 - y) / np.where(dy != 0, dy, 1.0), np.where((y0 <= y) & (y <= y1), -big, big))
    ty1 = np.where(dy != 0, (y1 - y) / np.where(dy != 0, dy, 1.0), np.where((y0 <= y) & (y <= y1), big, big))
    enter_x, leave_x = np.minimum(tx0, tx1), np.maximum(tx0, tx1)
    enter_y, leave_y = np.minimum(ty0, ty1), np.maximum(ty0, ty1)
    return np.maximum(enter_x, enter_y), np.minimum(leave_x, leave_y), enter_x >= enter_y


def _camera_room(plan: FloorPlan, arrays: _PlanArrays, x: float, y: float, camera_height: float) -> int:
    room = plan.room_at(x, y)
    if room < 0:
        raise ValueError(f"floor plan {plan.name!r}: camera position ({x}, {y}) is not inside any room")
    if not 0.0 < camera_height < arrays.heights[room]:
        raise ValueError(
            f"floor plan {plan.name!r}: camera height {camera_height} m is not below room {room}'s "
            f"ceiling ({arrays.heights[room]} m)"
        )
    return room


def render_view(
    plan: FloorPlan,
    x: float,
    y: float,
    heading: float,
    resolution: int = 128,
    depth_max: float = 10.0,
    camera_height: float = CAMERA_HEIGHT,
) -> tuple[np.ndarray, np.ndarray]:
    """(rgb uint8 HxWx3, depth float32 HxWx1 in [0, 1]) seen from (x, y) facing ``heading`` degrees."""
    if resolution < 1 or depth_max <= 0:
        raise ValueError(f"resolution must be >= 1 and depth_max > 0, got {resolution} and {depth_max}")
    arrays = _plan_arrays(plan)
    room = _camera_room(plan, arrays, float(x), float(y), camera_height)
    return _render(
        arrays, float(x), float(y), float(heading), int(resolution), float(depth_max), float(camera_height), room
    )


def render_scene_observations(
    plan: FloorPlan, points: dict[int, np.ndarray], headings: list[int], resolution: int = 128, depth_max: float = 10.0
) -> dict[tuple[int, int], dict[str, np.ndarray]]:
    """{(node, heading): {'rgb': ..., 'depth': ...}} for every node (points: node -> mesh-frame (x, y, z)) and heading.

    The camera is CAMERA_HEIGHT above the floor at every node (procedural scenes have a flat floor at z = 0).
    """
    if resolution < 1 or depth_max <= 0:
        raise ValueError(f"resolution must be >= 1 and depth_max > 0, got {resolution} and {depth_max}")
    arrays = _plan_arrays(plan)
    observations: dict[tuple[int, int], dict[str, np.ndarray]] = {}
    for node in sorted(points):
        x, y = float(points[node][0]), float(points[node][1])
        room = _camera_room(plan, arrays, x, y, CAMERA_HEIGHT)
        for heading in headings:
            rgb, depth = _render(arrays, x, y, float(heading), int(resolution), float(depth_max), CAMERA_HEIGHT, room)
            observations[(node, heading)] = {"rgb": rgb, "depth": depth}
    return observations
