"""Baseline agents, evaluated with the same metrics as learned policies (scripts/evaluate_baselines.py).

    random    uniform over MOVE_FORWARD / TURN_LEFT / TURN_RIGHT (seeded)
    still     never moves: alternates TURN_LEFT and TURN_RIGHT (there is no STOP action), so it faces
              its start heading on every other step
    approach  privileged: knows the target node and follows a shortest action sequence to it (a
              breadth-first search over (node, heading) states with the env's own transition rule);
              once there it behaves like `still`

An agent sees one env's observation and info (the env's info carries scene, node, heading and
target_node) and returns an action. Agents are built by name with make_agent.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from audio_separation.env.navigation import MOVE_FORWARD, TURN_LEFT, TURN_RIGHT, SceneNavigation
from audio_separation.world.soundspaces import SoundSpacesLayout, read_graph


class RandomAgent:
    """Uniformly random actions from its own seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def reset(self, info: dict[str, Any]) -> None:
        pass

    def act(self, observation: dict[str, np.ndarray], info: dict[str, Any]) -> int:
        return int(self.rng.integers(3))


class StillAgent:
    """Stays on its start node: TURN_LEFT, TURN_RIGHT, TURN_LEFT, ..."""

    def __init__(self) -> None:
        self._turned_left = False

    def reset(self, info: dict[str, Any]) -> None:
        self._turned_left = False

    def act(self, observation: dict[str, np.ndarray], info: dict[str, Any]) -> int:
        self._turned_left = not self._turned_left
        return TURN_LEFT if self._turned_left else TURN_RIGHT


def shortest_actions(navigation: SceneNavigation, node: int, heading: int, target: int) -> list[int]:
    """A shortest action sequence from (node, heading) to any heading at `target` (ties: actions in the
    order forward, left, right); [] when already there. Raises ValueError if the target is unreachable."""
    if node == target:
        return []
    start = (node, heading)
    parents: dict[tuple[int, int], tuple[tuple[int, int], int] | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        for action in (MOVE_FORWARD, TURN_LEFT, TURN_RIGHT):
            following = navigation.step(state[0], state[1], action)
            if following in parents:
                continue
            parents[following] = (state, action)
            if following[0] == target:
                actions = []
                current: tuple[int, int] = following
                while parents[current] is not None:
                    previous, taken = parents[current]
                    actions.append(taken)
                    current = previous
                return actions[::-1]
            queue.append(following)
    raise ValueError(f"target node {target} cannot be reached from node {node}")


def optimal_actions(navigation: SceneNavigation, node: int, heading: int, target: int) -> list[int]:
    """Every action that starts a shortest action sequence to `target` from (node, heading); at the
    target, every action that stays on it (the turns, and forward where a wall blocks it). Used as the
    set of correct labels for imitation (rl/imitation.py): the expert is indifferent between them."""
    if node == target:
        return [
            action
            for action in (MOVE_FORWARD, TURN_LEFT, TURN_RIGHT)
            if navigation.step(node, heading, action)[0] == target
        ]
    costs = {}
    for action in (MOVE_FORWARD, TURN_LEFT, TURN_RIGHT):
        following = navigation.step(node, heading, action)
        if following == (node, heading):
            continue  # a blocked forward move wastes the step
        costs[action] = len(shortest_actions(navigation, following[0], following[1], target))
    best = min(costs.values())
    return [action for action, cost in costs.items() if cost == best]


class ApproachAgent:
    """Privileged: walks a shortest action sequence to the target node, then turns in place."""

    def __init__(self, layout: SoundSpacesLayout, headings: list[int]) -> None:
        self.layout = layout
        self.headings = [int(h) for h in headings]
        self._navigation: dict[str, SceneNavigation] = {}
        self._still = StillAgent()

    def navigation(self, scene: str) -> SceneNavigation:
        if scene not in self._navigation:
            self._navigation[scene] = SceneNavigation(read_graph(self.layout.graph_path(scene)), self.headings)
        return self._navigation[scene]

    def reset(self, info: dict[str, Any]) -> None:
        self._still.reset(info)

    def optimal_actions(self, info: dict[str, Any]) -> list[int]:
        """The actions as good as act()'s in the state `info` describes (see optimal_actions)."""
        return optimal_actions(
            self.navigation(str(info["scene"])), int(info["node"]), int(info["heading"]), int(info["target_node"])
        )

    def act(self, observation: dict[str, np.ndarray], info: dict[str, Any]) -> int:
        plan = shortest_actions(
            self.navigation(str(info["scene"])), int(info["node"]), int(info["heading"]), int(info["target_node"])
        )
        return plan[0] if plan else self._still.act(observation, info)


AGENTS = ("random", "still", "approach")


def make_agent(
    name: str, headings: Sequence[int], layout: SoundSpacesLayout, seed: int
) -> RandomAgent | StillAgent | ApproachAgent:
    """A baseline agent by name (one per env; seed only matters for `random`; headings: WORLD.HEADINGS)."""
    if name == "random":
        return RandomAgent(seed)
    if name == "still":
        return StillAgent()
    if name == "approach":
        return ApproachAgent(layout, list(headings))
    raise ValueError(f"unknown baseline agent {name!r}; choose one of {list(AGENTS)}")
