#!/usr/bin/env python
"""Benchmark passive pretraining: training samples/s at paper and quickstart sizes (real data pipeline,
real optimisation steps), then the quickstart pretraining end to end through the CLI (wall time, and
SI-SDR of the mono estimate vs the mixture on heard and unheard validation, mean and 95 % interval).
Appends dated rows to BENCHMARKS.md and writes everything to <run-dir>/bench.json.

    python scripts/bench/passive.py [--run-dir runs/bench_passive] [--skip-quickstart] [--note "..."]

Run it alone: a concurrent CPU-heavy job halves the numbers (the row records the load average).
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

import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from audio_separation.common.parameters import count_parameters  # noqa: E402
from audio_separation.config import get_config  # noqa: E402
from audio_separation.pretrain.dataset import EpochSampler, PassiveDataset  # noqa: E402
from audio_separation.pretrain.evaluation import to_device  # noqa: E402
from audio_separation.pretrain.separator_checkpoint import build_passive_separator, separator_settings  # noqa: E402
from audio_separation.pretrain.trainer import PassiveTrainer, build_optimizer  # noqa: E402
from audio_separation.world.builder import build_world_if_absent  # noqa: E402

DEFAULT_THREADS = torch.get_num_threads()  # what NUM_THREADS 0 means
PAPER = os.path.join("configs", "pretrain_passive.yaml")
QUICKSTART = os.path.join("configs", "quickstart", "pretrain_passive.yaml")
THROUGHPUT_HEADER = (
    "| date | size | parameters | batch | workers x threads | samples/s | s/step | machine | load avg at start | note |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)
QUALITY_HEADER = (
    "| date | config | parameters | epochs | train wall s (incl. validation) | train samples/s | "
    "SI-SDR heard (mixture) | SI-SDRi heard [95 % CI] | SI-SDR unheard (mixture) | SI-SDRi unheard [95 % CI] | "
    "STFT dist. unheard (mixture) | machine | load avg at start | note |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def _append_row(section: str, header: str, row: str) -> None:
    from benchmarks_file import append_row  # scripts/bench is on sys.path when run as a script

    append_row(section, header, row)


def measure_throughput(config_path: str, steps: int, warmup: int, opts: list[str]) -> dict:
    """Training samples/s of the real pipeline: DataLoader workers rendering mixtures + trainer steps."""
    config = get_config(config_path, opts)
    torch.set_num_threads(int(config.PASSIVE.NUM_THREADS) if config.PASSIVE.NUM_THREADS > 0 else DEFAULT_THREADS)
    layout = build_world_if_absent(config)
    dataset = PassiveDataset(config, layout, "train", seed=config.SEED)
    batch_size = int(config.PASSIVE.BATCH_SIZE)
    sampler = EpochSampler(len(dataset.datapoints), batch_size * (steps + warmup), config.SEED)
    workers = int(config.NUM_PROCESSES)
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers)
    torch.manual_seed(config.SEED)
    model = build_passive_separator(separator_settings(config))
    optimizer = build_optimizer(model, config.PASSIVE)
    trainer = PassiveTrainer.from_config(config)
    model.train()
    started = None
    for index, batch in enumerate(loader):
        if index == warmup:
            started = time.perf_counter()
        trainer.train_step(model, optimizer, to_device(batch, torch.device("cpu")))
    seconds = time.perf_counter() - started
    return {
        "config": config_path,
        "parameters": count_parameters(model),
        "width": float(config.MODEL.SEPARATOR_WIDTH),
        "batch": batch_size,
        "workers": workers,
        "threads": torch.get_num_threads(),
        "steps": steps,
        "seconds_per_step": seconds / steps,
        "samples_per_second": steps * batch_size / seconds,
    }


def run_quickstart(run_dir: str, opts: list[str]) -> dict:
    """Train + eval the quickstart config through the CLI; returns wall time and the eval JSON."""
    model_dir = os.path.join(run_dir, "quickstart")
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "main.py",
            "--exp-config",
            QUICKSTART,
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
    train_seconds = time.perf_counter() - started
    subprocess.run(
        [sys.executable, "main.py", "--exp-config", QUICKSTART, "--run-type", "eval", "--model-dir", model_dir, *opts],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with open(os.path.join(model_dir, "eval", "passive_metrics.json")) as handle:
        metrics = json.load(handle)
    return {
        "train_wall_seconds": train_seconds,
        "eval_seconds": time.perf_counter() - started - train_seconds,
        "metrics": metrics,
    }


def _interval(summary: dict) -> str:
    return f"{summary['mean']:+.2f} [{summary['ci95_low']:+.2f}, {summary['ci95_high']:+.2f}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default=os.path.join(ROOT, "runs", "bench_passive"))
    parser.add_argument("--paper-steps", type=int, default=4, help="timed steps at paper size (after one warm-up step)")
    parser.add_argument(
        "--quickstart-steps", type=int, default=30, help="timed steps at quickstart size (after three warm-up steps)"
    )
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-quickstart", action="store_true")
    parser.add_argument("--note", default="", help="free text for the rows (e.g. 'machine shared with X')")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides for every run")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    os.makedirs(args.run_dir, exist_ok=True)
    date = str(datetime.date.today())
    machine = f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}"
    load = f"{os.getloadavg()[0]:.2f}"
    results: dict = {"date": date, "machine": machine, "load_average_at_start": load}
    if not args.skip_throughput:
        results["throughput"] = []
        # paper size on a 2-core machine: one worker renders fast enough; all cores for training is
        # fastest on a quiet machine, one training thread is robust to a busy one (two OpenMP threads
        # stall whenever another process takes a core); batch 32 is the setting of the original's
        # reference measurement (5.8 s per batch)
        one_by_one = ["NUM_PROCESSES", "1", "PASSIVE.NUM_THREADS", "1"]
        runs = (
            ("quickstart", QUICKSTART, args.quickstart_steps, 3, []),
            ("paper", PAPER, args.paper_steps, 1, ["NUM_PROCESSES", "1"]),
            ("paper", PAPER, args.paper_steps, 1, one_by_one),
            ("paper", PAPER, args.paper_steps, 1, [*one_by_one, "PASSIVE.BATCH_SIZE", "32"]),
        )
        for name, path, steps, warmup, opts in runs:
            numbers = measure_throughput(path, steps, warmup, [*opts, *args.opts])
            numbers["size"] = name
            results["throughput"].append(numbers)
            print(json.dumps(numbers))
            _append_row(
                "Passive pretraining throughput (scripts/bench/passive.py)",
                THROUGHPUT_HEADER,
                f"| {date} | {name} (width {numbers['width']}) | {numbers['parameters'] / 1e6:.2f} M | {numbers['batch']} | {numbers['workers']} x {numbers['threads']} | "
                f"{numbers['samples_per_second']:.1f} | {numbers['seconds_per_step']:.2f} | {machine} | {load} | {args.note} |",
            )
    if not args.skip_quickstart:
        load = f"{os.getloadavg()[0]:.2f}"
        quickstart = run_quickstart(args.run_dir, list(args.opts))
        results["quickstart"] = quickstart
        metrics = quickstart["metrics"]
        heard, unheard = metrics["splits"]["val"], metrics["splits"]["nonoverlapping_val"]
        print(
            json.dumps(
                {
                    "train_wall_seconds": quickstart["train_wall_seconds"],
                    "heard_si_sdr_improvement": heard["si_sdr_improvement"],
                    "unheard_si_sdr_improvement": unheard["si_sdr_improvement"],
                }
            )
        )
        _append_row(
            "Passive pretraining quality (scripts/bench/passive.py)",
            QUALITY_HEADER,
            f"| {date} | {QUICKSTART} ({os.path.basename(metrics['checkpoint'])}) | {metrics['parameters'] / 1e6:.2f} M | {metrics['epoch']} | {quickstart['train_wall_seconds']:.0f} | "
            f"{metrics['training_samples_per_second']:.0f} | {heard['si_sdr']['mean']:.2f} ({heard['input_si_sdr']['mean']:.2f}) | {_interval(heard['si_sdr_improvement'])} | "
            f"{unheard['si_sdr']['mean']:.2f} ({unheard['input_si_sdr']['mean']:.2f}) | {_interval(unheard['si_sdr_improvement'])} | "
            f"{unheard['stft_distance']['mean']:.3f} ({unheard['input_stft_distance']['mean']:.3f}) | {machine} | {load} | {args.note} |",
        )
    with open(os.path.join(args.run_dir, "bench.json"), "w") as handle:
        json.dump(results, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
