#!/usr/bin/env python
"""Benchmark NAF: train the quickstart NAF on one default-world scene through the real CLI, evaluate it,
score the baselines (mean, nearest, linear, opus-/aac-nearest, opus-/aac-linear) on the same held-out 10 %, optionally compare
the faithful per-pixel model with the amortised one at an equal training budget, and append dated rows
to BENCHMARKS.md. Writes everything to <run-dir>/bench.json.

    python scripts/bench/naf.py [--run-dir runs/bench_naf] [--compare-seconds 300]
    python scripts/bench/naf.py --compare-only --compare-seconds 300   # only the pixel / frame rows
    python scripts/bench/naf.py --no-baselines NUM_EPOCHS 2   # the quickstart run alone (no baselines)

The section states the T60 definition every row uses (T60_DEFINITION, pinned in audio/metrics.py).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import torch  # noqa: E402
from naf_baselines import run_baselines, size_text  # noqa: E402

from audio_separation.common.provenance import git_commit  # noqa: E402
from audio_separation.config import get_config  # noqa: E402
from audio_separation.naf.baseline_scores import label  # noqa: E402
from audio_separation.naf.data import ensure_scene_data, load_scene_data  # noqa: E402
from audio_separation.world.builder import build_world_if_absent  # noqa: E402

QUICKSTART = os.path.join(ROOT, "configs", "quickstart", "naf.yaml")
T60_DEFINITION = (
    "T60 (every row): Schroeder backward-integrated energy decay per ear in dB (0 dB at the first stored sample), "
    "T60 = 2 x (first time below -35 dB - first time below -5 dB) at sample resolution; a curve that never gets "
    "below -35 dB is a failed estimate, counted as 100 % error (the (fail) count); error = mean over items of "
    "|T60_pred - T60_gt| / T60_gt averaged over the ears, x 100 (audio/metrics.py). Waveforms: predicted "
    "magnitudes with a shared random phase, inverse STFT (the paper's protocol)."
)
HEADER = "| date | scene | method | train s | spectral | T60 % (fail) | C50 dB | EDT s | size | train queries/s | infer ms/RIR |\n|---|---|---|---|---|---|---|---|---|---|---|"


def _append_row(row: str) -> None:
    from benchmarks_file import append_row, ensure_section_note  # scripts/bench is on sys.path when run as a script

    ensure_section_note("NAF (scripts/bench/naf.py)", HEADER, T60_DEFINITION)
    append_row("NAF (scripts/bench/naf.py)", HEADER, row)


def _train_and_eval(config_path: str, model_dir: str, opts: list[str]) -> tuple[dict, float]:
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "main.py",
            "--exp-config",
            config_path,
            "--run-type",
            "train",
            "--model-dir",
            model_dir,
            "--overwrite",
            *opts,
        ],
        cwd=ROOT,
        check=True,
    )
    seconds = time.perf_counter() - started
    subprocess.run(
        [sys.executable, "main.py", "--exp-config", config_path, "--run-type", "eval", "--model-dir", model_dir, *opts],
        cwd=ROOT,
        check=True,
    )
    with open(os.path.join(model_dir, "eval", "metrics.json")) as handle:
        return json.load(handle), seconds


def _row(
    date: str,
    scene: str,
    method: str,
    scores: dict,
    train_s: str = "-",
    size: str = "-",
    qps: str = "-",
    infer: str = "-",
) -> str:
    return (
        f"| {date} | {scene} | {method} | {train_s} | {scores['spectral_error']:.4f} | {scores['t60_error_percent']:.2f} ({scores['t60_failures']}) | "
        f"{scores['c50_error_db']:.3f} | {scores['edt_error_seconds']:.4f} | {size} | {qps} | {infer} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default=os.path.join(ROOT, "runs", "bench_naf"))
    parser.add_argument(
        "--compare-seconds", type=float, default=0.0, help="also train pixel and frame models this long each (0 = skip)"
    )
    parser.add_argument(
        "--compare-only",
        action="store_true",
        help="skip the quickstart run and the baselines: only the pixel / frame rows of --compare-seconds",
    )
    parser.add_argument(
        "--no-baselines", action="store_true", help="the quickstart run alone (the codec baselines need opusenc/ffmpeg)"
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides for the quickstart run")
    args = parser.parse_args(argv)
    if args.compare_only and args.compare_seconds <= 0:
        parser.error("--compare-only needs --compare-seconds > 0")
    os.chdir(ROOT)
    config = get_config(QUICKSTART, args.opts)
    build_world_if_absent(config)
    ensure_scene_data(config)
    data = load_scene_data(config)
    date = datetime.date.today().isoformat()
    accelerator = f"torch CUDA {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "torch CPU"
    machine = f"{platform.machine()} {os.cpu_count()} cores, {accelerator}"
    report: dict = {"date": date, "machine": machine, "scene": data.scene}

    rows: list[str] = []
    if not args.compare_only:
        load_before = os.getloadavg()[0]
        quick, train_seconds = _train_and_eval(QUICKSTART, os.path.join(args.run_dir, "quickstart"), list(args.opts))
        load_after = os.getloadavg()[0]
        report["quickstart"] = {
            **quick,
            "wall_seconds_train_command": train_seconds,
            "load_average_1min": [load_before, load_after],
        }
        report["baselines"] = {} if args.no_baselines else run_baselines(config, data)
        size = f"{quick['parameters'] / 1e6:.2f} M params ({quick['model_megabytes_fp32']:.1f} MB)"
        losses = f", decay loss {quick['decay_loss_weight']:g}" if quick.get("decay_loss_weight") else ""
        if config.NAF.MODEL == "frame" and config.NAF.EDC_LOSS_WEIGHT > 0:
            losses += f" + {config.NAF.EDC_LOSS_DOMAIN} EDC loss {config.NAF.EDC_LOSS_WEIGHT:g}"
        note = (
            f"{quick['training_epochs']} epochs, seed {config.SEED}, code {git_commit()}, "
            f"load avg {load_before:.1f} -> {load_after:.1f}"
        )
        rows += [
            _row(
                date,
                data.scene,
                f"NAF quickstart ({quick['model']}{losses}, {machine}; {note})",
                quick["naf"],
                f"{quick['training_seconds']:.0f}",
                size,
                f"{quick['training_queries_per_second']:.3g}",
                f"{quick['inference_ms_per_binaural_rir']:.1f}",
            )
        ]
        for method, scores in report["baselines"].items():
            name = "mean spectrogram" if method == "mean" else label(method)
            store = size_text(scores) or ("train waveforms" if method in ("nearest", "linear") else "-")
            rows.append(_row(date, data.scene, name, scores, size=store))

    if args.compare_seconds > 0:
        report["equal_budget"] = {}
        budget = ["NAF.MAX_TRAIN_SECONDS", str(args.compare_seconds), "NUM_EPOCHS", "200", "NAF.EVAL_PLOTS", "False"]
        for name, path in (
            ("pixel (paper)", os.path.join(ROOT, "configs", "naf", f"{data.scene}.yaml")),
            ("frame (amortised)", QUICKSTART),
        ):
            result, _ = _train_and_eval(path, os.path.join(args.run_dir, name.split()[0]), [*args.opts, *budget])
            report["equal_budget"][name] = result
            rows.append(
                _row(
                    date,
                    data.scene,
                    f"NAF {name}, {args.compare_seconds:.0f} s budget, same held-out split (NAF.SPLIT_SEED "
                    f"{config.NAF.SPLIT_SEED}), {machine}, load avg {os.getloadavg()[0]:.1f}",
                    result["naf"],
                    f"{result['training_seconds']:.0f}",
                    f"{result['parameters'] / 1e6:.2f} M params",
                    f"{result['training_queries_per_second']:.3g}",
                    f"{result['inference_ms_per_binaural_rir']:.1f}",
                )
            )
    for row in rows:
        _append_row(row)
    with open(os.path.join(args.run_dir, "bench.json"), "w") as handle:
        json.dump(report, handle, indent=1)
    print("\n".join([HEADER, *rows]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
