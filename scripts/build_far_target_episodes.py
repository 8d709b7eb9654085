#!/usr/bin/env python
"""Add the far-target episode splits (<split>_farTarget) to an existing world.

    python scripts/build_far_target_episodes.py --exp-config configs/train/farTarget.yaml

The world is the config's WORLD.DATA_ROOT / WORLD.DATASET / WORLD.EPISODE_VERSION; the scene roles are its
active_datasets/<version>/scene_splits.json; the threshold is TASK.FAR_TARGET_MIN_DISTANCE. A procedural
world's seed and episode counts come from its build_report.json (its preset's counts), others need --seed
and --episodes. The same inputs give byte-identical files; scenes without a pair of nodes that far apart
are listed (and in active_datasets/<version>/far_target.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from audio_separation.config import get_config  # noqa: E402
from audio_separation.world.builder import PRESETS, read_build_report  # noqa: E402
from audio_separation.world.episodes import (  # noqa: E402
    EPISODE_SPLITS,
    build_far_target_datasets,
    read_scene_splits,
)
from audio_separation.world.soundspaces import SoundSpacesLayout  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--exp-config", required=True, help="a yaml naming the world (e.g. configs/train/farTarget.yaml)"
    )
    parser.add_argument("--seed", type=int, default=None, help="default: the world's build seed (build_report.json)")
    parser.add_argument(
        "--episodes", type=int, default=None, help="episodes per split (default: the world preset's counts)"
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides, KEY VALUE pairs")
    args = parser.parse_args(argv)
    config = get_config(args.exp_config, args.opts)
    root = config.WORLD.DATA_ROOT
    layout = SoundSpacesLayout(root, config.WORLD.DATASET)
    version = config.WORLD.EPISODE_VERSION
    report = read_build_report(root) if os.path.isfile(os.path.join(root, "build_report.json")) else None
    seed = args.seed if args.seed is not None else (report or {}).get("seed")
    if args.episodes is not None:
        counts = {split: args.episodes for split in EPISODE_SPLITS}
    elif report is not None and report.get("preset") in PRESETS:
        counts = dict(PRESETS[report["preset"]].episodes)
    else:
        counts = None
    if seed is None or counts is None:
        print(f"error: {root} has no build_report.json of a preset: pass --seed and --episodes", file=sys.stderr)
        return 2
    far = build_far_target_datasets(
        layout,
        version,
        read_scene_splits(layout, version),
        counts,
        num_sounds_in_mix=config.TASK.NUM_SOUNDS_IN_MIX,
        min_distance=config.TASK.FAR_TARGET_MIN_DISTANCE,
        seed=seed,
        sounds_folder=config.WORLD.SOUNDS_DIR,
    )
    print(json.dumps(far, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
