#!/usr/bin/env python
"""MP3D-scale evidence: a SoundSpaces-layout scene of >= 1,000 nodes with RIR files only for the pairs a
set of episodes needs (env/sample_world.py), run through the env; and, in the same run, the same
measurement on a scene of the default procedural world. Appends a row to BENCHMARKS.md.

    python scripts/bench/large_scene.py [--columns 40 --rows 25] [--episodes 10] [--default-root data/worlds/default] [--no-append]

Each measurement runs in a fresh process (python this.py --measure ...): env construction, the first
reset (episode resolution, the scene's graph, the first RIRs read from wav files, its views), then every
episode once with its fixed actions ("cold": RIRs read from wav and appended to a fresh disk cache under a
temporary WORLD.CACHE_DIR) and twice more ("warm": spectra cached, best pass), and the process's peak
resident memory (ru_maxrss). Goals (issue #13): first reset < 5 s, peak memory < 1 GB, warm step time
within 1.3x of the default-world scene's.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
from benchmarks_file import append_row  # noqa: E402  (scripts/bench is on sys.path when run as a script)

SECTION = "Large scene: lazy RIR store (scripts/bench/large_scene.py)"
TABLE = (
    "| date | commit | machine, load avg | scene: nodes, RIR files (of possible) | env construction / first reset (s) "
    "| steps/s cold / warm | default-world scene steps/s cold / warm | warm step time vs default | peak RSS large / default (MB) |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def config_for(root: str, dataset: str, split: str, cache_dir: str, opts: list[str]):
    from audio_separation.config import get_config

    return get_config(
        opts=[
            "WORLD.DATA_ROOT", root, "WORLD.DATASET", dataset, "TASK.SPLIT", split, "WORLD.CACHE_DIR", cache_dir,
            "ENV.SHUFFLE_EPISODES", False, "NUM_PROCESSES", 1, "ENV.VECTOR_ENV_TYPE", "sync", *opts,
        ]
    )  # fmt: skip


def measure(root: str, dataset: str, split: str, plan_path: str, cache_dir: str, opts: list[str]) -> dict:
    """The numbers of one world in this (fresh) process."""
    import torch

    torch.set_num_threads(1)  # as in env worker processes
    from audio_separation.env import make_env
    from audio_separation.env.settings import EnvSettings

    with open(plan_path) as handle:
        plan = json.load(handle)
    started = time.perf_counter()
    env = make_env(EnvSettings.from_config(config_for(root, dataset, split, cache_dir, opts)))
    constructed = time.perf_counter() - started
    started = time.perf_counter()
    env.reset(options={"episode_id": plan["ids"][0]})
    first_reset = time.perf_counter() - started
    rates = []
    for _ in range(3):
        steps, started = 0, time.perf_counter()
        for episode_id, actions in zip(plan["ids"], plan["actions"]):
            env.reset(options={"episode_id": episode_id})
            steps += 1
            for action in actions:
                env.step(action)
                steps += 1
        rates.append(steps / (time.perf_counter() - started))
    return {
        "construction_s": constructed,
        "first_reset_s": first_reset,
        "cold_steps_per_s": rates[0],
        "warm_steps_per_s": max(rates[1:]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_measure(root: str, dataset: str, split: str, plan: dict, cache_dir: str, opts: list[str]) -> dict:
    plan_path = os.path.join(cache_dir, "plan.json")
    os.makedirs(cache_dir, exist_ok=True)
    with open(plan_path, "w") as handle:
        json.dump(plan, handle)
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--measure",
        root,
        dataset,
        split,
        plan_path,
        cache_dir,
        *opts,
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT})
    return json.loads(output.stdout.strip().splitlines()[-1])


def default_plan(root: str, episodes: int, cache_dir: str) -> dict:
    """Episode ids of the default world's train split (env 0's first) and seeded random actions."""
    from audio_separation.env import make_env
    from audio_separation.env.settings import EnvSettings

    env = make_env(EnvSettings.from_config(config_for(root, "procedural", "train", cache_dir, [])))
    first = env.episodes.episodes[0].scene
    ids = [e.episode_id for e in env.episodes.episodes if e.scene == first][:episodes]  # one scene
    rng = np.random.default_rng(0)
    return {"ids": ids, "actions": [[int(a) for a in rng.integers(3, size=19)] for _ in ids], "scene": first}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--measure":
        root, dataset, split, plan_path, cache_dir, *opts = argv[1:]
        print(json.dumps(measure(root, dataset, split, plan_path, cache_dir, opts)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, default=40)
    parser.add_argument("--rows", type=int, default=25)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--default-root", default="data/worlds/default")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)

    from audio_separation.env.sample_world import write_sample_world
    from audio_separation.env.settings import EnvSettings

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="large_scene_") as folder:
        root = os.path.join(folder, "mp3d_world")
        opts = ["WORLD.DATASET", "mp3d"]
        settings = EnvSettings.from_config(config_for(root, "mp3d", "val", os.path.join(folder, "probe_cache"), opts))
        started = time.perf_counter()
        world = write_sample_world(
            settings, "largeScene", args.columns, args.rows, args.episodes, rir_seconds=(0.3, 1.0), seed=0
        )
        written_s = time.perf_counter() - started
        plan = {"ids": world.episode_ids, "actions": world.actions}
        large = run_measure(root, "mp3d", "val", plan, os.path.join(folder, "cache_large"), [])
        reference_plan = default_plan(args.default_root, args.episodes, os.path.join(folder, "cache_probe"))
        default = run_measure(
            os.path.abspath(args.default_root),
            "procedural",
            "train",
            reference_plan,
            os.path.join(folder, "cache_default"),
            [],
        )
    ratio = default["warm_steps_per_s"] / large["warm_steps_per_s"]
    report = {"world": world.__dict__ | {"written_s": written_s}, "large": large, "default": default}
    report["world"].pop("actions")
    report["world"].pop("episode_ids")
    report["warm_step_time_ratio"] = ratio
    print(json.dumps(report, indent=1))
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    machine = f"{platform.machine()} {os.cpu_count()} cores, load avg {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    row = (
        f"| {datetime.date.today().isoformat()} | {commit} | {machine} "
        f"| {world.nodes} nodes, {world.rir_files} of {4 * world.nodes**2} | {large['construction_s']:.2f} / {large['first_reset_s']:.2f} "
        f"| {large['cold_steps_per_s']:.0f} / {large['warm_steps_per_s']:.0f} "
        f"| {default['cold_steps_per_s']:.0f} / {default['warm_steps_per_s']:.0f} ({reference_plan['scene']}) "
        f"| {ratio:.2f}x | {large['peak_rss_mb']:.0f} / {default['peak_rss_mb']:.0f} |"
    )
    print(row)
    if not args.no_append:
        append_row(SECTION, TABLE, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
