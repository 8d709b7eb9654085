#!/usr/bin/env python
"""Pick the RL checkpoint with the lowest refined-estimate STFT distance on validation, for heard and
for unheard clips separately (the original did this in a notebook).

    python scripts/find_best_checkpoint.py --model-dir runs/quickstart/rl \
        --heard-config configs/quickstart/val/nearTarget.yaml --unheard-config configs/quickstart/val/nearTarget_unheard.yaml \
        [--parallel 2] [KEY VALUE ...]

Every ckpt.N.pth in <model-dir>/data is evaluated on both validation splits (results under
<model-dir>/eval/<split>/policy/ckpt.N/, reused when present). The winners are copied to
<model-dir>/data/best_ckpt_val_heard.pth and best_ckpt_val_unheard.pth, and the choice with every
candidate's score is written to <model-dir>/best_checkpoints.json (read by compute_separation_quality.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from audio_separation.common.checkpoint import list_checkpoints  # noqa: E402
from audio_separation.rl.eval_jobs import EvalJob, run_jobs  # noqa: E402

SELECTION_METRIC = ("refined", "stft_distance")


def best_checkpoint_name(clips: str) -> str:
    return f"best_ckpt_val_{clips}.pth"


def find_best(model_dir: str, configs: dict[str, str], opts: list[str], parallel: int = 1) -> dict[str, dict]:
    """{clips: {checkpoint, copy, update, stft_distance, candidates}} for clips in configs (heard/unheard)."""
    folder = os.path.join(model_dir, "data")
    checkpoints = [path for _, path in list_checkpoints(folder)]
    if not checkpoints:
        raise SystemExit(f"error: no ckpt.<N>.pth in {folder}: train first")
    jobs = [EvalJob(config, model_dir, path, tuple(opts)) for config in configs.values() for path in checkpoints]
    summaries = run_jobs(jobs, parallel)
    chosen = {}
    for index, clips in enumerate(configs):
        scored = summaries[index * len(checkpoints) : (index + 1) * len(checkpoints)]
        candidates = [
            {
                "checkpoint": s["checkpoint"],
                "update": s["update"],
                "split": s["split"],
                "stft_distance": s["metrics"]["refined"]["stft_distance"]["mean"],
                "si_sdr": s["metrics"]["refined"]["si_sdr"]["mean"],
            }
            for s in scored
        ]
        best = min(candidates, key=lambda candidate: candidate["stft_distance"])
        copy = os.path.join(folder, best_checkpoint_name(clips))
        shutil.copyfile(best["checkpoint"], copy)
        chosen[clips] = {**best, "copy": copy, "candidates": candidates}
    with open(os.path.join(model_dir, "best_checkpoints.json"), "w") as handle:
        json.dump(chosen, handle, indent=1)
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument(
        "--heard-config", required=True, help="eval config of the validation split with heard clips (val)"
    )
    parser.add_argument(
        "--unheard-config", required=True, help="eval config of the validation split with unheard clips (valUnheard)"
    )
    parser.add_argument("--parallel", type=int, default=1, help="evaluations run at once, each in its own process")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides as KEY VALUE pairs")
    args = parser.parse_args(argv)
    chosen = find_best(
        args.model_dir, {"heard": args.heard_config, "unheard": args.unheard_config}, args.opts, args.parallel
    )
    for clips, best in chosen.items():
        scores = ", ".join(f"update {c['update']}: {c['stft_distance']:.4f}" for c in best["candidates"])
        print(
            f"{clips}: best {os.path.basename(best['checkpoint'])} (refined STFT distance {best['stft_distance']:.4f} on {best['split']}) -> {best['copy']}  [{scores}]"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
