"""Registered agents and the baseline evaluation script."""

from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest

from audio_separation.env import make_env
from audio_separation.env.agents import ApproachAgent, RandomAgent, StillAgent, make_agent, shortest_actions
from audio_separation.env.navigation import MOVE_FORWARD, TURN_LEFT, TURN_RIGHT, SceneNavigation
from audio_separation.env.settings import EnvSettings
from tests.env.test_navigation import grid_graph

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def play(env, agent):
    observation, info = env.reset()
    agent.reset(info)
    infos = [info]
    terminated = False
    while not terminated:
        observation, _, terminated, _, info = env.step(agent.act(observation, info))
        infos.append(info)
    return infos


def test_shortest_actions_on_a_grid() -> None:
    navigation = SceneNavigation(grid_graph(), [0, 90, 180, 270])
    # from node 0 facing -Z to node 8 (2 m along +X and +Z): right, forward x2, right, forward x2
    assert shortest_actions(navigation, 0, 0, 8) == [
        TURN_RIGHT,
        MOVE_FORWARD,
        MOVE_FORWARD,
        TURN_RIGHT,
        MOVE_FORWARD,
        MOVE_FORWARD,
    ]
    assert shortest_actions(navigation, 8, 0, 8) == []


def test_approach_reaches_the_target_and_still_stays(env_config) -> None:
    env = make_env(EnvSettings.from_config(env_config))
    approach = ApproachAgent(env.layout, [0, 90, 180, 270], 0)
    for _ in range(len(env.episodes.episodes)):
        infos = play(env, approach)
        assert infos[-1]["node"] == infos[-1]["target_node"]
    infos = play(env, StillAgent(env.layout, [0, 90, 180, 270], 0))
    assert {info["node"] for info in infos} == {infos[0]["node"]}
    assert {info["heading"] for info in infos[::2]} == {infos[0]["heading"]}


def test_random_agent_is_seeded() -> None:
    first, second = RandomAgent(None, [], 3), RandomAgent(None, [], 3)
    assert [first.act({}, {}) for _ in range(20)] == [second.act({}, {}) for _ in range(20)]


def test_evaluate_baselines_scores_through_the_one_rollout_loop(tiny_config, tmp_path) -> None:
    spec = importlib.util.spec_from_file_location(
        "evaluate_baselines", os.path.join(ROOT, "scripts", "evaluate_baselines.py")
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(
        f'WORLD:\n  DATA_ROOT: "{tiny_config.WORLD.DATA_ROOT}"\nTASK:\n  SPLIT: "val"\n'
        'ENV:\n  VECTOR_ENV_TYPE: "sync"\nNUM_PROCESSES: 1\nRL:\n  NUM_THREADS: 1\n'
    )
    output = tmp_path / "out"
    arguments = ["--exp-config", str(config_path), "--agent", "approach", "--episodes", "2", "--output-dir"]
    assert script.main([*arguments, str(output)]) == 0
    episodes = json.loads((output / "per_episode.json").read_text())
    summary = json.loads((output / "aggregate.json").read_text())
    assert len(episodes) == 2 and summary["num_episodes"] == 2 and summary["estimate"] == "mixture"
    assert (output / "index.html").is_file()
    for episode in episodes:
        assert len(episode["trajectory"]) == 20 and len(episode["per_step"]["passive"]["si_sdr"]) == 20
        passive, refined = episode["per_step"]["passive"], episode["per_step"]["refined"]
        # the mixture scores itself, and no memory: refined == passive
        assert passive["si_sdr"] == pytest.approx(passive["input_si_sdr"], abs=1e-3)
        assert refined["si_sdr"] == pytest.approx(passive["si_sdr"], abs=1e-6)
        assert episode["reached_target"]
    taken = [step["action"] for episode in episodes for step in episode["trajectory"][1:]]  # 19 actions each
    assert len(taken) == 38
    assert summary["action_shares"]["MOVE_FORWARD"] == pytest.approx(taken.count(MOVE_FORWARD) / len(taken))
    assert sum(summary["action_shares"].values()) == pytest.approx(1.0)
    metrics = summary["metrics"]["passive"]
    assert set(metrics) == {"si_sdr", "si_sdr_improvement", "stft_distance", "input_si_sdr", "input_stft_distance"}
    assert abs(metrics["si_sdr_improvement"]["mean"]) < 1e-3
    assert (
        metrics["stft_distance"]["ci95_low"]
        <= metrics["stft_distance"]["mean"]
        <= metrics["stft_distance"]["ci95_high"]
    )


def _walk(agent, navigation, node: int, heading: int, steps: int, observation=None) -> list[int]:
    """Nodes visited by `agent` on `navigation` (no env: the agent's own transition rule)."""
    info = {"scene": "grid", "node": node, "heading": heading, "target_node": -1}
    agent.reset(info)
    nodes = [node]
    for _ in range(steps):
        action = agent.act(observation or {}, info)
        node, heading = navigation.step(node, heading, action)
        info = {**info, "node": node, "heading": heading}
        nodes.append(node)
    return nodes


def test_rotate_turns_in_place_and_novelty_prefers_unvisited_nodes(monkeypatch) -> None:
    navigation = SceneNavigation(grid_graph(), [0, 90, 180, 270])
    rotate = make_agent("rotate", [0, 90, 180, 270], None, 0)
    assert set(_walk(rotate, navigation, 4, 0, 8)) == {4}
    novelty = make_agent("novelty", [0, 90, 180, 270], None, 0)
    monkeypatch.setattr(novelty, "navigation", lambda scene: navigation)
    nodes = _walk(novelty, navigation, 0, 0, 40)
    assert set(nodes) == set(range(9))  # explores the whole 3 x 3 grid
    first_visits = [nodes.index(n) for n in range(9)]
    assert max(first_visits) < 30  # and does so without dithering
    still = make_agent("still", [0, 90, 180, 270], None, 0)
    assert set(_walk(still, navigation, 0, 0, 40)) == {0}


def test_heuristic_turns_toward_the_louder_ear_and_walks_when_balanced() -> None:
    heuristic = make_agent("heuristic", [0, 90, 180, 270], None, 0)
    info = {"scene": "grid", "node": 4, "heading": 0, "target_node": -1}
    heuristic.reset(info)
    left_louder = np.ones((8, 4, 2), dtype=np.float32) * np.array([2.0, 1.0], dtype=np.float32)
    assert heuristic.act({"separated_binaural": left_louder}, info) == TURN_LEFT
    assert heuristic.act({"separated_binaural": left_louder[..., ::-1]}, info) == TURN_RIGHT
    balanced = np.ones((8, 4, 2), dtype=np.float32)
    assert heuristic.act({"separated_binaural": balanced}, info) == MOVE_FORWARD
    # the forward move did not move it (a wall): it turns instead of pushing again
    assert heuristic.act({"separated_binaural": balanced}, info) != MOVE_FORWARD
    with pytest.raises(KeyError, match="separated_binaural"):
        heuristic.act({}, info)


def test_unknown_agent_names_the_registered_ones() -> None:
    with pytest.raises(KeyError, match="novelty"):
        make_agent("sprint", [0, 90, 180, 270], None, 0)
