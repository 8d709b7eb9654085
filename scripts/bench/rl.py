#!/usr/bin/env python
"""Benchmark RL training: env steps per second end to end for 1 and 2 DD-PPO workers, with the time
split (env, forward = separator + memory + policy while acting, update = PPO + memory step), at
quickstart and paper model sizes. Appends dated rows to BENCHMARKS.md.

    flock /tmp/bench.lock python scripts/bench/rl.py [--sizes quickstart paper] [--workers 1 2] [--no-append]
    python scripts/bench/rl.py --quality-from runs/quickstart/rl [--note ...]   # the separation-quality bar
    python scripts/bench/rl.py --batched-envs 2 8 16 32 [--against /tmp/old] [--threads 2]   # default path vs batched env

--quality-from appends instead one row per clip set (heard, unheard) from <dir>/separation_quality.json
(scripts/compute_separation_quality.py): the trained agent's refined and passive SI-SDR, the random and
stand-still agents' refined SI-SDR, and the paired differences with 95 % intervals.

Each measurement trains the real trainer (rl/trainer.py) on the default world for warm-up + timed
updates in a throw-away run dir; 2 workers run as 2 gloo processes (torch.multiprocessing, as torchrun
would start them), each with its own envs and 1 torch thread. Weights do not change the cost, so the
frozen separator is a randomly initialised one of the size's width (0.25 for quickstart, 1.0 = 33.5 M
parameters for paper). "steps" are agent actions (19 per env per update).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
from benchmarks_file import append_row  # noqa: E402

from audio_separation.common.checkpoint import save_checkpoint  # noqa: E402
from audio_separation.config import get_config  # noqa: E402
from audio_separation.pretrain.separator_checkpoint import build_passive_separator, separator_settings  # noqa: E402

SECTION = "RL training throughput (scripts/bench/rl.py)"
HEADER = (
    "| date | size (policy + memory + frozen separator parameters) | workers x envs | threads per worker | updates timed (+ warm-up) "
    "| env steps/s | per update: env / forward / update s | machine | load avg at start | note |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)
QUICKSTART_CONFIG = os.path.join(ROOT, "configs", "quickstart", "train", "nearTarget.yaml")
PAPER_CONFIG = os.path.join(ROOT, "configs", "train", "nearTarget.yaml")
SIZES = {
    # size -> (config, separator width, envs per worker, timed updates, warm-up updates)
    "quickstart": (QUICKSTART_CONFIG, 0.25, 2, 8, 2),
    "paper": (PAPER_CONFIG, 1.0, 2, 2, 1),
}


def _free_port() -> int:
    with socket.socket() as handle:
        handle.bind(("127.0.0.1", 0))
        return handle.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, config_path: str, opts: list, model_dir: str, out_path: str) -> None:
    if world_size > 1:
        os.environ.update(
            {
                "RANK": str(rank),
                "LOCAL_RANK": str(rank),
                "WORLD_SIZE": str(world_size),
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(port),
            }
        )
    from audio_separation.common.logging import setup_logging
    from audio_separation.rl.trainer import DDPPOTrainer

    config = get_config(config_path, opts, model_dir=model_dir)
    setup_logging()
    trainer = DDPPOTrainer.from_config(config)
    trainer.train()
    if rank == 0:
        with open(out_path, "w") as handle:
            json.dump(
                {
                    "history": trainer.update_history,
                    "policy_memory_parameters": sum(p.numel() for p in trainer.agent.parameters()),
                },
                handle,
            )


def separator_checkpoint(folder: str, width: float) -> tuple[str, int]:
    config = get_config(opts=["MODEL.SEPARATOR_WIDTH", str(width)])
    settings = separator_settings(config)
    torch.manual_seed(0)
    model = build_passive_separator(settings)
    path = os.path.join(folder, f"separator_{width}.pth")
    save_checkpoint(path, config=config, model=model, counters={}, extra={"separator": settings})
    return path, sum(p.numel() for p in model.parameters())


def measure(
    size: str,
    workers: int,
    folder: str,
    vector_env_type: str = "sync",
    envs: int | None = None,
    device: str = "cpu",
    data_root: str | None = None,
    threads: int = 1,
) -> dict:
    """vector_env_type / envs: the default path (sync, the size's envs) or e.g. the batched env at N envs
    on ENV.DEVICE `device` (the learner runs where the run context puts it: CUDA when there is one);
    threads: RL.NUM_THREADS of each worker."""
    config_path, width, default_envs, timed, warmup = SIZES[size]
    envs = envs or default_envs
    separator, separator_parameters = separator_checkpoint(folder, width)
    model_dir = os.path.join(folder, f"{size}_{workers}_{vector_env_type}_{envs}")
    out_path = os.path.join(folder, f"{size}_{workers}_{vector_env_type}_{envs}.json")
    opts = [
        "RL.SEPARATOR_CHECKPOINT",
        separator,
        "NUM_UPDATES",
        str(timed + warmup),
        "CHECKPOINT_INTERVAL",
        "100000",
        "NUM_PROCESSES",
        str(envs),
        "RL.NUM_THREADS",
        str(threads),
        "ENV.VECTOR_ENV_TYPE",
        vector_env_type,
        "ENV.DEVICE",
        device,
        *(["WORLD.DATA_ROOT", data_root] if data_root else []),
        "LOG_INTERVAL",
        "1000",
        "RL.IMITATION.UPDATES",
        "0",
    ]  # PPO updates are timed (the quickstart's imitation warm start is not)
    if workers == 1:
        _worker(0, 1, 0, config_path, opts, model_dir, out_path)
    else:
        mp.spawn(
            _worker, args=(workers, _free_port(), config_path, opts, model_dir, out_path), nprocs=workers, join=True
        )
    with open(out_path) as handle:
        result = json.load(handle)
    history = result["history"][warmup:]
    steps = 19 * envs * workers * len(history)
    seconds = sum(entry["time_total"] for entry in history)
    split = {
        name: sum(entry[f"time_{name}"] for entry in history) / len(history) for name in ("env", "forward", "update")
    }
    return {
        "size": size,
        "workers": workers,
        "envs": envs,
        "vector_env_type": vector_env_type,
        "timed": len(history),
        "warmup": warmup,
        "sps": steps / seconds,
        "split": split,
        "parameters": result["policy_memory_parameters"],
        "separator_parameters": separator_parameters,
    }


QUALITY_SECTION = (
    "Active separation quality (scripts/compute_separation_quality.py via scripts/bench/rl.py --quality-from)"
)
QUALITY_HEADER = (
    "| date | run | clips (split, episodes) | policy refined SI-SDR dB [95 % CI] | policy passive | random refined | still refined "
    "| refined - passive (paired) | policy - random, refined (paired) | policy - still, refined (paired) | policy reached target | note |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def _interval(summary: dict) -> str:
    if summary.get("ci95_low") is None:
        return "n/a" if summary.get("mean") is None else f"{summary['mean']:+.2f}"
    return f"{summary['mean']:+.2f} [{summary['ci95_low']:+.2f}, {summary['ci95_high']:+.2f}]"


def quality_rows(run_dir: str, note: str) -> list[str]:
    with open(os.path.join(run_dir, "separation_quality.json")) as handle:
        results = json.load(handle)
    rows = []
    for clips, block in results["clips"].items():
        agents, comparisons = block["agents"], block["comparisons"]

        def refined(agent: str, agents: dict = agents) -> str:
            return _interval(agents[agent]["metrics"]["refined"]["si_sdr"]) if agent in agents else "-"

        def paired(name: str, comparisons: dict = comparisons) -> str:
            return _interval(comparisons[name]["si_sdr"]) if name in comparisons else "-"

        rows.append(
            f"| {datetime.date.today().isoformat()} | {run_dir} | {clips} ({block['split']}, {agents['policy']['num_episodes']}) | {refined('policy')} "
            f"| {_interval(agents['policy']['metrics']['passive']['si_sdr'])} | {refined('random')} | {refined('still')} "
            f"| {paired('policy refined - policy passive')} | {paired('policy refined - random refined')} | {paired('policy refined - still refined')} "
            f"| {agents['policy']['reached_target_fraction']:.0%} | {note or '-'} |"
        )
    return rows


BATCHED_SECTION = "RL training throughput, default path vs batched env (scripts/bench/rl.py --batched-envs)"
BATCHED_HEADER = (
    "| date | size (policy + memory + frozen separator parameters) | path: vector env x envs, device | updates timed (+ warm-up) "
    "| env steps/s | vs default path | per update: env / forward / update s | machine | load avg at start | note |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def commit_of(repo: str) -> str:
    """The short commit hash of a checkout (+dirty when it has uncommitted changes), or '?'."""
    try:
        commit = subprocess.run(
            ["git", "-C", repo, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return commit + ("+dirty" if dirty else "")


def against_rows(args, size: str) -> list[tuple[str, float]]:
    """The same measurements by another checkout's own scripts/bench/rl.py (--against DIR), as printed
    rows and their env steps/s (the rows' 6th column), on this world."""
    script = os.path.join(args.against, "scripts", "bench", "rl.py")
    if not os.path.isfile(script):
        raise SystemExit(f"--against {args.against}: no scripts/bench/rl.py there (give a checkout of this project)")
    command = [sys.executable, script, "--sizes", size, "--batched-envs", *map(str, args.batched_envs), "--no-append"]
    command += [
        "--device",
        args.device,
        "--data-root",
        args.data_root or os.path.join(ROOT, "data", "worlds", "default"),
    ]
    if args.timed_updates:
        command += ["--timed-updates", str(args.timed_updates)]
    output = subprocess.run(command, cwd=args.against, capture_output=True, text=True)
    # a printed row is the table row, then " (<seconds> s)"
    rows = [line[: line.rindex("|") + 1] for line in output.stdout.splitlines() if line.startswith("| ")]
    if output.returncode or not rows:
        raise SystemExit(f"--against {args.against} failed (exit {output.returncode}):\n{output.stderr[-3000:]}")
    return [(row, float(row.split("|")[5])) for row in rows]


def batched_rows(args, load: float, machine: str) -> int:
    """One worker: today's default path (sync env, the size's envs, CPU) and the batched env at each N;
    with --against DIR, first the same by the checkout in DIR (ratios then against ITS default path)."""
    with tempfile.TemporaryDirectory(prefix="bench_rl_") as folder:
        for size in args.sizes:
            baseline = None
            rows = []
            if args.against:
                started = time.time()
                theirs = against_rows(args, size)
                baseline = theirs[0][1]
                other = commit_of(args.against)
                for row, _ in theirs:
                    cells = row.split("|")
                    cells[-2] = f" code {other} (--against); {args.note or 'alone'} "
                    rows.append("|".join(cells))
                    print(rows[-1], flush=True)
                print(f"(--against: {time.time() - started:.0f} s)", flush=True)
            runs = [("sync", None, "cpu")] + [("batched", count, args.device) for count in args.batched_envs]
            ours = commit_of(ROOT)
            threads = f", {args.threads} threads" if args.threads != 1 else ""
            for kind, count, device in runs:
                started = time.time()
                result = measure(size, 1, folder, kind, count, device, args.data_root, args.threads)
                baseline = baseline or result["sps"]
                split = result["split"]
                note = (
                    f"code {ours}, ratio vs code {commit_of(args.against)}'s default path; {args.note or 'alone'}"
                    if args.against
                    else (args.note or "-")
                )
                row = (
                    f"| {datetime.date.today().isoformat()} | {size} ({result['parameters'] / 1e6:.2f} M + {result['separator_parameters'] / 1e6:.1f} M) "
                    f"| {kind} x {result['envs']}, {device}{threads} | {result['timed']} (+{result['warmup']}) | {result['sps']:.1f} | {result['sps'] / baseline:.2f}x "
                    f"| {split['env']:.2f} / {split['forward']:.2f} / {split['update']:.2f} | {machine} | {load:.1f} | {note} |"
                )
                rows.append(row)
                print(row, f"({time.time() - started:.0f} s)", flush=True)
            if not args.no_append:
                for row in rows:
                    append_row(BATCHED_SECTION, BATCHED_HEADER, row)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument(
        "--batched-envs",
        type=int,
        nargs="*",
        default=None,
        help="instead: the default path (sync, 1 worker) against the batched env at these N envs (e.g. 2 8 16 32), one worker",
    )
    parser.add_argument("--device", default="cpu", help="ENV.DEVICE of the --batched-envs runs")
    parser.add_argument(
        "--against",
        default=None,
        help="with --batched-envs: a checkout of an older commit (e.g. `git worktree add /tmp/old <commit>`) measured "
        "first in the same run, by its own script on this world; ratios are then against its default path",
    )
    parser.add_argument("--data-root", default=None, help="WORLD.DATA_ROOT (default: the config's)")
    parser.add_argument("--timed-updates", type=int, default=None, help="timed updates per run (default: the size's)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="RL.NUM_THREADS of this checkout's --batched-envs runs, default path included (--against runs keep their own: 1)",
    )
    parser.add_argument("--note", default="", help="free text for the rows (e.g. 'machine shared with other jobs')")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to BENCHMARKS.md")
    parser.add_argument(
        "--quality-from", default=None, help="a run dir with separation_quality.json: append the quality rows instead"
    )
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    if args.quality_from:
        for row in quality_rows(args.quality_from, args.note):
            print(row)
            if not args.no_append:
                append_row(QUALITY_SECTION, QUALITY_HEADER, row)
        return 0
    load = os.getloadavg()[0]
    machine = f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}"
    if args.timed_updates:
        for size, (path, width, envs, _, warmup) in list(SIZES.items()):
            SIZES[size] = (path, width, envs, args.timed_updates, warmup)
    if args.batched_envs is not None:
        return batched_rows(args, load, machine)
    with tempfile.TemporaryDirectory(prefix="bench_rl_") as folder:
        for size in args.sizes:
            for workers in args.workers:
                started = time.time()
                result = measure(size, workers, folder)
                split = result["split"]
                row = (
                    f"| {datetime.date.today().isoformat()} | {size} ({result['parameters'] / 1e6:.2f} M + {result['separator_parameters'] / 1e6:.1f} M) "
                    f"| {workers} x {result['envs']} | 1 | {result['timed']} (+{result['warmup']}) | {result['sps']:.1f} "
                    f"| {split['env']:.2f} / {split['forward']:.2f} / {split['update']:.2f} | {machine} | {load:.1f} | {args.note or '-'} |"
                )
                print(row, f"({time.time() - started:.0f} s)", flush=True)
                if not args.no_append:
                    append_row(SECTION, HEADER, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
