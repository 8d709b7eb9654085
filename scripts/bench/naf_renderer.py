#!/usr/bin/env python
"""Benchmark the NAF as the env's renderer (WORLD.RIR_SOURCE naf) on one scene against the wav RIRs:
(a) observation error on trained and held-out pairs, (b) a passive separator's SI-SDR on NAF- vs
wav-rendered mixtures, (c) env step time (sync env, CPU), (d) NAF bytes vs the scene's RIR bytes
(audio_separation/naf/renderer_measure.py says exactly what each is). Appends a dated row to
BENCHMARKS.md and writes the numbers to --output.

    python scripts/bench/naf_renderer.py --naf-checkpoints runs/naf_world \\
        --separator runs/quickstart/passive/data/best_ckpt_nonoverlapping_val.pth \\
        [--exp-config configs/quickstart/pretrain_passive.yaml] [--split test] [--scene apartment_03] \\
        [--episodes 20] [KEY VALUE ...]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "scripts", "bench"))

from audio_separation.config import get_config  # noqa: E402
from audio_separation.naf.renderer_measure import measure  # noqa: E402

SECTION = "NAF as the env's renderer (scripts/bench/naf_renderer.py)"
HEADER = (
    "| date | commit | scene, split, episodes (steps) | phase | (a) mixture rel. error: all / trained-pair steps / held-out steps "
    "| (a) per-source rel. error: trained / held-out pairs | (b) separator SI-SDR dB: wav / NAF / gap (held-out steps gap) "
    "| (c) ms per step: wav cold / warm, NAF cold / warm, NAF + motion cold | (d) NAF bytes: checkpoint / model fp32 vs scene RIR wavs (ratio) "
    "| machine, load | notes |\n|---|---|---|---|---|---|---|---|---|---|---|"
)


def commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        )
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _number(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def row(result: dict, machine: str, notes: str) -> str:
    a, d = result["observation"], result["storage"]
    separation = result.get("separation")
    b = "-"
    if separation:
        b = (
            f"{separation['si_sdr_wav']:.2f} / {separation['si_sdr_naf']:.2f} / {separation['gap_db']:.2f} "
            f"({_number(separation['gap_db_held_out_steps'], 2)})"
        )
    c = " ; ".join(
        f"{kind} "
        f"{result[f'wav_{key}_cold']:.1f} / {result[f'wav_{key}_warm']:.1f}, "
        f"{result[f'naf_{key}_cold']:.1f} / {result[f'naf_{key}_warm']:.1f}, {result[f'naf_motion_{key}_cold']:.1f}"
        for kind, key in (("wall", "ms_per_step"), ("CPU", "cpu_ms_per_step"))
    )
    storage = (
        f"{d['naf_checkpoint_bytes'] / 1e6:.1f} MB / {d['naf_model_bytes_fp32'] / 1e6:.1f} MB vs {d['rir_wav_bytes'] / 1e6:.1f} MB "
        f"({d['wav_over_checkpoint']:.1f}x / {d['wav_over_model_fp32']:.1f}x)"
    )
    return (
        f"| {result['date']} | {result['commit']} | {result['scene']}, {result['split']}, {result['episodes']} ({result['steps']}) "
        f"| {result['phase']} | {_number(a['mixture_relative_all'])} / {_number(a['mixture_relative_trained_steps'])} / "
        f"{_number(a['mixture_relative_held_out_steps'])} ({a['held_out_steps']} of {a['steps']} steps) "
        f"| {_number(a['source_relative_trained_pairs'])} / {_number(a['source_relative_held_out_pairs'])} "
        f"| {b} | {c} | {storage} | {machine} | {notes} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--naf-checkpoints", required=True, help="folder of <scene>/data/ckpt.<N>.pth (WORLD.NAF_CHECKPOINTS)"
    )
    parser.add_argument("--separator", default="", help="passive separator checkpoint for (b) (empty: skip (b))")
    parser.add_argument("--exp-config", default=os.path.join(ROOT, "configs", "quickstart", "pretrain_passive.yaml"))
    parser.add_argument("--split", default="test")
    parser.add_argument("--scene", default=None, help="default: the split's first scene")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="seed of the random actions")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1, as env workers run: more spin-wait on a shared CPU)"
    )
    parser.add_argument("--notes", default="", help="free text for the row's notes column")
    parser.add_argument("--output", default=os.path.join(ROOT, "runs", "bench_naf_renderer.json"))
    parser.add_argument("--no-row", action="store_true", help="do not append to BENCHMARKS.md")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides KEY VALUE ...")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = get_config(args.exp_config, ["TASK.SPLIT", args.split, *args.opts])
    load_before = os.getloadavg()[0]
    result = measure(config, args.naf_checkpoints, args.separator or None, args.scene, args.episodes, args.seed)
    load_after = os.getloadavg()[0]
    result.update(
        date=datetime.date.today().isoformat(),
        commit=commit(),
        naf_checkpoints=args.naf_checkpoints,
        load_average_1min=[load_before, load_after],
    )
    machine = (
        f"{platform.machine()} {os.cpu_count()} cores, sync env CPU; load avg {load_before:.1f} -> {load_after:.1f}"
    )
    line = row(result, machine, args.notes)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as handle:
        json.dump(result, handle, indent=1)
    if not args.no_row:
        from benchmarks_file import append_row

        append_row(SECTION, HEADER, line)
    print(json.dumps(result, indent=1))
    print("\n".join([HEADER, line]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
