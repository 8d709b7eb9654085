#!/usr/bin/env python
"""Score an agent (random, still, rotate, novelty, heuristic, approach) on a split without a trained
policy, through the same rollout loop and scorer as trained agents (rl/evaluation.Evaluator).

    python scripts/evaluate_baselines.py --exp-config configs/baselines/test.yaml --agent novelty \
        --episodes 100 --output-dir runs/baselines/novelty [--separator-checkpoint PATH] [KEY VALUE ...]

Estimates: by default the target's estimate is the MIXTURE itself (models/stand_ins.MixtureSeparator:
the "input" baseline, so si_sdr equals input_si_sdr); --separator-checkpoint scores a passive separator
(trainer "passive") instead. No memory is trained here: the refined estimate equals the passive one.
Writes <output-dir>/per_episode.json, aggregate.json (mean, std and 95 % interval over episodes) and an
index.html; media for the first EVAL.MEDIA_EPISODES episodes (default 0 here). Episodes are taken in
split order, the split's scenes shared among NUM_PROCESSES envs as in training.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from audio_separation.common.files import write_json_atomic  # noqa: E402
from audio_separation.config import ConfigError, get_config  # noqa: E402
from audio_separation.env.agents import agent_names  # noqa: E402
from audio_separation.models.stand_ins import IdentityMemory, MixtureSeparator  # noqa: E402
from audio_separation.rl.evaluation import Evaluator  # noqa: E402
from audio_separation.rl.frozen_separator import load_frozen_separator  # noqa: E402
from audio_separation.rl.rollout import RolloutSettings  # noqa: E402
from audio_separation.run_context import build_run_context  # noqa: E402


def evaluate(config, agent_name: str, output_dir: str, separator_checkpoint: str = "") -> dict:
    """Score `agent_name` on EVAL.NUM_EPISODES episodes of TASK.SPLIT; returns the aggregate summary."""
    run = build_run_context(config)
    if separator_checkpoint:
        separator, description = load_frozen_separator(config, run.device.device, path=separator_checkpoint)
    else:
        separator = MixtureSeparator(float(config.AUDIO.TARGET_MONO_RMS)).to(run.device.device)
        description = {"path": None, "estimate": "mixture"}
    settings = RolloutSettings.from_config(config, deterministic=True)
    label = os.path.basename(separator_checkpoint) if separator_checkpoint else "mixture"
    summary = Evaluator(run).score_episodes(output_dir, separator, IdentityMemory(), settings, agent_name, label=label)
    summary = {
        "estimate": "separator" if separator_checkpoint else "mixture",
        "note": "refined = passive (no memory); with the mixture estimate si_sdr == input_si_sdr",
        "separator": description,
        **summary,
    }
    write_json_atomic(os.path.join(output_dir, "aggregate.json"), summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp-config", required=True)
    parser.add_argument("--agent", required=True, choices=agent_names())
    parser.add_argument("--episodes", type=int, required=True)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--separator-checkpoint", default="", help="a passive checkpoint; default: the mixture")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides as KEY VALUE pairs")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("--episodes must be >= 1")
    try:
        overrides = ["EVAL.MEDIA_EPISODES", "0", *args.opts, "EVAL.NUM_EPISODES", str(args.episodes)]
        config = get_config(args.exp_config, [*overrides, "EVAL.AGENT", args.agent], run_type="eval")
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = evaluate(config, args.agent, args.output_dir, args.separator_checkpoint)
    for name, values in summary["metrics"]["passive"].items():
        print(f"{name}: {values['mean']:.4f}  (95% interval {values['ci95_low']}, {values['ci95_high']})")
    print(f"reached target: {summary['reached_target_fraction']:.0%}; results in {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
