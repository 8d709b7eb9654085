#!/usr/bin/env python
"""Regenerate the README's results table from run directories (each holding the separation_quality.json
that scripts/compute_separation_quality.py writes), one row per run and clip set, each row naming the
commit, config hashes, seeds and machine that produced it. Runs with different seeds side by side show
the run-to-run spread.

    python scripts/results_table.py --run-dir runs/quickstart/rl --run-dir runs/quickstart_seed1/rl \
        [--write README.md]

Without --write the table is printed; with it, the text between the markers
<!-- results-table:begin --> and <!-- results-table:end --> in that file is replaced.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

BEGIN, END = "<!-- results-table:begin -->", "<!-- results-table:end -->"
COMPARISONS = ("policy refined - policy passive", "policy refined - random refined", "policy refined - still refined")


def _interval(entry: dict | None) -> str:
    if not entry or entry.get("mean") is None:
        return "-"
    if entry.get("ci95_low") is None:
        return f"{entry['mean']:+.2f}"
    return f"{entry['mean']:+.2f} [{entry['ci95_low']:+.2f}, {entry['ci95_high']:+.2f}]"


def table(run_dirs: list[str]) -> str:
    """The markdown table (and a provenance list under it) for the given run directories."""
    rows, notes = [], []
    for number, run_dir in enumerate(run_dirs, start=1):
        path = os.path.join(run_dir, "separation_quality.json")
        if not os.path.isfile(path):
            raise SystemExit(f"error: {path} not found: run scripts/compute_separation_quality.py on {run_dir} first")
        with open(path) as handle:
            results = json.load(handle)
        info = results.get("provenance")
        if info is None:
            raise SystemExit(f"error: {path} records no provenance (made by older code): regenerate it")
        for clips, block in results["clips"].items():
            meta = info["clips"][clips]
            policy = block["agents"].get("policy", {})
            differences = [_interval(block["comparisons"].get(name, {}).get("si_sdr")) for name in COMPARISONS]
            reached = policy.get("reached_target_fraction")
            rows.append(
                f"| {number} | {info['commit']} | {meta['train_seed']} | {clips} ({block['split']}) | "
                f"{policy.get('num_episodes', '-')} | " + " | ".join(differences) + " | "
                f"{'-' if reached is None else f'{reached:.0%}'} |"
            )
        first = next(iter(info["clips"].values()))
        notes.append(
            f"{number}. `{run_dir}`: commit {info['commit']}, {info['date']}, {info['machine']}; train config "
            f"{first['train_config_hash']}, eval config {first['eval_config_hash']} (eval seed {first['eval_seed']})"
        )
    header = (
        "| run | commit | train seed | clips (split) | episodes | refined - passive SI-SDR dB [95 % CI] | "
        "policy - random | policy - still | reached target |\n|---|---|---|---|---|---|---|---|---|"
    )
    return "\n".join([header, *rows, "", *notes])


def write_between_markers(path: str, text: str) -> None:
    with open(path) as handle:
        content = handle.read()
    if BEGIN not in content or END not in content:
        raise SystemExit(f"error: {path} lacks the markers {BEGIN} ... {END}")
    start, end = content.index(BEGIN) + len(BEGIN), content.index(END)
    with open(path, "w") as handle:
        handle.write(content[:start] + "\n" + text + "\n" + content[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", action="append", required=True, help="an RL run dir (repeat for more seeds)")
    parser.add_argument("--write", default="", help="a markdown file with the results-table markers")
    args = parser.parse_args(argv)
    text = table(args.run_dir)
    if args.write:
        write_between_markers(args.write, text)
        print(f"wrote the table into {args.write}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
