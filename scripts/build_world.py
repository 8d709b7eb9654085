#!/usr/bin/env python
"""Build a procedural acoustic world in the SoundSpaces layout.

python scripts/build_world.py --preset default --output-dir data/worlds/default --seed 0
python scripts/build_world.py --preset benchmark --output-dir data/worlds/benchmark --binaural-model kemar
python scripts/build_world.py --preset benchmark --output-dir data/worlds/benchmark --binaural-model kemar --resume
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from audio_separation.config.default import get_default_config  # noqa: E402
from audio_separation.world.acoustics import BINAURAL_MODELS  # noqa: E402
from audio_separation.world.builder import PRESETS, build_world, world_summary  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="scene-building processes")
    parser.add_argument(
        "--binaural-model",
        choices=BINAURAL_MODELS,
        default=None,
        help="head of the RIRs (default: WORLD.BINAURAL_MODEL of the config defaults; docs/hrtf.md)",
    )
    parser.add_argument(
        "--sounds-from",
        default=None,
        help="folder of real recordings (one sub-folder per class; docs/real-data.md step 2) to use instead of "
        "the synthetic sound bank",
    )
    parser.add_argument(
        "--distractor-classes", nargs="*", default=[], help="with --sounds-from: classes that are never the target"
    )
    parser.add_argument("--overwrite", action="store_true", help="build even if the output dir is not empty")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="finish an interrupted build of a preset with a partial RIR set (benchmark) in the output dir",
    )
    args = parser.parse_args(argv)
    if args.resume and not PRESETS[args.preset].source_sites:
        print(f"error: --resume needs a resumable preset; {args.preset!r} is rebuilt whole", file=sys.stderr)
        return 2
    if os.path.isdir(args.output_dir) and os.listdir(args.output_dir) and not (args.overwrite or args.resume):
        print(
            f"error: {args.output_dir} is not empty; pass --resume to finish a build there or --overwrite",
            file=sys.stderr,
        )
        return 2
    config = get_default_config()
    if args.binaural_model is not None:
        config.WORLD.BINAURAL_MODEL = args.binaural_model
    report = build_world(
        args.output_dir,
        preset=args.preset,
        seed=args.seed,
        workers=args.workers,
        config=config,
        sounds_from=args.sounds_from,
        distractor_classes=tuple(args.distractor_classes),
    )
    print(world_summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
