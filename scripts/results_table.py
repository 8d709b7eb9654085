#!/usr/bin/env python
"""Regenerate the README's results table from run directories (each holding the separation_quality.json
that scripts/compute_separation_quality.py writes), one row per run and clip set, each row naming the
commit, config hashes, seeds and machine that produced it. Runs with different seeds side by side show
the run-to-run spread.

    python scripts/results_table.py --run-dir runs/quickstart/rl --run-dir runs/quickstart_seed1/rl \
        [--write README.md] [--marker results-table] [--input separation_quality]

Without --write the table is printed; with it, the text between the markers
<!-- MARKER:begin --> and <!-- MARKER:end --> in that file is replaced (MARKER results-table unless
--marker says otherwise, e.g. benchmark-world-table in BENCHMARKS.md). --input names the tables file of
each run dir (baselines_quality for the paper's baseline agents). The columns are refined - passive of
the policy, then policy - <agent> (refined estimates) for every other agent of the runs, in their order.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

BEGIN, END = "<!-- results-table:begin -->", "<!-- results-table:end -->"
SELF = "policy refined - policy passive"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def _interval(entry: dict | None) -> str:
    if not entry or entry.get("mean") is None:
        return "-"
    if entry.get("ci95_low") is None:
        return f"{entry['mean']:+.2f}"
    return f"{entry['mean']:+.2f} [{entry['ci95_low']:+.2f}, {entry['ci95_high']:+.2f}]"


def _load(run_dir: str, name: str) -> dict:
    path = os.path.join(run_dir, f"{name}.json")
    if not os.path.isfile(path):
        raise SystemExit(f"error: {path} not found: run scripts/compute_separation_quality.py on {run_dir} first")
    with open(path) as handle:
        results = json.load(handle)
    if results.get("provenance") is None:
        raise SystemExit(f"error: {path} records no provenance (made by older code): regenerate it")
    return results


def table(run_dirs: list[str], name: str = "separation_quality") -> str:
    """The markdown table (and a provenance list under it) for the given run directories."""
    loaded = [_load(run_dir, name) for run_dir in run_dirs]
    baselines: list[str] = []
    for results in loaded:
        for block in results["clips"].values():
            baselines += [agent for agent in block["agents"] if agent != "policy" and agent not in baselines]
    comparisons = [SELF, *(f"policy refined - {agent} refined" for agent in baselines)]
    rows, notes = [], []
    for number, (run_dir, results) in enumerate(zip(run_dirs, loaded), start=1):
        info = results["provenance"]
        for clips, block in results["clips"].items():
            meta = info["clips"][clips]
            policy = block["agents"].get("policy", {})
            differences = [_interval(block["comparisons"].get(column, {}).get("si_sdr")) for column in comparisons]
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
    columns = [
        "run",
        "commit",
        "train seed",
        "clips (split)",
        "episodes",
        "refined - passive SI-SDR dB [95 % CI]",
        *(f"policy - {agent}" for agent in baselines),
        "reached target",
    ]
    header = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns)
    return "\n".join([header, *rows, "", *notes])


def write_between_markers(path: str, text: str, marker: str = "results-table") -> None:
    begin, end_marker = markers(marker)
    with open(path) as handle:
        content = handle.read()
    if begin not in content or end_marker not in content:
        raise SystemExit(f"error: {path} lacks the markers {begin} ... {end_marker}")
    start, end = content.index(begin) + len(begin), content.index(end_marker)
    with open(path, "w") as handle:
        handle.write(content[:start] + "\n" + text + "\n" + content[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", action="append", required=True, help="an RL run dir (repeat for more seeds)")
    parser.add_argument("--write", default="", help="a markdown file with the MARKER:begin / MARKER:end comments")
    parser.add_argument(
        "--marker", default="results-table", help="name in the begin/end comments (default results-table)"
    )
    parser.add_argument(
        "--input",
        default="separation_quality",
        help="tables file of each run dir, without .json (default separation_quality)",
    )
    args = parser.parse_args(argv)
    text = table(args.run_dir, args.input)
    if args.write:
        write_between_markers(args.write, text, args.marker)
        print(f"wrote the table into {args.write}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
