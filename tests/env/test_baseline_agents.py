"""Baseline agents and their evaluation script."""

from __future__ import annotations

import importlib.util
import json
import os

from audio_separation.env import make_env
from audio_separation.env.baseline_agents import ApproachAgent, RandomAgent, StillAgent, shortest_actions
from audio_separation.env.navigation import MOVE_FORWARD, TURN_RIGHT, SceneNavigation
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
    approach = ApproachAgent(env.layout, [0, 90, 180, 270])
    for _ in range(len(env.episodes.episodes)):
        infos = play(env, approach)
        assert infos[-1]["node"] == infos[-1]["target_node"]
    infos = play(env, StillAgent())
    assert {info["node"] for info in infos} == {infos[0]["node"]}
    assert {info["heading"] for info in infos[::2]} == {infos[0]["heading"]}


def test_random_agent_is_seeded() -> None:
    first, second = RandomAgent(3), RandomAgent(3)
    assert [first.act({}, {}) for _ in range(20)] == [second.act({}, {}) for _ in range(20)]


def test_evaluate_baselines_writes_per_episode_and_aggregate_json(tiny_config, tmp_path) -> None:
    spec = importlib.util.spec_from_file_location(
        "evaluate_baselines", os.path.join(ROOT, "scripts", "evaluate_baselines.py")
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(
        f'WORLD:\n  DATA_ROOT: "{tiny_config.WORLD.DATA_ROOT}"\nTASK:\n  SPLIT: "val"\n'
        'ENV:\n  VECTOR_ENV_TYPE: "sync"\nNUM_PROCESSES: 1\n'
    )
    output = tmp_path / "out"
    assert (
        script.main(
            [
                "--exp-config",
                str(config_path),
                "--agent",
                "approach",
                "--episodes",
                "2",
                "--output-dir",
                str(output),
                "--no-progress",
            ]
        )
        == 0
    )
    episodes = json.loads((output / "per_episode.json").read_text())
    summary = json.loads((output / "aggregate.json").read_text())
    assert len(episodes) == 2 and summary["num_episodes"] == 2 and summary["estimate"] == "mixture"
    for episode in episodes:
        assert len(episode["trajectory"]) == 20 and len(episode["per_step"]["si_sdr"]) == 20
        assert episode["per_step"]["si_sdr"] == episode["per_step"]["input_si_sdr"]  # the mixture scores itself
        assert episode["reached_target"]
    metrics = summary["metrics"]
    assert set(metrics) == {"si_sdr", "si_sdr_improvement", "stft_distance", "input_si_sdr", "input_stft_distance"}
    assert metrics["si_sdr_improvement"]["mean"] == 0.0
    assert (
        metrics["stft_distance"]["ci95_low"]
        <= metrics["stft_distance"]["mean"]
        <= metrics["stft_distance"]["ci95_high"]
    )
    # an estimator hook: the ground truth itself scores a perfect STFT distance
    config = script.get_config(str(config_path), ["ENV.SHUFFLE_EPISODES", "False", "ENV.AUTORESET_MODE", "disabled"])
    perfect = script.evaluate(
        config,
        "still",
        1,
        str(tmp_path / "perfect"),
        estimator=lambda obs: obs["gt_mono_magnitude"][..., 0],
        estimator_name="oracle",
        progress=False,
    )
    assert perfect["metrics"]["stft_distance"]["mean"] == 0.0
    assert perfect["metrics"]["si_sdr_improvement"]["mean"] > 0
