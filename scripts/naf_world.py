#!/usr/bin/env python
"""Fields for a whole world: train (resumably, under NAF.MAX_TRAIN_SECONDS per scene) and evaluate a NAF for
every scene of the world, score the baselines on the same held-out items, and write a per-scene and
averaged table like the paper's (<model-dir>/naf_world.md and .json). A scene whose final checkpoint
exists is skipped; a partial one resumes. One model dir per scene: <model-dir>/<scene>/.

    python scripts/naf_world.py --exp-config configs/quickstart/naf.yaml --model-dir runs/naf_world [--scenes a,b] [KEY VALUE ...]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from audio_separation.naf.baseline_scores import ALL_METHODS, METHODS  # noqa: E402
from audio_separation.naf.world_fields import run_world  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp-config", required=True, help="NAF experiment yaml (its NAF.SCENE is replaced per scene)")
    parser.add_argument("--model-dir", required=True, help="root: one run dir per scene under it, and the table")
    parser.add_argument("--scenes", default="", help="comma-separated scenes (default: every scene of the world)")
    parser.add_argument(
        "--baselines", nargs="+", default=list(METHODS), choices=ALL_METHODS, help="baseline rows of the table"
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides as KEY VALUE pairs")
    args = parser.parse_args(argv)
    payload = run_world(args.exp_config, args.model_dir, args.opts, args.scenes, args.baselines)
    with open(os.path.join(args.model_dir, "naf_world.md")) as handle:
        print(handle.read())
    return 0 if payload["rows"] else 1


if __name__ == "__main__":
    sys.exit(main())
