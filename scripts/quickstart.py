#!/usr/bin/env python
"""The quickstart recipe on the built-in default world.

Stage 1 (now): build the default procedural world under data/worlds/default if it is absent, and print
its summary. Later stages (passive pretraining, policy training, evaluation) are appended here.
"""
from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from main import main as run_main  # noqa: E402


def main() -> int:
    os.chdir(ROOT)
    return run_main(["--exp-config", "configs/quickstart/world.yaml", "--run-type", "train", "--model-dir", "runs/quickstart/world", "--overwrite"])


if __name__ == "__main__":
    sys.exit(main())
