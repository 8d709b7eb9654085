#!/usr/bin/env python
"""The separation-quality tables: heard / unheard clips x passive / refined estimate x the trained agent
and each baseline agent, with 95 % intervals (the original computed these in notebooks).

    python scripts/compute_separation_quality.py --model-dir runs/quickstart/rl \
        --heard-config configs/quickstart/test/nearTarget.yaml --unheard-config configs/quickstart/test/nearTarget_unheard.yaml \
        [--agents policy,random,still,approach] [--parallel 2] [--output NAME] [KEY VALUE ...]

Either config may be left out (e.g. the paper's baselines on unheard clips only:
--unheard-config ... --agents policy,rotate,novelty,heuristic --output baselines_quality).

The trained agent uses the checkpoint find_best_checkpoint.py chose for those clips
(<model-dir>/best_checkpoints.json; the latest ckpt.N.pth when absent). Baseline agents
(env/agents.py) act instead of the policy but go through the same frozen separator and trained
memory, so the comparison isolates where the agent goes. Besides the per-agent summaries, the paired
differences on the same episodes (trained minus baseline, refined minus passive) are reported with their
95 % intervals: a difference whose interval lies above 0 is a win. Writes <model-dir>/<NAME>.json and .md
(NAME separation_quality unless --output says otherwise), and prints the markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from audio_separation.common.checkpoint import latest_checkpoint  # noqa: E402
from audio_separation.common.files import write_bytes_atomic, write_json_atomic  # noqa: E402
from audio_separation.common.provenance import config_hash, provenance  # noqa: E402
from audio_separation.rl.eval_jobs import EvalJob, paired_difference, run_jobs  # noqa: E402

TRAINED = "policy"


def checkpoint_for(model_dir: str, clips: str) -> str:
    chosen_path = os.path.join(model_dir, "best_checkpoints.json")
    if os.path.isfile(chosen_path):
        with open(chosen_path) as handle:
            chosen = json.load(handle)
        if clips in chosen:
            return chosen[clips]["copy"]
    latest = latest_checkpoint(os.path.join(model_dir, "data"))
    if latest is None:
        raise SystemExit(f"error: no checkpoint in {model_dir}/data: train (and run find_best_checkpoint.py) first")
    return latest


def compute(
    model_dir: str,
    configs: dict[str, str],
    agents: list[str],
    opts: list[str],
    parallel: int = 1,
    output: str = "separation_quality",
) -> dict[str, Any]:
    jobs, keys = [], []
    for clips, config in configs.items():
        checkpoint = checkpoint_for(model_dir, clips)
        for agent in agents:
            extra = ["EVAL.AGENT", agent] + ([] if agent == TRAINED else ["EVAL.MEDIA_EPISODES", "0"])
            jobs.append(EvalJob(config, model_dir, checkpoint, (*opts, *extra)))
            keys.append((clips, agent))
    produced_by = run_provenance(model_dir, configs, opts)  # before the evaluations: the code they run
    summaries = dict(zip(keys, run_jobs(jobs, parallel)))
    results: dict[str, Any] = {"clips": {}, "provenance": produced_by}
    for clips in configs:
        per_agent = {agent: summaries[(clips, agent)] for agent in agents}
        episodes = {
            agent: json.load(open(os.path.join(summary["results_dir"], "per_episode.json")))
            for agent, summary in per_agent.items()
        }
        comparisons = {}
        if TRAINED in agents:
            comparisons["policy refined - policy passive"] = _paired_self(episodes[TRAINED])
            for agent in agents:
                if agent != TRAINED:
                    for estimate in ("refined", "passive"):
                        comparisons[f"policy {estimate} - {agent} {estimate}"] = {
                            metric: paired_difference(episodes[TRAINED], episodes[agent], estimate, metric)
                            for metric in ("si_sdr", "stft_distance")
                        }
        results["clips"][clips] = {
            "split": per_agent[agents[0]]["split"],
            "checkpoint": per_agent[agents[0]]["checkpoint"],
            "agents": {
                agent: {
                    "metrics": s["metrics"],
                    "num_episodes": s["num_episodes"],
                    "reached_target_fraction": s["reached_target_fraction"],
                    "results_dir": s["results_dir"],
                }
                for agent, s in per_agent.items()
            },
            "comparisons": comparisons,
        }
    write_json_atomic(os.path.join(model_dir, f"{output}.json"), results)
    write_bytes_atomic(os.path.join(model_dir, f"{output}.md"), to_markdown(results).encode())
    return results


def run_provenance(model_dir: str, configs: dict[str, str], opts: list[str]) -> dict[str, Any]:
    """What produced the table: this code's commit, the machine, and per clip set the training config's
    hash and seed (from the evaluated checkpoint) and the evaluation config's hash and seed."""
    import torch

    from audio_separation.config import get_config

    per_clips = {}
    for clips, path in configs.items():
        checkpoint = checkpoint_for(model_dir, clips)
        trained = torch.load(checkpoint, map_location="cpu", weights_only=False).get("config") or ""
        evaluation = get_config(path, list(opts), model_dir=model_dir, run_type="eval")
        trained_seed = next(
            (line.split(":", 1)[1].strip() for line in trained.splitlines() if line.startswith("SEED:")), None
        )
        per_clips[clips] = {
            "checkpoint": os.path.basename(checkpoint),
            "train_config_hash": config_hash(trained) if trained else None,
            "train_seed": None if trained_seed is None else int(trained_seed),
            "eval_config": path,
            "eval_config_hash": config_hash(evaluation.dump()),
            "eval_seed": int(evaluation.SEED),
        }
    return provenance(model_dir=model_dir, clips=per_clips)


def provenance_line(results: dict[str, Any]) -> str:
    """One markdown line naming the commit, config hashes, seeds and machine of a results table."""
    info = results.get("provenance")
    if not info:
        return "(no provenance recorded: produced before tables recorded their commit)"
    parts = [
        f"{clips}: {entry['checkpoint']}, train config {entry['train_config_hash']} (seed {entry['train_seed']}), "
        f"eval config {entry['eval_config_hash']} (seed {entry['eval_seed']})"
        for clips, entry in info["clips"].items()
    ]
    return f"commit {info['commit']}, {info['date']}, {info['machine']}; " + "; ".join(parts)


def _paired_self(episodes: list[dict[str, Any]]) -> dict[str, Any]:
    """refined - passive of the same agent on the same episodes."""
    as_passive = [{"episode_id": e["episode_id"], "mean": {"refined": e["mean"]["passive"]}} for e in episodes]
    return {
        metric: paired_difference(episodes, as_passive, "refined", metric) for metric in ("si_sdr", "stft_distance")
    }


def _interval(summary: dict[str, Any], digits: int = 2) -> str:
    if summary.get("mean") is None:
        return "n/a"
    if summary.get("ci95_low") is None:
        return f"{summary['mean']:.{digits}f}"
    return f"{summary['mean']:.{digits}f} [{summary['ci95_low']:.{digits}f}, {summary['ci95_high']:.{digits}f}]"


def to_markdown(results: dict[str, Any]) -> str:
    lines = [f"Produced by {provenance_line(results)}.", ""]
    for clips, block in results["clips"].items():
        lines += [
            f"### {clips} clips ({block['split']}, checkpoint {os.path.basename(block['checkpoint'])})",
            "",
            "| agent | estimate | SI-SDR dB [95 % CI] | SI-SDRi dB | STFT distance [95 % CI] | mixture SI-SDR dB | episodes | reached target |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for agent, entry in block["agents"].items():
            for estimate in ("passive", "refined"):
                metrics = entry["metrics"][estimate]
                lines.append(
                    f"| {agent} | {estimate} | {_interval(metrics['si_sdr'])} | {_interval(metrics['si_sdr_improvement'])} | "
                    f"{_interval(metrics['stft_distance'], 4)} | {_interval(metrics['input_si_sdr'])} | {entry['num_episodes']} | {entry['reached_target_fraction']:.0%} |"
                )
        if block["comparisons"]:
            lines += [
                "",
                "| paired difference (same episodes) | SI-SDR dB [95 % CI] | STFT distance [95 % CI] | SI-SDR verdict |",
                "|---|---|---|---|",
            ]
            for name, difference in block["comparisons"].items():
                si_sdr = difference["si_sdr"]
                verdict = (
                    "n/a"
                    if si_sdr["ci95_low"] is None
                    else (
                        "better"
                        if si_sdr["ci95_low"] > 0
                        else ("worse" if si_sdr["ci95_high"] < 0 else "not significant")
                    )
                )
                lines.append(
                    f"| {name} | {_interval(si_sdr)} | {_interval(difference['stft_distance'], 4)} | {verdict} |"
                )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--heard-config", default="", help="eval config of the test split with heard clips (test)")
    parser.add_argument(
        "--unheard-config", default="", help="eval config of the test split with unheard clips (testUnheard)"
    )
    parser.add_argument(
        "--agents",
        type=lambda text: [name for name in text.split(",") if name],
        default=[TRAINED, "random", "still"],
        help="comma-separated: 'policy' (the trained agent) and registered agents random, still, rotate, novelty, "
        "heuristic, approach (default policy,random,still)",
    )
    parser.add_argument(
        "--output", default="separation_quality", help="file name (no extension) of the tables in --model-dir"
    )
    parser.add_argument("--parallel", type=int, default=1, help="evaluations run at once, each in its own process")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides as KEY VALUE pairs")
    args = parser.parse_args(argv)
    configs = {clips: path for clips, path in (("heard", args.heard_config), ("unheard", args.unheard_config)) if path}
    if not configs:
        parser.error("give --heard-config, --unheard-config, or both")
    if not os.path.basename(args.output) == args.output or not args.output:
        parser.error(f"--output must be a plain file name without folders, got {args.output!r}")
    results = compute(args.model_dir, configs, args.agents, args.opts, args.parallel, args.output)
    print(to_markdown(results))
    print(f"wrote {os.path.join(args.model_dir, args.output + '.json')} and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
