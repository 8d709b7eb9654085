#!/usr/bin/env python
"""Benchmark the world builder: build time per scene and per RIR, disk size; appends a dated row to
BENCHMARKS.md.

    python scripts/bench/world.py [--preset default] [--output-dir /tmp/bench_world]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from benchmarks_file import append_row  # noqa: E402,F401  (scripts/bench is on sys.path when run as a script)

from audio_separation.world.builder import build_world  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output-dir", default=None, help="default: a temporary folder, deleted afterwards")
    args = parser.parse_args(argv)
    output = args.output_dir or tempfile.mkdtemp(prefix="bench_world_")
    try:
        report = build_world(output, preset=args.preset, seed=args.seed, workers=args.workers)
    finally:
        if args.output_dir is None:
            shutil.rmtree(output, ignore_errors=True)
    scenes = report["scenes"]
    rirs = sum(s["rir_count"] for s in scenes)
    scene_seconds = sum(s["build_seconds"] for s in scenes)
    rir_seconds = sum(s["rir_build_seconds"] for s in scenes)
    numbers = {
        "total_s": report["total_seconds"],
        "sound_bank_s": report["sound_bank_seconds"],
        "per_scene_s": scene_seconds / len(scenes),
        "per_rir_ms": 1000 * rir_seconds / rirs,
        "rirs": rirs,
        "disk_MB": report["disk_bytes"] / 1e6,
    }
    for key, value in numbers.items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
    machine = f"{platform.machine()} {os.cpu_count()} cores"
    row = (
        f"| {datetime.date.today()} | {args.preset} | {len(scenes)} | {rirs} | {numbers['total_s']:.1f} | {numbers['sound_bank_s']:.1f} | "
        f"{numbers['per_scene_s']:.1f} | {numbers['per_rir_ms']:.2f} | {numbers['disk_MB']:.0f} | {args.workers} | {machine} |"
    )
    append_row(
        "World builder (scripts/bench/world.py)",
        "| date | preset | scenes | RIRs (binaural, all headings) | total s | sound bank s | s per scene (one worker) | ms per RIR (incl. wav writing) | disk MB | workers | machine |\n|---|---|---|---|---|---|---|---|---|---|---|",
        row,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
