"""scripts/direction_probe.py: states labelled with the approach agent's optimal actions, probes scored."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
import torch

from audio_separation.env.agents import make_agent
from audio_separation.world.open import open_world
from audio_separation.world.soundspaces import HEADINGS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SENSORS = "['MIXED_BINAURAL_MAGNITUDE', 'MIXED_BINAURAL_STAY', 'GT_MONO', 'TARGET_CLASS', 'POSE', 'RGB']"


def _script():
    spec = importlib.util.spec_from_file_location(
        "direction_probe", os.path.join(ROOT, "scripts", "direction_probe.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scores_count_optimal_choices_and_one_turn_states() -> None:
    probe = _script()
    labels = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 1]], dtype=bool)  # fwd, left, right, either turn
    logits = torch.tensor([[5.0, 0, 0], [0, 5.0, 0], [0, 5.0, 0], [0, 0, 5.0]])  # right, right, wrong, right
    result = probe.scores(logits, labels)
    assert result["set"] == pytest.approx(0.75)
    assert result["turn side"] == pytest.approx(0.5)  # the one-turn states are rows 1 and 2
    assert result["ahead AUC"] == pytest.approx(1.0)  # the one forward-optimal state has the highest P(forward)


def test_collect_labels_every_state_with_the_approach_agents_optimal_actions(rl_config) -> None:
    probe = _script()
    config = rl_config(None, "TASK.MAX_EPISODE_STEPS", "5", "RL.REWARD", "pose_gain", "TASK.SENSORS", SENSORS)
    data = probe.collect(config, rounds=2, first_seed=0)
    count = 2 * int(config.NUM_PROCESSES) * 4  # rounds x envs x acting steps
    assert {key: len(value) for key, value in data.items()} == dict.fromkeys(
        ("binaural", "mono", "rgb", "labels", "actions", "rewards", "episodes"), count
    )
    # every round meets new episodes (a seeded reset each round would replay each env's first one)
    assert len(set(data["episodes"])) == 2 * int(config.NUM_PROCESSES)
    assert data["labels"].any(axis=1).all()  # every state has an optimal action
    assert (data["binaural"] >= 0).all() and data["binaural"].shape[-1] == 2
    # the labels are the approach agent's: replaying its own plan, it always takes an optimal action
    layout = open_world(config.WORLD.DATA_ROOT, config.WORLD.DATASET)
    approach = probe.collect(config, rounds=1, first_seed=0, agent_name="approach")
    assert approach["labels"][np.arange(len(approach["actions"])), approach["actions"]].all()
    assert make_agent("approach", HEADINGS, layout, 0).privileged
    lines = probe.reward_by_action(data)
    assert lines and all("transitions" in line for line in lines)


def test_probe_trains_each_variant(rl_config) -> None:
    probe = _script()
    config = rl_config(None, "TASK.MAX_EPISODE_STEPS", "5")
    data = probe.collect(config, rounds=1, first_seed=0)
    held_out = {"val": data, "train": {key: value[:7] for key, value in data.items()}}
    for variant in ("paper", "gain1000+norgb", "interaural", "reward+frac0.5"):
        results = probe.train_probe(config, variant, data, held_out, epochs=1, batch=4, lr=1e-3, seed=0)
        assert set(results) == {"val", "train"}
        for result in results.values():
            assert 0.0 <= result["set"] <= 1.0 and 0.0 <= result["train set"] <= 1.0
    with pytest.raises(ValueError, match="variant"):
        probe.train_probe(config, "gain2+gain3", data, held_out, epochs=1, batch=4, lr=1e-3, seed=0)
    with pytest.raises(ValueError, match="variant"):
        probe.train_probe(config, "frac1.5", data, held_out, epochs=1, batch=4, lr=1e-3, seed=0)


def test_held_out_rounds_of_the_training_split_skip_the_probes_episodes(rl_config) -> None:
    probe = _script()
    config = rl_config(None, "TASK.MAX_EPISODE_STEPS", "3")
    train = probe.collect(config, rounds=2, first_seed=0)
    held_out = probe.held_out_sets(
        lambda split: rl_config(None, "TASK.MAX_EPISODE_STEPS", "3", "TASK.SPLIT", split),
        config.TASK.SPLIT,
        train,
        [config.TASK.SPLIT, "val"],
        rounds=3,
        agent="random",
    )
    same, other = held_out[config.TASK.SPLIT], held_out["val"]
    assert len(same["labels"]) > 0 and len(same["labels"]) == len(same["episodes"])
    assert not set(same["episodes"]) & set(train["episodes"])  # none of the probes' episodes
    assert len(other["episodes"]) == 3 * int(config.NUM_PROCESSES) * 2  # another split: nothing dropped


def test_reward_probe_learns_which_action_pays(rl_config) -> None:
    """The `reward` variant regresses the taken actions' rewards: where moving forward always pays and turns
    always cost, its argmax (the one-step-greedy choice) is forward; where forward never pays, it is not."""
    probe = _script()
    config = rl_config(None, "TASK.MAX_EPISODE_STEPS", "5")
    data = probe.collect(config, rounds=1, first_seed=0)
    labels = np.zeros_like(data["labels"])
    for sign, forward_best in ((1.0, True), (-1.0, False)):
        data["rewards"] = np.where(data["actions"] == 0, sign, -sign).astype(np.float32)
        labels[:] = False
        labels[:, 0] = forward_best
        labels[:, 1:] = not forward_best
        results = probe.train_probe(config, "reward", data, {"same": {**data, "labels": labels}}, 40, 4, 1e-2, 0)
        assert results["same"]["set"] == 1.0
