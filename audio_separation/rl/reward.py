"""The separation reward (spec "Reward and RL").

    negative_error (paper):     r_t = -nMSE_{t+1}
    improvement (Move2Hear):    r_t = nMSE_t - nMSE_{t+1}
    pose_gain (this project's): r_t = nMSE^stay_{t+1} - nMSE^passive_{t+1}
    still_gain (this project's): r_t = nMSE^start_{t+1} - nMSE^passive_{t+1}
with nMSE_t = mean((estimate_t - GT_t)^2) / target_rms^2 of the current-step refined estimate (clamped
at 0) after the move, so an all-zero estimate of a target at the env's RMS (AUDIO.TARGET_MONO_RMS) gives
nMSE 1 and reward -1. QUIRK (RL.ZERO_TERMINAL_REWARD): the original gives 0 on the terminal transition.

pose_gain compares two passive estimates of the SAME second of audio: the frozen separator's on the
mixture heard from the new pose and on the mixture heard from the pose before the action (sensor
MIXED_BINAURAL_STAY). Standing still scores exactly 0, and what the sources happen to play that second,
which moves the paper's reward far more than the agent's position (docs/results.md, "Why plain PPO does
not learn here"), cancels out of the difference. A counterfactual baseline, not in either paper.

Far-target (Move2Hear) navigation term, added to either: RL.DISTANCE_REWARD_WEIGHT x (d_t - d_{t+1}) with
d the agent's geodesic distance in metres to the target (env info "geodesic_distance"): positive when
the move brings the agent closer along the graph. 0 = off (near-target). It is not zeroed on the terminal
transition (the last move's progress is real).
"""

from __future__ import annotations

import torch

import audio_separation.env.sensors  # noqa: F401  (registers the sensors counterfactual_key looks up)
from audio_separation.common.registry import registry
from audio_separation.config import COUNTERFACTUAL_SENSORS

REWARDS = ("negative_error", "improvement", *COUNTERFACTUAL_SENSORS)


def counterfactual_key(kind: str) -> str | None:
    """The observation key of the mixture reward `kind` compares with (its sensor's), None if it has none."""
    sensor = COUNTERFACTUAL_SENSORS.get(kind)
    return registry.get_sensor(sensor).keys[0] if sensor else None


def normalised_error(estimate: torch.Tensor, target: torch.Tensor, target_rms: float) -> torch.Tensor:
    """(N, F, T) estimate and ground truth -> (N,) mean squared error over target_rms^2."""
    return (estimate.clamp(min=0.0) - target).pow(2).mean(dim=(-2, -1)) / float(target_rms) ** 2


def separation_reward(
    kind: str, error_before: torch.Tensor, error_after: torch.Tensor, terminal: bool, zero_terminal: bool = False
) -> torch.Tensor:
    """(N,) reward of a transition from the normalised errors of the steps before and after it."""
    if kind == "negative_error":
        reward = -error_after
    elif (
        kind == "improvement" or kind in COUNTERFACTUAL_SENSORS
    ):  # counterfactuals: before = their estimate's error, same second
        reward = error_before - error_after
    else:
        raise ValueError(f"RL.REWARD must be one of {REWARDS}, got {kind!r}")
    return torch.zeros_like(reward) if terminal and zero_terminal else reward


def distance_reward(distance_before: torch.Tensor, distance_after: torch.Tensor, weight: float) -> torch.Tensor:
    """(N,) weight x (d_t - d_{t+1}): the decrease in geodesic distance (metres) to the target over a transition."""
    return float(weight) * (distance_before - distance_after)
