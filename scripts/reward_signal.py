#!/usr/bin/env python
"""How well a reward tells a good agent from a bad one: the episode returns of baseline agents
(env/agents.py: approach, random, still, ...) under the config's RL.REWARD, on the same episodes, with
their spread. A reward PPO can learn from separates the privileged approach agent from standing still by
much more than the returns' spread (docs/results.md, "Why plain PPO does not learn here").

    python scripts/reward_signal.py --exp-config configs/quickstart/train/nearTarget.yaml --rounds 3 \
        [--agents approach,random,still] RL.SEPARATOR_CHECKPOINT runs/quickstart/passive/data/best_ckpt_nonoverlapping_val.pth \
        [RL.REWARD pose_gain TASK.SENSORS "[..., 'MIXED_BINAURAL_STAY', ...]"] [NUM_PROCESSES 8]

Each round runs one episode per env for every agent with the same seeds (so the agents meet the same
episodes); the memory is a fresh (untrained) one, so the refined estimate is the passive one at first.
Prints per agent the mean and standard deviation of the returns (sum of the episode's rewards) and the
paired difference to the last agent with its 95 % interval.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy import stats  # noqa: E402

from audio_separation.audio.settings import AudioSettings  # noqa: E402
from audio_separation.config import get_config  # noqa: E402
from audio_separation.env import make_vector_env  # noqa: E402
from audio_separation.env.agents import make_agent  # noqa: E402
from audio_separation.rl.agent_checkpoint import ActiveSeparationAgent, agent_settings  # noqa: E402
from audio_separation.rl.environment import rl_env_settings  # noqa: E402
from audio_separation.rl.frozen_separator import load_frozen_separator  # noqa: E402
from audio_separation.rl.rollout import RolloutSettings, run_episodes  # noqa: E402
from audio_separation.rl.rollout_storage import RolloutStorage  # noqa: E402
from audio_separation.world.open import open_world  # noqa: E402
from audio_separation.world.soundspaces import HEADINGS  # noqa: E402


def agent_rollouts(config, observation_keys: tuple[str, ...] = ()):
    """What baseline agents' episodes need: (frozen separator, a fresh memory, world layout, vector env,
    rollout storage keeping `observation_keys`, rollout settings). The caller closes the env."""
    separator, _ = load_frozen_separator(config)
    memory = ActiveSeparationAgent(agent_settings(config)).eval().memory
    layout = open_world(config.WORLD.DATA_ROOT, config.WORLD.DATASET)
    envs = make_vector_env(rl_env_settings(config, evaluation=True))
    audio = AudioSettings.from_config(config)
    storage = RolloutStorage(
        int(config.TASK.MAX_EPISODE_STEPS),
        envs.num_envs,
        audio.num_freq_bins,
        audio.num_frames,
        {key: envs.single_observation_space[key] for key in observation_keys},
        memory_mixture=memory.mixture_input,
    )
    return separator, memory, layout, envs, storage, RolloutSettings.from_config(config)


def episode_returns(config, agent_names: list[str], rounds: int) -> dict[str, np.ndarray]:
    """agent -> (rounds x envs,) episode returns under config.RL.REWARD, the same episodes for every agent."""
    torch.manual_seed(int(config.SEED))
    separator, memory, layout, envs, storage, settings = agent_rollouts(config)
    returns: dict[str, list[float]] = {name: [] for name in agent_names}
    try:
        for round_index in range(rounds):
            seeds = [1000 * round_index + index for index in range(envs.num_envs)]
            for name in agent_names:
                agents = [make_agent(name, HEADINGS, layout, index) for index in range(envs.num_envs)]
                run_episodes(envs, separator, memory, storage, settings, agents=agents, seeds=seeds)
                returns[name] += storage.rewards[: storage.episode_length - 1].sum(dim=0).tolist()
    finally:
        envs.close()
    return {name: np.asarray(values) for name, values in returns.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp-config", required=True)
    parser.add_argument("--rounds", type=int, default=3, help="episodes per env and agent")
    parser.add_argument("--agents", default="approach,random,still", help="comma-separated; the last is the reference")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides as KEY VALUE pairs")
    args = parser.parse_args(argv)
    config = get_config(args.exp_config, args.opts)
    torch.set_num_threads(max(int(config.RL.NUM_THREADS), 1))
    names = [name for name in args.agents.split(",") if name]
    returns = episode_returns(config, names, args.rounds)
    reference = names[-1]
    print(f"RL.REWARD {config.RL.REWARD}, {len(returns[reference])} episodes per agent")
    for name in names:
        values = returns[name]
        line = f"{name}: return {values.mean():+.4f} (std {values.std(ddof=1):.4f})"
        if name != reference:
            difference = values - returns[reference]
            half = stats.t.ppf(0.975, len(difference) - 1) * difference.std(ddof=1) / np.sqrt(len(difference))
            line += (
                f"; - {reference}: {difference.mean():+.4f} [{difference.mean() - half:+.4f}, {difference.mean() + half:+.4f}],"
                f" signal / spread {difference.mean() / values.std(ddof=1):+.2f}"
            )
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
