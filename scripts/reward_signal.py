#!/usr/bin/env python
"""How well a reward tells a good agent from a bad one: the episode returns of baseline agents
(env/agents.py: approach, random, still, ...) under the config's RL.REWARD, on the same episodes, with
their spread. A reward PPO can learn from separates the privileged approach agent from standing still by
much more than the returns' spread (docs/results.md, "Why plain PPO does not learn here").

    python scripts/reward_signal.py --exp-config configs/quickstart/train/nearTarget.yaml --rounds 3 \
        [--agents approach,random,still] RL.SEPARATOR_CHECKPOINT runs/quickstart/passive/data/best_ckpt_nonoverlapping_val.pth \
        [RL.REWARD pose_gain TASK.SENSORS "[..., 'MIXED_BINAURAL_STAY', ...]"] [NUM_PROCESSES 8]

Every agent runs `--rounds` episodes per env, the first ones of each env's share of the split in split order
(so the agents meet the same episodes, all distinct while rounds x envs <= the split's size); the memory is a fresh (untrained) one, so the refined estimate is the passive one at first.
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


def agent_rollouts(config, observation_keys: tuple[str, ...] = (), shuffle: bool = False):
    """What baseline agents' episodes need: (frozen separator, a fresh memory, world layout, vector env,
    rollout storage keeping `observation_keys`, rollout settings). The caller closes the env.

    Episodes: a seeded reset starts each env's pass over its episodes afresh (split order, or with `shuffle` a
    permutation drawn from the seed) and every later reset without seeds takes the next one, so seed only the
    first round: seeding every round would replay each env's first episode."""
    separator, _ = load_frozen_separator(config)
    memory = ActiveSeparationAgent(agent_settings(config)).eval().memory
    layout = open_world(config.WORLD.DATA_ROOT, config.WORLD.DATASET)
    envs = make_vector_env(rl_env_settings(config, evaluation=True).replace(shuffle_episodes=shuffle))
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


class EpisodeNoted:
    """A baseline agent that notes the id of each episode it starts."""

    def __init__(self, agent) -> None:
        self.agent, self.episode_id = agent, ""

    def reset(self, info) -> None:
        self.agent.reset(info)
        self.episode_id = str(info["episode_id"])

    def act(self, observation, info) -> int:
        return self.agent.act(observation, info)


def episode_returns(config, agent_names: list[str], rounds: int) -> tuple[dict[str, np.ndarray], list[str]]:
    """(agent -> (rounds x envs,) episode returns under config.RL.REWARD, the episode ids in that order): every
    agent meets the same episodes (the first `rounds` of each env's share of the split, in split order)."""
    torch.manual_seed(int(config.SEED))
    separator, memory, layout, envs, storage, settings = agent_rollouts(config)
    returns: dict[str, list[float]] = {name: [] for name in agent_names}
    episode_ids: dict[str, list[str]] = {name: [] for name in agent_names}
    try:
        for name in agent_names:
            for round_index in range(rounds):
                seeds = list(range(envs.num_envs)) if round_index == 0 else None  # round 0 restarts the pass
                agents = [
                    EpisodeNoted(make_agent(name, HEADINGS, layout, 1000 * round_index + index))
                    for index in range(envs.num_envs)
                ]
                run_episodes(envs, separator, memory, storage, settings, agents=agents, seeds=seeds)
                returns[name] += storage.rewards[: storage.episode_length - 1].sum(dim=0).tolist()
                episode_ids[name] += [agent.episode_id for agent in agents]
    finally:
        envs.close()
    order = episode_ids[agent_names[0]]
    if any(ids != order for ids in episode_ids.values()):
        raise RuntimeError("the agents met different episodes; the paired differences would be meaningless")
    return {name: np.asarray(values) for name, values in returns.items()}, order


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
    returns, episode_ids = episode_returns(config, names, args.rounds)
    reference = names[-1]
    print(
        f"RL.REWARD {config.RL.REWARD}, {len(returns[reference])} episodes per agent "
        f"({len(set(episode_ids))} distinct, split {config.TASK.SPLIT})"
    )
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
