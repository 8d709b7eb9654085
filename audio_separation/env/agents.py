"""Agents: who picks the actions in an episode, behind one interface, registered by name.

    random     uniform over MOVE_FORWARD / TURN_LEFT / TURN_RIGHT (seeded)
    still      never moves: alternates TURN_LEFT and TURN_RIGHT (there is no STOP action), so it faces
               its start heading on every other step
    rotate     turns one way (TURN_LEFT) at every step: rotates in place, never moves (the paper's baseline)
    novelty    count-based exploration: moves to the least-visited neighbouring node (ties: the lowest
               node id), turning first where needed (the paper's baseline)
    heuristic  audio only: turns toward the ear whose separated-target estimate is louder, moves forward
               when the two are within HEURISTIC_BALANCE_DB (the paper's baseline); needs the rollout's
               "separated_binaural" entry (rl/rollout.py adds it for agents)
    approach   privileged: knows the target node and follows a shortest action sequence to it (a
               breadth-first search over (node, heading) states with the env's own transition rule);
               once there it behaves like `still`

An agent sees one env's observation and info (the env's info carries scene, node, heading and
target_node) and returns an action: `reset(info)` at an episode's start, then `act(observation, info)`.
The learned policy acts batched in rl/rollout.py; every other agent is built by name with make_agent and
goes through the same rollout loop. A new agent = one class with @registry.register_agent("name") (and a
line in common/registry.py's _KNOWN_MODULES when it lives outside this module).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from audio_separation.common.registry import registry
from audio_separation.env.navigation import MOVE_FORWARD, TURN_LEFT, TURN_RIGHT, SceneNavigation, load_scene_navigation
from audio_separation.world.soundspaces import SoundSpacesLayout

HEURISTIC_BALANCE_DB = 1.0  # heuristic: |left - right| level of the separated target below this -> move forward


class Agent:
    """The interface: built with the world layout, the grid headings and a seed (each agent takes what it
    needs); reset at an episode's start; one action per step."""

    privileged = False  # True: reads the target's position from info (labels, upper bounds; never a baseline)

    def __init__(self, layout: SoundSpacesLayout, headings: Sequence[int], seed: int) -> None:
        self.layout = layout
        self.headings = [int(h) for h in headings]
        self.rng = np.random.default_rng(seed)
        self._navigation: dict[str, SceneNavigation] = {}

    def navigation(self, scene: str) -> SceneNavigation:
        if scene not in self._navigation:
            self._navigation[scene] = load_scene_navigation(self.layout, scene, self.headings)
        return self._navigation[scene]

    def reset(self, info: dict[str, Any]) -> None:
        pass

    def act(self, observation: dict[str, np.ndarray], info: dict[str, Any]) -> int:
        raise NotImplementedError


@registry.register_agent("random")
class RandomAgent(Agent):
    """Uniformly random actions from its own seeded generator."""

    def act(self, observation: dict[str, np.ndarray], info: dict[str, Any]) -> int:
        return int(self.rng.integers(3))


@registry.register_agent("still")
class StillAgent(Agent):
    """Stays on its start node: TURN_LEFT, TURN_RIGHT, TURN_LEFT, ..."""

    def reset(self, info: dict[str, Any]) -> None:
        self._turned_left = False

    def act(self, observation: dict[str, np.ndarray], info: dict[str, Any]) -> int:
        self._turned_left = not getattr(self, "_turned_left", False)
        return TURN_LEFT if self._turned_left else TURN_RIGHT


@registry.register_agent("rotate")
class RotateAgent(Agent):
    """Rotates in place: TURN_LEFT at every step, never moves."""

    def act(self, observation: dict[str, np.ndarray], info: dict[str, Any]) -> int:
        return TURN_LEFT


@registry.register_agent("novelty")
class NoveltyAgent(Agent):
    """Moves to the least-visited neighbouring node (visits counted per episode, the start node included)."""

    def reset(self, info: dict[str, Any]) -> None:
        self.visits: dict[int, int] = {int(info["node"]): 1}
        self._last_node = int(info["node"])

    def act(self, observation: dict[str, np.ndarray], info: dict[str, Any]) -> int:
        node, heading = int(info["node"]), int(info["heading"])
        if node != self._last_node:
            self.visits[node] = self.visits.get(node, 0) + 1
            self._last_node = node
        navigation = self.navigation(str(info["scene"]))
        neighbours = sorted({navigation.step(node, h, MOVE_FORWARD)[0] for h in navigation.headings} - {node})
        if not neighbours:
            return TURN_LEFT
        goal = min(neighbours, key=lambda n: (self.visits.get(n, 0), n))
        return shortest_actions(navigation, node, heading, goal)[0]


@registry.register_agent("heuristic")
class HeuristicAgent(Agent):
    """Audio only: turns toward the louder ear of the separated target estimate; forward when balanced
    (a blocked forward move is followed by a turn)."""

    def reset(self, info: dict[str, Any]) -> None:
        self._blocked_at: tuple[int, int] | None = None
        self._last: tuple[int, int, int] | None = None

    def act(self, observation: dict[str, np.ndarray], info: dict[str, Any]) -> int:
        if "separated_binaural" not in observation:
            raise KeyError("the heuristic agent needs observation['separated_binaural'] (the rollout adds it)")
        state = (int(info["node"]), int(info["heading"]))
        if self._last is not None and self._last[2] == MOVE_FORWARD and self._last[:2] == state:
            self._blocked_at = state  # the forward move just taken did not move the agent
        binaural = np.asarray(observation["separated_binaural"], dtype=np.float64)
        left, right = float(np.sum(binaural[..., 0] ** 2)), float(np.sum(binaural[..., 1] ** 2))
        balance_db = 10.0 * np.log10((left + 1e-12) / (right + 1e-12))
        if abs(balance_db) < HEURISTIC_BALANCE_DB and self._blocked_at != state:
            action = MOVE_FORWARD
        else:
            action = TURN_LEFT if balance_db >= 0 else TURN_RIGHT
        self._last = (*state, action)
        return action


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


@registry.register_agent("approach")
class ApproachAgent(Agent):
    """Privileged: walks a shortest action sequence to the target node, then turns in place."""

    privileged = True

    def __init__(self, layout: SoundSpacesLayout, headings: Sequence[int], seed: int) -> None:
        super().__init__(layout, headings, seed)
        self._still = StillAgent(layout, headings, seed)

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


def make_agent(name: str, headings: Sequence[int], layout: SoundSpacesLayout, seed: int) -> Agent:
    """A registered agent by name (one per env; the seed matters for agents that draw)."""
    return registry.get_agent(name)(layout, headings, seed)


def agent_names() -> list[str]:
    """Every registered agent's name (EVAL.AGENT takes these and "policy")."""
    return registry.known("agent")
