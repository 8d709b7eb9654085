#!/usr/bin/env python
"""The quickstart recipe on the built-in default world.

Stage 1: build the default procedural world under data/worlds/default if it is absent, and print its
summary. Stage 2: pretrain the passive separators at laptop size (configs/quickstart/pretrain_passive.yaml,
run dir runs/quickstart/passive). Stage 3: evaluate them on heard and unheard validation clips and print
the metrics JSON. Later stages (policy training, evaluation) are appended here as they land.
"""
from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from main import main as run_main  # noqa: E402

STAGES = [
    ["--exp-config", "configs/quickstart/world.yaml", "--run-type", "train", "--model-dir", "runs/quickstart/world", "--overwrite"],
    ["--exp-config", "configs/quickstart/pretrain_passive.yaml", "--run-type", "train", "--model-dir", "runs/quickstart/passive", "--overwrite"],
    ["--exp-config", "configs/quickstart/pretrain_passive.yaml", "--run-type", "eval", "--model-dir", "runs/quickstart/passive"],
]


def main() -> int:
    os.chdir(ROOT)
    for stage in STAGES:
        status = run_main(stage)
        if status:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
