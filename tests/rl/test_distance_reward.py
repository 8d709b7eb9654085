"""The far-target navigation term: RL.DISTANCE_REWARD_WEIGHT x (d_t - d_t+1) on a toy graph, and the
geodesic distance the envs report in their infos."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import torch

from audio_separation.env.navigation import MOVE_FORWARD, TURN_LEFT, SceneNavigation
from audio_separation.rl.reward import distance_reward, separation_reward


def _corridor() -> SceneNavigation:
    """Nodes 0-1-2-3 along -Z (heading 0 faces -Z), 1 m apart, plus node 4 off to the side of 3 (diagonal
    edge, sqrt 2 m) and an unreachable node 5."""
    graph = nx.Graph()
    for node in range(4):
        graph.add_node(node, point=[0.0, 0.0, -float(node)])
    graph.add_node(4, point=[1.0, 0.0, -2.0])
    graph.add_node(5, point=[9.0, 0.0, 9.0])
    for node in range(3):
        graph.add_edge(node, node + 1, weight=1.0)
    graph.add_edge(3, 4, weight=math.sqrt(2))
    return SceneNavigation(graph, [0, 90, 180, 270])


def test_geodesic_distance_on_a_toy_graph() -> None:
    navigation = _corridor()
    assert navigation.geodesic_distance(0, 3) == 3.0
    assert navigation.geodesic_distance(0, 4) == pytest.approx(3 + math.sqrt(2))
    assert navigation.geodesic_distance(3, 3) == 0.0
    assert navigation.geodesic_distance(0, 5) == math.inf


def test_distance_reward_sign_and_magnitude() -> None:
    navigation = _corridor()
    target, weight = 3, 0.5
    node, heading = 0, 0
    forward, _ = navigation.step(node, heading, MOVE_FORWARD)  # one metre closer
    assert forward == 1
    before = torch.tensor([navigation.geodesic_distance(node, target)])
    closer = torch.tensor([navigation.geodesic_distance(forward, target)])
    assert distance_reward(before, closer, weight).item() == pytest.approx(0.5)  # 0.5 x 1 m
    assert distance_reward(closer, before, weight).item() == pytest.approx(-0.5)  # moving away costs
    turned, _ = navigation.step(node, heading, TURN_LEFT)
    same = torch.tensor([navigation.geodesic_distance(turned, target)])
    assert distance_reward(before, same, weight).item() == 0.0  # turning does not move
    assert distance_reward(before, closer, 0.0).item() == 0.0  # off by default (near-target)
    # added to the separation reward, as the rollout does
    error_before, error_after = torch.tensor([0.4]), torch.tensor([0.3])
    total = separation_reward("improvement", error_before, error_after, terminal=False) + distance_reward(
        before, closer, weight
    )
    assert total.item() == pytest.approx(0.1 + 0.5)


def test_env_info_reports_the_geodesic_distance_to_the_target(tiny_config) -> None:
    from audio_separation.env import make_env
    from audio_separation.env.settings import EnvSettings
    from tests.env.conftest import derive_config

    env = make_env(EnvSettings.from_config(derive_config(tiny_config, "ENV.VECTOR_ENV_TYPE", "sync")))
    _, info = env.reset(seed=0)
    navigation = env.simulator.navigation(info["scene"])
    graph_distance = nx.shortest_path_length(navigation.graph, info["node"], info["target_node"], weight="weight")
    assert info["geodesic_distance"] == pytest.approx(graph_distance)
    for action in (MOVE_FORWARD, TURN_LEFT, MOVE_FORWARD):
        _, _, _, _, info = env.step(action)
        expected = nx.shortest_path_length(navigation.graph, info["node"], info["target_node"], weight="weight")
        assert np.isfinite(info["geodesic_distance"]) and info["geodesic_distance"] == pytest.approx(expected)


def test_the_rollout_adds_the_weighted_decrease_in_distance(rl_config) -> None:
    """The same (expert-driven) episodes with RL.DISTANCE_REWARD_WEIGHT 0 and 2: the rewards differ by
    exactly 2 x (d_t - d_t+1) from the recorded infos."""
    from tests.rl.test_imitation import _rollout

    plain, recordings, _ = _rollout(rl_config(None, "TASK.MAX_EPISODE_STEPS", "8"), experts=True, probability=1.0)
    config = rl_config(None, "TASK.MAX_EPISODE_STEPS", "8", "RL.DISTANCE_REWARD_WEIGHT", "2.0")
    weighted, weighted_recordings, _ = _rollout(config, experts=True, probability=1.0)
    for env, (recording, other) in enumerate(zip(recordings, weighted_recordings)):
        assert recording.actions == other.actions
        distances = torch.tensor([float(info["geodesic_distance"]) for info in recording.infos])
        expected = plain.rewards[:, env] + 2.0 * (distances[:-1] - distances[1:])
        torch.testing.assert_close(weighted.rewards[:, env], expected)
        assert distances[-1] < distances[0]  # the approach expert gets closer: the term is positive overall
