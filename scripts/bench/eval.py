#!/usr/bin/env python
"""Benchmark evaluation: scored episodes per second of one checkpoint on one split, for several vector-env
settings, in this checkout and (--against DIR) in an older one, interleaved in one run. Appends dated rows
to BENCHMARKS.md.

    flock /tmp/bench.lock python scripts/bench/eval.py --checkpoint runs/quickstart/rl/data/best_ckpt_val_unheard.pth \\
        --separator runs/quickstart/passive/data/best_ckpt_nonoverlapping_val.pth [--against /tmp/old] \\
        [--settings sync:2 batched:20] [--episodes 100] [--repeats 2]

Each measurement is one evaluate_checkpoint call (rl/evaluation.py: the rollout with separator, memory and
agent, the scoring of every step, per_episode.json) in a fresh single-threaded process, on
configs/quickstart/test/nearTarget_unheard.yaml (EVAL.NUM_EPISODES --episodes, no media) with NUM_PROCESSES
and ENV.VECTOR_ENV_TYPE from the setting, its results written to a throw-away folder. The time is the
evaluation's own "seconds" (episodes run and scored; not the process start or the model load). An older
checkout is measured with its own code by the same snippet (rl/eval_jobs.run_job, present since the
evaluation scripts exist). The sides alternate setting by setting, --repeats times; a row reports the
median.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchmarks_file import append_row  # noqa: E402

from audio_separation.common.provenance import git_commit as commit_of  # noqa: E402

SECTION = "Evaluation throughput (scripts/bench/eval.py)"
HEADER = (
    "| date | code | checkpoint, split, episodes | vector env x envs | scored episodes/s (median of runs) | runs (s) "
    "| vs the older code's first setting | machine | load avg at start | note |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)
CONFIG = os.path.join("configs", "quickstart", "test", "nearTarget_unheard.yaml")
SNIPPET = """
import json, sys
from audio_separation.rl.eval_jobs import EvalJob, run_job
config, model_dir, checkpoint, opts = json.loads(sys.argv[1])
summary = run_job(EvalJob(config, model_dir, checkpoint, tuple(opts)))
print("BENCH", json.dumps({"seconds": summary["seconds"], "episodes": summary["num_episodes"]}))
"""


def parse_setting(text: str) -> tuple[str, int]:
    kind, _, count = text.partition(":")
    if kind not in ("sync", "batched", "grouped", "async") or not count.isdigit() or int(count) < 1:
        raise argparse.ArgumentTypeError(f"a setting is <vector env>:<envs>, e.g. sync:2 or batched:20; got {text!r}")
    return kind, int(count)


def measure(repo: str, setting: tuple[str, int], args, scratch: str) -> dict:
    """One evaluation by the code in `repo` with `setting`; returns {"seconds", "episodes"}."""
    kind, count = setting
    output_dir = tempfile.mkdtemp(dir=scratch)
    opts = [
        "WORLD.DATA_ROOT", os.path.abspath(args.data_root),
        "WORLD.CACHE_DIR", os.path.join(ROOT, "data", "cache"),
        "RL.SEPARATOR_CHECKPOINT", os.path.abspath(args.separator),
        "RL.NUM_THREADS", "1",
        "NUM_PROCESSES", str(count),
        "ENV.VECTOR_ENV_TYPE", kind,
        "EVAL.NUM_EPISODES", str(args.episodes),
        "EVAL.MEDIA_EPISODES", "0",
        "EVAL.OUTPUT_DIR", output_dir,
    ]  # fmt: skip
    payload = json.dumps([os.path.join(repo, CONFIG), output_dir, os.path.abspath(args.checkpoint), opts])
    environment = {**os.environ, "PYTHONPATH": repo, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", SNIPPET, payload], cwd=repo, env=environment, capture_output=True, text=True
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH ")]
    if done.returncode or not lines:
        raise SystemExit(
            f"evaluation by {repo} with {kind} x {count} failed (exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    return json.loads(lines[-1][len("BENCH ") :])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkpoint", required=True, help="an RL checkpoint (e.g. runs/quickstart/rl/data/best_ckpt_val_unheard.pth)"
    )
    parser.add_argument("--separator", required=True, help="its passive separator checkpoint")
    parser.add_argument("--data-root", default=os.path.join(ROOT, "data", "worlds", "default"), help="WORLD.DATA_ROOT")
    parser.add_argument("--settings", nargs="+", type=parse_setting, default=[("sync", 2), ("batched", 20)])
    parser.add_argument("--against", default="", help="an older checkout to measure with its own code, same run")
    parser.add_argument(
        "--against-settings",
        nargs="+",
        type=parse_setting,
        default=None,
        help="its settings (default: --settings' first)",
    )
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--note", default="", help="free text for the rows (e.g. 'machine shared with other jobs')")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    for path, flag in ((args.checkpoint, "--checkpoint"), (args.separator, "--separator")):
        if not os.path.isfile(path):
            raise SystemExit(f"{flag} {path}: no such file")
    if args.against and not os.path.isfile(os.path.join(args.against, "audio_separation", "rl", "eval_jobs.py")):
        raise SystemExit(f"--against {args.against}: not a checkout of this project with rl/eval_jobs.py")

    sides = [(ROOT, list(args.settings))]
    if args.against:
        sides.insert(0, (os.path.abspath(args.against), list(args.against_settings or args.settings[:1])))
    load = os.getloadavg()[0]
    machine = f"{platform.machine()} {os.cpu_count()} cores"
    runs: dict[tuple[str, tuple[str, int]], list[dict]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(args.repeats):
            for index in range(max(len(settings) for _, settings in sides)):
                for repo, settings in sides:
                    if index < len(settings):
                        result = measure(repo, settings[index], args, scratch)
                        runs.setdefault((repo, settings[index]), []).append(result)
                        print(
                            f"{commit_of(repo)} {settings[index][0]} x {settings[index][1]} (run {repeat + 1}): "
                            f"{result['episodes']} episodes in {result['seconds']:.1f} s",
                            flush=True,
                        )
    reference_repo, reference_settings = sides[0]
    reference = runs[(reference_repo, reference_settings[0])]
    reference_rate = statistics.median(run["episodes"] / run["seconds"] for run in reference)
    date = datetime.date.today().isoformat()
    split = f"{os.path.relpath(os.path.abspath(args.checkpoint), ROOT)}, testUnheard, {args.episodes}"
    for repo, settings in sides:
        for setting in settings:
            measured = runs[(repo, setting)]
            rate = statistics.median(run["episodes"] / run["seconds"] for run in measured)
            seconds = " / ".join(f"{run['seconds']:.1f}" for run in measured)
            row = (
                f"| {date} | {commit_of(repo)} | {split} | {setting[0]} x {setting[1]} | {rate:.2f} | {seconds} "
                f"| {rate / reference_rate:.2f}x | {machine} | {load:.1f} | {args.note or 'alone'} |"
            )
            print(row)
            if not args.no_append:
                append_row(SECTION, HEADER, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
