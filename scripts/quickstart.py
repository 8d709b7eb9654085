#!/usr/bin/env python
"""The quickstart recipe on the built-in default world (or, with --preset benchmark, the benchmark world).

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

--preset benchmark runs the same yamls with the world overrides of PRESET_OVERRIDES: the world of the
benchmark preset under data/worlds/benchmark (24 furnished apartments, partial RIR set; built if absent,
about an hour on 2 cores, resumable), every validation episode for checkpoint selection as on the default
world (200 per split over 4 val scenes; the yamls' 100 are the default world's whole split), and 1,000 test
episodes per split over 4 test scenes (episodes go round-robin over the scenes). Runs go to runs/quickstart_benchmark[_seed<N>].
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from main import main as run_main  # noqa: E402

# KEY VALUE overrides added to every stage of a preset (the yamls are the default world's)
PRESET_OVERRIDES = {
    "default": [],
    "benchmark": ["WORLD.DATA_ROOT", "data/worlds/benchmark", "WORLD.PRESET", "benchmark"],
}
# overrides of the checkpoint-selection stage only
SELECTION_OVERRIDES = {"default": [], "benchmark": ["EVAL.NUM_EPISODES", "0"]}


def default_runs_dir(preset: str, seed: int) -> str:
    name = "quickstart" if preset == "default" else f"quickstart_{preset}"
    return f"runs/{name}" if seed == 0 else f"runs/{name}_seed{seed}"


def stages(runs: str, seed: int, preset: str = "default") -> tuple[list[list[str]], list[tuple[str, list[str]]]]:
    """The main.py stages and the script stages of one quickstart run under `runs` with `seed` on `preset`."""
    if preset not in PRESET_OVERRIDES:
        raise ValueError(f"unknown quickstart preset {preset!r}; expected one of {sorted(PRESET_OVERRIDES)}")
    passive, rl = f"{runs}/passive", f"{runs}/rl"
    world = PRESET_OVERRIDES[preset]
    seeded = ["SEED", str(seed), *world]
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
            *world,
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
                *world,
                *SELECTION_OVERRIDES[preset],
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
                *world,
            ],
        ),
    ]
    return main_stages, script_stages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The quickstart recipe on the built-in default world.")
    parser.add_argument("--seed", type=int, default=0, help="SEED of the passive and RL stages (the world is fixed)")
    parser.add_argument(
        "--preset",
        default="default",
        choices=sorted(PRESET_OVERRIDES),
        help="world preset: default (data/worlds/default) or benchmark (data/worlds/benchmark)",
    )
    parser.add_argument(
        "--runs-dir",
        default="",
        help="where the stages write (default runs/quickstart[_<preset>], with _seed<N> for a seed other than 0)",
    )
    args = parser.parse_args(argv)
    runs = args.runs_dir or default_runs_dir(args.preset, args.seed)
    main_stages, script_stages = stages(runs, args.seed, args.preset)
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
