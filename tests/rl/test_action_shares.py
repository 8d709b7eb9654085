"""rl/evaluation.action_shares: the share of each action an evaluated agent took (aggregate.json)."""

from __future__ import annotations

from audio_separation.env.navigation import MOVE_FORWARD, TURN_LEFT, TURN_RIGHT
from audio_separation.rl.evaluation import action_shares


def test_action_shares_count_the_actions_taken() -> None:
    def episode(actions):
        return {"trajectory": [{"action": None}, *({"action": action} for action in actions)]}

    shares = action_shares([episode([TURN_LEFT] * 3), episode([MOVE_FORWARD, TURN_RIGHT, TURN_RIGHT, TURN_LEFT])])
    assert shares == {"MOVE_FORWARD": 1 / 7, "TURN_LEFT": 4 / 7, "TURN_RIGHT": 2 / 7}
    assert action_shares([episode([])]) is None
