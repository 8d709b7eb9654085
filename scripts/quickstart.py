#!/usr/bin/env python
"""The quickstart recipe on the built-in default world.

Stage 1: build the default procedural world under data/worlds/default if it is absent, and print its
summary. Stage 2: pretrain the passive separators at laptop size (configs/quickstart/pretrain_passive.yaml,
run dir runs/quickstart/passive). Stage 3: evaluate them on heard and unheard validation clips and print
the metrics JSON. Stage 4: train the policy and the transformer memory on top of the frozen separators
(configs/quickstart/train/nearTarget.yaml, run dir runs/quickstart/rl). Stage 5: pick the checkpoint with
the lowest refined STFT distance on validation, heard and unheard clips separately
(scripts/find_best_checkpoint.py). Stage 6: test it and the random and stand-still baseline agents on the
heard and unheard test episodes and print the table with 95 % intervals
(scripts/compute_separation_quality.py; runs/quickstart/rl/separation_quality.md, and per-episode wavs,
PNGs and an index.html under runs/quickstart/rl/eval/).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from main import main as run_main  # noqa: E402


def stages(runs: str, seed: int) -> tuple[list[list[str]], list[tuple[str, list[str]]]]:
    """The main.py stages and the script stages of one quickstart run under `runs` with `seed`."""
    passive, rl = f"{runs}/passive", f"{runs}/rl"
    seeded = ["SEED", str(seed)]
    separator = ["RL.SEPARATOR_CHECKPOINT", f"{passive}/data/best_ckpt_nonoverlapping_val.pth"]
    main_stages = [
        [
            "--exp-config",
            "configs/quickstart/world.yaml",
            "--run-type",
            "train",
            "--model-dir",
            f"{runs}/world",
            "--overwrite",
        ],
        [
            "--exp-config",
            "configs/quickstart/pretrain_passive.yaml",
            "--run-type",
            "train",
            "--model-dir",
            passive,
            "--overwrite",
            *seeded,
        ],
        [
            "--exp-config",
            "configs/quickstart/pretrain_passive.yaml",
            "--run-type",
            "eval",
            "--model-dir",
            passive,
            *seeded,
        ],
        [
            "--exp-config",
            "configs/quickstart/train/nearTarget.yaml",
            "--run-type",
            "train",
            "--model-dir",
            rl,
            "--overwrite",
            *seeded,
            *separator,
        ],
    ]
    script_stages = [  # after the main.py stages; each runs 2 evaluations at once (one per core)
        (
            "find_best_checkpoint",
            [
                "--model-dir",
                rl,
                "--heard-config",
                "configs/quickstart/val/nearTarget.yaml",
                "--unheard-config",
                "configs/quickstart/val/nearTarget_unheard.yaml",
                "--parallel",
                "2",
                *separator,
            ],
        ),
        (
            "compute_separation_quality",
            [
                "--model-dir",
                rl,
                "--heard-config",
                "configs/quickstart/test/nearTarget.yaml",
                "--unheard-config",
                "configs/quickstart/test/nearTarget_unheard.yaml",
                "--parallel",
                "2",
                *separator,
            ],
        ),
    ]
    return main_stages, script_stages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The quickstart recipe on the built-in default world.")
    parser.add_argument("--seed", type=int, default=0, help="SEED of the passive and RL stages (the world is fixed)")
    parser.add_argument(
        "--runs-dir", default="", help="where the stages write (default runs/quickstart, or runs/quickstart_seed<N>)"
    )
    args = parser.parse_args(argv)
    runs = args.runs_dir or ("runs/quickstart" if args.seed == 0 else f"runs/quickstart_seed{args.seed}")
    main_stages, script_stages = stages(runs, args.seed)
    os.chdir(ROOT)
    for stage in main_stages:
        status = run_main(stage)
        if status:
            return status
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    for module_name, arguments in script_stages:
        status = importlib.import_module(module_name).main(arguments)
        if status:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
