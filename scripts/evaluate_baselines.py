#!/usr/bin/env python
"""Evaluate a baseline agent (random, still, approach) with the separation metrics.

    python scripts/evaluate_baselines.py --exp-config configs/baselines/test.yaml --agent approach \
        --episodes 100 --output-dir runs/baselines/approach [KEY VALUE ...]

Writes <output-dir>/per_episode.json (trajectory and per-step metrics of every episode) and
<output-dir>/aggregate.json (mean, std and 95 % interval over episodes of each episode's mean).
There is no separator here: by default the estimate of the target is the MIXTURE itself (the "input"
baseline, so si_sdr equals input_si_sdr); evaluate(..., estimator=f) or --estimator module:function
scores a separator instead: f(observations of all envs at one step) -> (envs, F, T) mono magnitudes.
Episodes are taken in split order (ENV.SHUFFLE_EPISODES is turned off), the split's scenes shared
among NUM_PROCESSES envs as in training.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from audio_separation.audio.episode_metrics import aggregate, mixture_mono_estimate, step_metrics  # noqa: E402
from audio_separation.audio.stft import StftParams  # noqa: E402
from audio_separation.common.seeding import derive_seed  # noqa: E402
from audio_separation.config import ConfigError, get_config  # noqa: E402
from audio_separation.env import make_vector_env  # noqa: E402
from audio_separation.env.baseline_agents import AGENTS, make_agent  # noqa: E402
from audio_separation.env.settings import EnvSettings  # noqa: E402
from audio_separation.world.builder import build_world_if_absent  # noqa: E402

REQUIRED_SENSORS = ("MIXED_BINAURAL_MAGNITUDE", "GT_MONO", "TARGET_CLASS", "POSE")
Estimator = Callable[[dict[str, np.ndarray]], np.ndarray]


def evaluate(
    config,
    agent_name: str,
    num_episodes: int,
    output_dir: str,
    estimator: Estimator | None = None,
    estimator_name: str = "mixture",
    quirk_n_fft_1022: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Run `num_episodes` episodes with the agent, score every step, write the JSON files; returns the aggregate."""
    from tqdm import tqdm

    layout = build_world_if_absent(config, progress=progress)
    params = StftParams.from_config(config.AUDIO)
    length = int(config.AUDIO.SAMPLE_RATE * config.AUDIO.STEP_SECONDS)
    target_rms = float(config.AUDIO.TARGET_MONO_RMS)
    envs = make_vector_env(EnvSettings.from_config(config))
    count = envs.num_envs
    agents = [
        make_agent(agent_name, config.WORLD.HEADINGS, layout, derive_seed(config.SEED, 7, index))
        for index in range(count)
    ]
    episodes: list[dict[str, Any]] = []
    bar = tqdm(total=num_episodes, desc=f"evaluating {agent_name}", unit="episode", disable=not progress)
    try:
        while len(episodes) < num_episodes:
            episodes.extend(_run_round(envs, agents, estimator, params, length, target_rms, quirk_n_fft_1022))
            bar.update(min(count, num_episodes - bar.n))
    finally:
        bar.close()
        envs.close()
    episodes = episodes[:num_episodes]
    for episode in episodes:
        episode.update(agent=agent_name, estimate=estimator_name)
    summary = {
        "agent": agent_name,
        "estimate": estimator_name,
        "note": "no separator: the estimate is the mixture, so si_sdr == input_si_sdr"
        if estimator is None
        else "estimate from the given estimator",
        "split": config.TASK.SPLIT,
        "data_root": config.WORLD.DATA_ROOT,
        "num_episodes": len(episodes),
        "num_envs": count,
        "stft": {
            "n_fft": params.n_fft,
            "hop_length": params.hop_length,
            "fast": params.fast,
            "quirk_n_fft_1022": quirk_n_fft_1022,
        },
        "reached_target_fraction": float(np.mean([episode["reached_target"] for episode in episodes])),
        "metrics": aggregate(episodes),
    }
    os.makedirs(output_dir, exist_ok=True)
    _write_json(os.path.join(output_dir, "per_episode.json"), episodes)
    _write_json(os.path.join(output_dir, "aggregate.json"), summary)
    return summary


def _run_round(envs, agents, estimator, params, length, target_rms, quirk) -> list[dict[str, Any]]:
    """One episode in every env (all episodes have the same length); returns them in env order."""
    count = envs.num_envs
    observations, infos = envs.reset()
    per_env_info = [_info_of(infos, index) for index in range(count)]
    for agent, info in zip(agents, per_env_info):
        agent.reset(info)
    trajectories = [
        [{"step": 0, "node": info["node"], "heading": info["heading"], "action": None}] for info in per_env_info
    ]
    predictions, targets, phases, mixtures = [], [], [], []
    while True:
        mixture = mixture_mono_estimate(observations["mixed_binaural_magnitude"], target_rms)
        predictions.append(mixture if estimator is None else np.asarray(estimator(observations), dtype=np.float32))
        mixtures.append(mixture)
        targets.append(observations["gt_mono_magnitude"][..., 0])
        phases.append(observations["gt_mono_phase"][..., 0])
        if all(_ended(trajectory) for trajectory in trajectories):
            break
        actions = np.array(
            [
                agent.act(_observation_of(observations, index), info)
                for index, (agent, info) in enumerate(zip(agents, per_env_info))
            ]
        )
        observations, _, terminated, truncated, infos = envs.step(actions)
        per_env_info = [_info_of(infos, index) for index in range(count)]
        for index, info in enumerate(per_env_info):
            trajectories[index].append(
                {
                    "step": info["step"],
                    "node": info["node"],
                    "heading": info["heading"],
                    "action": int(actions[index]),
                    "done": bool(terminated[index] or truncated[index]),
                }
            )
    episodes = []
    for index in range(count):
        stacked = [np.stack([step[index] for step in series]) for series in (predictions, targets, phases, mixtures)]
        metrics = step_metrics(*stacked, params=params, length=length, quirk_n_fft_1022=quirk)
        info = per_env_info[index]
        episodes.append(
            {
                "episode_id": info["episode_id"],
                "scene": info["scene"],
                "target_node": info["target_node"],
                "reached_target": trajectories[index][-1]["node"] == info["target_node"],
                "trajectory": trajectories[index],
                "per_step": metrics,
                "mean": {name: float(np.mean(values)) for name, values in metrics.items()},
            }
        )
    return episodes


def _ended(trajectory: list[dict]) -> bool:
    return bool(trajectory[-1].get("done", False))


def _info_of(infos: dict, index: int) -> dict[str, Any]:
    return {key: _plain(value[index]) for key, value in infos.items() if not key.startswith("_")}


def _observation_of(observations: dict, index: int) -> dict[str, np.ndarray]:
    return {key: value[index] for key, value in observations.items()}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _write_json(path: str, payload: Any) -> None:
    temporary = f"{path}.tmp"
    with open(temporary, "w") as handle:
        json.dump(payload, handle, indent=1, allow_nan=True)
    os.replace(temporary, path)


def load_estimator(spec: str) -> Estimator:
    """'package.module:function' -> the callable."""
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        raise ValueError(f"--estimator must look like 'package.module:function', got {spec!r}")
    return getattr(importlib.import_module(module_name), attribute)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp-config", required=True)
    parser.add_argument("--agent", required=True, choices=AGENTS)
    parser.add_argument("--episodes", type=int, required=True)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument(
        "--estimator", default=None, help="package.module:function returning (envs, F, T) target mono magnitudes"
    )
    parser.add_argument(
        "--quirk-n-fft-1022", action="store_true", help="invert with the original's n_fft 1022 (QUIRK) for SI-SDR"
    )
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides as KEY VALUE pairs")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("--episodes must be >= 1")
    try:
        config = get_config(
            args.exp_config,
            [
                *args.opts,
                "ENV.SHUFFLE_EPISODES",
                "False",
                "ENV.AUTORESET_MODE",
                "disabled",
                "ENV.COPY_OBSERVATIONS",
                "True",
            ],
            run_type="eval",
        )
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    missing = [name for name in REQUIRED_SENSORS if name not in config.TASK.SENSORS]
    if missing:
        print(f"error: TASK.SENSORS lacks {missing}, which the evaluation needs", file=sys.stderr)
        return 2
    estimator = load_estimator(args.estimator) if args.estimator else None
    summary = evaluate(
        config,
        args.agent,
        args.episodes,
        args.output_dir,
        estimator=estimator,
        estimator_name=args.estimator or "mixture",
        quirk_n_fft_1022=args.quirk_n_fft_1022,
        progress=not args.no_progress,
    )
    for name, values in summary["metrics"].items():
        print(f"{name}: {values['mean']:.4f}  (95% interval {values['ci95_low']}, {values['ci95_high']})")
    print(
        f"reached target: {summary['reached_target_fraction']:.2%}; wrote {args.output_dir}/per_episode.json and aggregate.json"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
