"""World presets: how many apartments, how big, how reverberant, which sound bank, how many episodes.

PRESETS maps a name to a WorldPreset (register a new one by adding an entry); plan_world turns a preset
and a seed into the world's floor plans, deterministically (per-scene streams seeded from (seed, index)).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from audio_separation.world.floorplan import FloorPlan, eyring_t60, generate_floorplan
from audio_separation.world.furniture import furnish


@dataclass(frozen=True)
class WorldPreset:
    num_scenes: int
    width_range: tuple[int, int]  # apartment bounding box, metres
    depth_range: tuple[int, int]
    rooms_range: tuple[int, int]
    min_room_side: int
    t60_range: tuple[float, float]  # reverberation times spread over all rooms of the world (seconds)
    max_rir_seconds: float  # RIR length cap; a scene's length is 1.2 x its largest T60 + 0.1 s, capped
    ism_order: int
    sound_bank: str  # sound bank preset
    episodes: dict = field(default_factory=dict)  # episodes per split
    passive: dict = field(default_factory=dict)  # passive datapoints per scene per split
    scene_roles: tuple[int, int, int] | None = None  # (train, val, test) scene counts; None: about 60/20/20
    furniture: bool = False  # furnish every room (world/furniture.py): fewer nodes, boxes in the views
    # 0: every node may hold a source and every (receiver, source) pair is rendered, plus the packed cache.
    # > 0: each scene has this many source sites (nodes spread over its rooms); episodes and passive
    # datapoints put sources only there, and only the RIRs they use are rendered (world/partial_build.py)
    source_sites: int = 0


PRESETS: dict[str, WorldPreset] = {
    "tiny": WorldPreset(
        num_scenes=3,
        width_range=(4, 4),
        depth_range=(3, 3),
        rooms_range=(2, 2),
        min_room_side=2,
        t60_range=(0.2, 0.5),
        max_rir_seconds=0.5,
        ism_order=5,
        sound_bank="tiny",
        episodes={"train": 12, "val": 4, "valUnheard": 4, "test": 4, "testUnheard": 4},
        passive={"train": 16, "val": 8, "nonoverlapping_val": 8},
    ),
    "default": WorldPreset(
        num_scenes=6,
        width_range=(5, 6),
        depth_range=(4, 4),
        rooms_range=(3, 4),
        min_room_side=2,
        t60_range=(0.2, 0.85),
        max_rir_seconds=1.0,
        ism_order=8,
        sound_bank="default",
        # testUnheard 600: the policy's lead over standing still (~0.1-0.25 dB) is below what 200 episodes
        # resolve (95 % half-width ~0.19 dB); each split draws from its own random stream, so the other
        # splits and the first 200 testUnheard episodes are the same as with 200
        episodes={"train": 2000, "val": 100, "valUnheard": 100, "test": 200, "testUnheard": 600},
        passive={"train": 2000, "val": 200, "nonoverlapping_val": 200},
    ),
    # A larger world for benchmarking trained agents (issue 16): 24 furnished apartments of 4-8 rooms,
    # 16/4/4 train/val/test scenes, 1,000 test and testUnheard episodes (the paper's protocol), RIRs for
    # every node as listener and 16 source sites per scene (partial set, resumable build)
    "benchmark": WorldPreset(
        num_scenes=24,
        width_range=(10, 12),
        depth_range=(7, 8),
        rooms_range=(5, 8),  # removing a corner room can take one away: 4-8 rooms
        min_room_side=2,
        t60_range=(0.2, 0.85),
        max_rir_seconds=1.0,
        ism_order=8,
        sound_bank="benchmark",
        episodes={"train": 4000, "val": 200, "valUnheard": 200, "test": 1000, "testUnheard": 1000},
        passive={"train": 1000, "val": 200, "nonoverlapping_val": 200},
        scene_roles=(16, 4, 4),
        furniture=True,
        source_sites=16,
    ),
}


def scene_name(index: int) -> str:
    return f"apartment_{index:02d}"


def plan_world(preset: WorldPreset, seed: int) -> list[FloorPlan]:
    """All floor plans of the world (furnished when the preset says so); T60 targets are spread evenly
    over every room of the world."""
    rng = np.random.default_rng([seed, 1])
    plans = []
    max_rooms = preset.rooms_range[1]
    targets = np.linspace(preset.t60_range[0], preset.t60_range[1], preset.num_scenes * max_rooms)
    targets = [float(round(t, 3)) for t in rng.permutation(targets)]
    for index in range(preset.num_scenes):
        scene_rng = np.random.default_rng([seed, 2, index])
        plans.append(
            generate_floorplan(
                scene_name(index),
                scene_rng,
                preset.width_range,
                preset.depth_range,
                preset.rooms_range,
                preset.min_room_side,
                targets[index * max_rooms : (index + 1) * max_rooms],
            )
        )
        if preset.furniture:  # its own random stream: the rooms and doors are those of the unfurnished plan
            plans[-1] = furnish(plans[-1], np.random.default_rng([seed, 4, index]))
    return plans


def scene_rir_seconds(plan: FloorPlan, preset: WorldPreset) -> float:
    longest = max(eyring_t60(r.absorption, r.volume, r.surface) for r in plan.rooms)
    return float(min(preset.max_rir_seconds, round(1.2 * longest + 0.1, 1)))
