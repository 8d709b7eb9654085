#!/usr/bin/env python
"""Build a procedural acoustic world in the SoundSpaces layout.

python scripts/build_world.py --preset default --output-dir data/worlds/default --seed 0
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from audio_separation.world.builder import PRESETS, build_world, world_summary  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="scene-building processes")
    parser.add_argument("--overwrite", action="store_true", help="build even if the output dir is not empty")
    args = parser.parse_args(argv)
    if os.path.isdir(args.output_dir) and os.listdir(args.output_dir) and not args.overwrite:
        print(f"error: {args.output_dir} is not empty; pass --overwrite to build into it anyway", file=sys.stderr)
        return 2
    report = build_world(args.output_dir, preset=args.preset, seed=args.seed, workers=args.workers)
    print(world_summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
