#!/usr/bin/env python
"""Can the policy's encoders tell which way the target is? A supervised probe of the policy inputs.

Plain PPO has to learn, from its reward alone, to turn toward the target and walk to it. This script asks
whether the information is in the policy's inputs at all: it collects states from random-agent episodes
(the frozen separator's binaural target estimate, its mono estimate as the refined one of an untrained
memory, the RGB view) labelled with the privileged approach agent's optimal actions (ApproachAgent.
optimal_actions: every action on some shortest path to the target), then trains the policy network itself
(models/policy.ActorCritic, one step from a zero GRU state) on those labels for each variant and scores it
on held-out episodes (by default the val split's, other scenes):

    paper          the paper's inputs (log1p spectrograms, RGB)
    gain<G>        the magnitudes scaled by G before the encoders' log1p (observation scaling: log1p(G x)
                   is ~log x where the paper's log1p is ~linear)
    interaural     + the interaural level features (RL.POLICY.INTERAURAL_BANDS, this project's addition)
    norgb          without the RGB encoder (audio only)
    reward         learn from the rewards instead of the labels: the actor's outputs regress the standardised
                   reward (RL.REWARD) of the action the random agent took; argmax = the one-step-greedy policy
                   (what PPO with RL.PPO.GAMMA 0 can learn, here from clean offline epochs)
    frac<F>        train on the first fraction F of the training states (fewer episodes)
    tokens combine with "+", e.g. gain1000+norgb

    python scripts/direction_probe.py --exp-config configs/quickstart/train/nearTarget.yaml \
        --train-rounds 24 --test-rounds 6 [--variants paper,gain1000,interaural] [--epochs 8] \
        RL.SEPARATOR_CHECKPOINT runs/quickstart/passive/data/best_ckpt_nonoverlapping_val.pth \
        ENV.VECTOR_ENV_TYPE batched NUM_PROCESSES 16

Scores (held-out states): `set` = the argmax action is one of the optimal ones; `turn side` = on states
whose only optimal action is one turn (the target is to one side or behind), the argmax is that turn
(0.5 = chance: the side is not heard); `ahead AUC` = how well the probability of moving forward picks out the
states where that is optimal (0.5 = chance); the majority rates say what a network that ignores its input gets.
It also prints the mean reward (the config's RL.REWARD) of each action where it was optimal and where not:
what one-step credit can learn from.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # scripts/: reward_signal

import numpy as np  # noqa: E402
import torch  # noqa: E402
from reward_signal import EpisodeNoted, agent_rollouts  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from tqdm import tqdm  # noqa: E402

from audio_separation.audio.settings import AudioSettings  # noqa: E402
from audio_separation.config import get_config  # noqa: E402
from audio_separation.env.agents import make_agent  # noqa: E402
from audio_separation.env.navigation import ACTION_NAMES, MOVE_FORWARD, TURN_LEFT, TURN_RIGHT  # noqa: E402
from audio_separation.models.policy import ActorCritic  # noqa: E402
from audio_separation.rl.rollout import run_episodes  # noqa: E402
from audio_separation.world.soundspaces import HEADINGS  # noqa: E402

HELD_OUT_SEED = 10**6  # first episode seed of held-out rounds drawn from the training split


class _Labelled(EpisodeNoted):
    """A baseline agent that also records, at each step it acts, the approach agent's optimal actions (and,
    as EpisodeNoted, the id of its episode)."""

    def __init__(self, agent, expert) -> None:
        super().__init__(agent)
        self.expert, self.labels = expert, []

    def reset(self, info) -> None:
        super().reset(info)
        self.labels = []

    def act(self, observation, info) -> int:
        mask = np.zeros(3, dtype=bool)
        mask[self.expert.optimal_actions(info)] = True
        self.labels.append(mask)
        return self.agent.act(observation, info)


def collect(config, rounds: int, first_seed: int, agent_name: str = "random") -> dict[str, np.ndarray]:
    """States of `rounds` x NUM_PROCESSES episodes (steps 0 .. L-2, where the agent acts) with their labels."""
    separator, memory, layout, envs, storage, settings = agent_rollouts(config, ("rgb",), shuffle=True)
    parts: dict[str, list[np.ndarray]] = {
        key: [] for key in ("binaural", "mono", "rgb", "labels", "actions", "rewards", "episodes")
    }
    try:
        for round_index in tqdm(range(rounds), desc=f"collect {config.TASK.SPLIT}"):
            seeds = [first_seed + 1000 * round_index + index for index in range(envs.num_envs)]
            agents = [
                _Labelled(make_agent(agent_name, HEADINGS, layout, seed), make_agent("approach", HEADINGS, layout, 0))
                for seed in seeds
            ]
            # the first round's seeds draw each env's episode order; later rounds take the next episodes
            run_episodes(
                envs, separator, memory, storage, settings, agents=agents, seeds=seeds if round_index == 0 else None
            )
            steps = storage.episode_length - 1
            parts["binaural"].append(storage.binaural[:steps].flatten(0, 1).clamp(min=0.0).numpy().copy())
            parts["mono"].append(storage.passive[:steps].flatten(0, 1).clamp(min=0.0).numpy().copy())
            parts["rgb"].append(storage.observations["rgb"][:steps].flatten(0, 1).numpy().copy())
            parts["actions"].append(storage.actions[:steps].flatten(0, 1).numpy().copy())
            parts["rewards"].append(storage.rewards[:steps].flatten(0, 1).numpy().copy())
            labels = np.stack([np.stack(agent.labels) for agent in agents], axis=1)  # (steps, N, 3)
            parts["labels"].append(labels.reshape(-1, 3))
            parts["episodes"].append(np.array([agent.episode_id for agent in agents] * steps))  # step-major
    finally:
        envs.close()
    return {key: np.concatenate(value) for key, value in parts.items()}


def reward_by_action(data: dict[str, np.ndarray]) -> list[str]:
    """Lines: the mean reward of each action (under the config's RL.REWARD) where it was optimal and where
    it was not, with 95 % intervals: what one-step credit (RL.PPO.GAMMA 0) can learn from."""
    lines = []
    for action, name in enumerate(ACTION_NAMES):
        taken = data["actions"] == action
        for optimal in (True, False):
            values = data["rewards"][taken & (data["labels"][:, action] == optimal)]
            if len(values) > 1:
                half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
                lines.append(
                    f"{name} where {'optimal' if optimal else 'not optimal'}: {values.mean():+.5f} "
                    f"[{values.mean() - half:+.5f}, {values.mean() + half:+.5f}] ({len(values)} transitions)"
                )
    return lines


def _inputs(data: dict[str, np.ndarray], index: np.ndarray, gain: float) -> dict[str, torch.Tensor]:
    return {
        "binaural": torch.from_numpy(data["binaural"][index]) * gain,
        "refined_mono": torch.from_numpy(data["mono"][index]) * gain,
        "rgb": torch.from_numpy(data["rgb"][index]),
    }


def _logits(model: ActorCritic, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """The actor's raw outputs (one step from a zero GRU state): action logits, or per-action reward
    predictions for the `reward` probes."""
    hidden = model.initial_hidden(inputs["binaural"].shape[0])
    core, _ = model.gru(model.features(inputs).unsqueeze(0), hidden)
    return model.actor(core.squeeze(0))


def _one_turn(labels: np.ndarray) -> np.ndarray:
    """States whose only optimal action is one turn (the target to one side or behind)."""
    return (labels.sum(axis=1) == 1) & (labels[:, TURN_LEFT] | labels[:, TURN_RIGHT])


def _batched_logits(model: ActorCritic, data: dict, gain: float, limit: int) -> torch.Tensor:
    """_logits of the first `limit` states of `data`, 256 at a time."""
    count = min(len(data["labels"]), limit)
    return torch.cat(
        [
            _logits(model, _inputs(data, np.arange(start, min(start + 256, count)), gain))
            for start in range(0, count, 256)
        ]
    )


def scores(logits: torch.Tensor, labels: np.ndarray) -> dict[str, float]:
    """`set`: argmax among the optimal actions; `turn side`: on states whose only optimal action is one turn;
    `ahead AUC`: how well the probability of MOVE_FORWARD ranks the states where moving forward is optimal
    (the target ahead) above the others (0.5 = not heard)."""
    choice = logits.argmax(dim=1).numpy()
    in_set = labels[np.arange(len(labels)), choice]
    one_turn = _one_turn(labels)
    ahead = labels[:, MOVE_FORWARD]
    forward = torch.softmax(logits, dim=1)[:, MOVE_FORWARD].numpy()
    return {
        "set": float(in_set.mean()),
        "turn side": float(in_set[one_turn].mean()) if one_turn.any() else float("nan"),
        "ahead AUC": float(roc_auc_score(ahead, forward)) if 0 < ahead.sum() < len(ahead) else float("nan"),
    }


def train_probe(
    config, variant: str, train: dict, held_out: dict[str, dict], epochs: int, batch: int, lr: float, seed: int
) -> dict[str, dict[str, float]]:
    """Train one variant on `train`; its scores on each held-out set (split name -> states)."""
    torch.manual_seed(seed)
    tokens = set(variant.split("+")) - {"paper"}
    gains = [float(token[4:]) for token in tokens if token.startswith("gain")]
    fractions = [float(token[4:]) for token in tokens if token.startswith("frac")]
    unknown = {token for token in tokens if not token.startswith(("gain", "frac"))} - {"interaural", "norgb", "reward"}
    if unknown or len(gains) > 1 or len(fractions) > 1 or not all(0 < value <= 1 for value in fractions):
        raise ValueError(
            f"variant {variant!r}: expected paper or tokens gain<G>, frac<F> (0 < F <= 1), interaural, norgb, reward "
            "joined by +"
        )
    gain = gains[0] if gains else 1.0
    if fractions:  # the first F of the training states (whole rounds come first: fewer episodes, not fewer steps)
        train = {key: value[: max(int(len(train["labels"]) * fractions[0]), 1)] for key, value in train.items()}
    # `reward`: learn from the reward of the action the random agent took instead of the optimal-action labels:
    # the actor's outputs regress each taken action's standardised reward (a contextual bandit's value; its
    # argmax is the one-step-greedy policy), what one-step credit (RL.PPO.GAMMA 0) has to learn from
    rewards = torch.from_numpy(train["rewards"]).float()
    rewards = (rewards - rewards.mean()) / rewards.std().clamp(min=1e-12)
    taken = torch.from_numpy(train["actions"]).long()
    policy = config.RL.POLICY
    audio = AudioSettings.from_config(config)
    model = ActorCritic(
        num_freq_bins=audio.num_freq_bins,
        num_frames=audio.num_frames,
        view_resolution=int(config.WORLD.VIEW_RESOLUTION),
        hidden_size=int(policy.HIDDEN_SIZE),
        embedding_size=int(policy.EMBEDDING_SIZE),
        use_rgb="norgb" not in tokens,
        interaural_bands=int(policy.INTERAURAL_BANDS) if "interaural" in tokens else 0,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    labels = torch.from_numpy(train["labels"])
    count = len(labels)
    generator = np.random.default_rng(seed)
    for _ in tqdm(range(epochs), desc=variant, leave=False):
        model.train()
        order = generator.permutation(count)
        for start in range(0, count, batch):
            index = order[start : start + batch]
            outputs = _logits(model, _inputs(train, index, gain))
            if "reward" in tokens:
                predicted = outputs.gather(1, taken[index].unsqueeze(1)).squeeze(1)
                loss = torch.nn.functional.mse_loss(predicted, rewards[index])
            else:  # the optimal actions' total probability (the imitation loss of action-set labels)
                log_probs = torch.log_softmax(outputs, dim=1)
                loss = -torch.logsumexp(log_probs.masked_fill(~labels[index], -1e9), dim=1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.inference_mode():
        train_logits = _batched_logits(model, train, gain, 2048)
        train_set = scores(train_logits, train["labels"][: len(train_logits)])["set"]
        results = {}
        for split, data in held_out.items():
            results[split] = scores(_batched_logits(model, data, gain, len(data["labels"])), data["labels"])
            results[split]["train set"] = train_set
    return results


def held_out_sets(make_config, train_split: str, train: dict, splits: list[str], rounds: int, agent: str) -> dict:
    """split -> held-out states of `rounds` episodes per env; from the training split only episodes the probes
    were not trained on (another seeded order, the probes' episodes dropped)."""
    held_out = {}
    for split in splits:
        first_seed = HELD_OUT_SEED if split == train_split else 0
        data = collect(make_config(split), rounds, first_seed, agent)
        if split == train_split:
            unseen = ~np.isin(data["episodes"], train["episodes"])
            data = {key: value[unseen] for key, value in data.items()}
        held_out[split] = data
    return held_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp-config", required=True)
    parser.add_argument("--train-rounds", type=int, default=24, help="episodes per env for training the probes")
    parser.add_argument("--test-rounds", type=int, default=6, help="episodes per env held out (other seeds)")
    parser.add_argument("--variants", default="paper,gain1000,interaural")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2.5e-4)
    parser.add_argument(
        "--test-split",
        default="val",
        help="TASK.SPLIT(s) of the held-out episodes, comma-separated: val = other scenes; the training split = "
        "new episodes (other seeds, other clips and positions) in the scenes trained on",
    )
    parser.add_argument("--agent", default="random", help="the baseline agent whose episodes give the states")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides as KEY VALUE pairs")
    args = parser.parse_args(argv)
    config = get_config(args.exp_config, args.opts)
    torch.set_num_threads(max(int(config.RL.NUM_THREADS), 1))
    tick = time.perf_counter()
    train = collect(config, args.train_rounds, 0, args.agent)
    held_out = held_out_sets(
        lambda split: get_config(args.exp_config, [*args.opts, "TASK.SPLIT", split]),
        config.TASK.SPLIT,
        train,
        [name for name in args.test_split.split(",") if name],
        args.test_rounds,
        args.agent,
    )

    def size(data: dict) -> str:
        return f"{len(data['labels'])} states of {len(set(data['episodes']))} episodes"

    sizes = ", ".join(f"{split} {size(data)}" for split, data in held_out.items())
    print(f"train {size(train)}; held out: {sizes} ({time.perf_counter() - tick:.0f} s)")
    majority = int(np.argmax(train["labels"].sum(axis=0)))
    for split, data in held_out.items():
        labels = data["labels"]
        one_turn = _one_turn(labels)
        print(
            f"held out ({split}): one optimal turn in {one_turn.mean():.1%} of the states; majority action "
            f"{majority} is optimal in {labels[:, majority].mean():.1%}; of the one-turn states "
            f"{labels[one_turn][:, TURN_LEFT].mean():.1%} want a left turn"
        )
    print(f"reward ({config.RL.REWARD}) of each action, train states:")
    for line in reward_by_action(train):
        print("  " + line)
    for variant in [name for name in args.variants.split(",") if name]:
        tick = time.perf_counter()
        results = train_probe(config, variant, train, held_out, args.epochs, args.batch, args.lr, int(config.SEED))
        for split, result in results.items():
            print(
                f"{variant} on {split}: set {result['set']:.3f}, turn side {result['turn side']:.3f}, "
                f"ahead AUC {result['ahead AUC']:.3f}; train set {result['train set']:.3f} "
                f"({time.perf_counter() - tick:.0f} s)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
