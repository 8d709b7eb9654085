#!/usr/bin/env python
"""Learning curves of one or more runs as one PNG, read from their tensorboard logs (<run dir>/tb).

    python scripts/plot_training.py --run-dir runs/quickstart/rl --run-dir runs/quickstart_seed1/rl \
        --output runs/quickstart/learning_curves.png [--tags reward/episode_return metrics/refined_nmse ...]

One panel per tag (default: every scalar tag the runs share, in name order), x = the tag's step (env
steps for RL runs, optimiser steps for passive and NAF runs), one line per run labelled by its folder,
with a moving average (--smooth N updates) over the raw values drawn faintly behind it. Also prints, per
run and tag, the first and last smoothed value, so a text log says what the picture shows.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np


def read_scalars(run_dir: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{tag: (steps, values)} of every scalar in <run_dir>/tb (or run_dir itself if it holds the events)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder = os.path.join(run_dir, "tb") if os.path.isdir(os.path.join(run_dir, "tb")) else run_dir
    if not any(name.startswith("events.out.tfevents") for name in os.listdir(folder)):
        raise SystemExit(f"error: no tensorboard event files in {folder}: is {run_dir} a run directory?")
    accumulator = EventAccumulator(folder, size_guidance={"scalars": 0})  # 0: keep every point
    accumulator.Reload()
    scalars = {}
    for tag in accumulator.Tags()["scalars"]:
        events = accumulator.Scalars(tag)
        steps = np.array([event.step for event in events], dtype=np.int64)
        values = np.array([event.value for event in events], dtype=np.float64)
        order = np.argsort(steps, kind="stable")  # a resumed run appends; keep the last value per step
        steps, values = steps[order], values[order]
        last = np.r_[steps[1:] != steps[:-1], True]
        scalars[tag] = (steps[last], values[last])
    return scalars


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average over `window` points (the first points average what exists so far)."""
    if window <= 1 or len(values) == 0:
        return values
    cumulative = np.cumsum(np.r_[0.0, values])
    index = np.arange(1, len(values) + 1)
    start = np.maximum(index - window, 0)
    return (cumulative[index] - cumulative[start]) / (index - start)


def plot(runs: dict[str, dict], tags: list[str], output: str, window: int) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(3, len(tags))
    rows = (len(tags) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.2 * rows), squeeze=False)
    lines = []
    for axis, tag in zip(axes.flat, tags):
        for label, scalars in runs.items():
            if tag not in scalars:
                continue
            steps, values = scalars[tag]
            smoothed = smooth(values, window)
            (line,) = axis.plot(steps, smoothed, label=label, linewidth=1.4)
            axis.plot(steps, values, color=line.get_color(), alpha=0.2, linewidth=0.6)
            lines.append(f"{label}  {tag}: {smoothed[0]:.4g} -> {smoothed[-1]:.4g} ({len(values)} points)")
        axis.set_title(tag, fontsize=10)
        axis.grid(alpha=0.3)
        axis.tick_params(labelsize=8)
    for axis in list(axes.flat)[len(tags) :]:
        axis.axis("off")
    axes.flat[0].legend(fontsize=8)
    figure.suptitle(f"moving average over {window} points (raw values faint)", fontsize=10)
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    figure.savefig(output, dpi=100)
    plt.close(figure)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", action="append", required=True, help="a run directory (repeatable)")
    parser.add_argument("--output", required=True, help="the PNG to write")
    parser.add_argument("--tags", nargs="*", default=None, help="scalar tags to plot (default: all shared)")
    parser.add_argument("--smooth", type=int, default=20, help="moving-average window in points (1 = off)")
    args = parser.parse_args(argv)
    runs = {}
    for run_dir in args.run_dir:
        runs[run_dir.rstrip("/")] = read_scalars(run_dir)
    shared = sorted(set.intersection(*(set(scalars) for scalars in runs.values())))
    tags = args.tags or shared
    unknown = [tag for tag in tags if not any(tag in scalars for scalars in runs.values())]
    if unknown:
        raise SystemExit(f"error: no run logs the tags {unknown}; the runs log: {shared}")
    if not tags:
        raise SystemExit("error: the runs share no scalar tag; name some with --tags")
    for line in plot(runs, tags, args.output, args.smooth):
        print(line)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
