#!/usr/bin/env python
"""Import your own sounds into a world's sound bank (sounds/heard, sounds/unheard, sounds/classes.json).

python scripts/import_sounds.py SRC --world ROOT [--distractor-classes noise,dog] [--sample-rate 16000]
    [--unheard-fraction 0.25] [--seed 0] [--min-seconds 20] [--skip-short]

SRC holds one sub-folder per class, or files named <class>_<anything>.<ext> (wav, flac, ogg, mp3). Clips
are downmixed to mono and resampled to the RIR rate (each conversion is logged); heard/unheard clips are
split per class by the seed; a clip shorter than --min-seconds (an episode's span) is refused, or with
--skip-short left out and listed. See docs/real-data.md and audio_separation/world/import_sounds.py.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from audio_separation.world.import_sounds import import_sounds  # noqa: E402
from audio_separation.world.soundspaces import WorldDataError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="folder of audio files (sub-folder per class or <class>_<anything>.<ext>)")
    parser.add_argument("--world", required=True, help="world root (WORLD.DATA_ROOT); writes <world>/<sounds-dir>/")
    parser.add_argument("--sounds-dir", default="sounds", help="WORLD.SOUNDS_DIR")
    parser.add_argument("--sample-rate", type=int, default=16000, help="the RIR rate (WORLD.RIR_SAMPLE_RATE), Hz")
    parser.add_argument("--distractor-classes", default="", help="comma-separated classes that are never the target")
    parser.add_argument("--unheard-fraction", type=float, default=0.25, help="share of each class's clips kept unheard")
    parser.add_argument("--seed", type=int, default=0, help="seed of the heard/unheard split")
    parser.add_argument("--min-seconds", type=float, default=20.0, help="an episode's span (TASK.MAX_EPISODE_STEPS s)")
    parser.add_argument("--skip-short", action="store_true", help="leave out (and list) clips shorter than that")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        result = import_sounds(
            args.source,
            args.world,
            args.sample_rate,
            distractor_classes=tuple(name for name in args.distractor_classes.split(",") if name),
            unheard_fraction=args.unheard_fraction,
            seed=args.seed,
            min_seconds=args.min_seconds,
            skip_short=args.skip_short,
            sounds_folder=args.sounds_dir,
        )
    except WorldDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"{len(result['classes'])} classes, {len(result['heard'])} heard / {len(result['unheard'])} unheard clips, "
        f"{len(result['converted'])} converted, {len(result['too_short'])} left out as too short"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
