"""Rollout storage of one episode per env, with the transformer memory's external memory.

A rollout is exactly one episode per env (the spec's 20-step rollout): observation slots t = 0 .. L - 1
(L = TASK.MAX_EPISODE_STEPS) and actions at t = 0 .. L - 2; the action at L - 2 ends the episode, so
returns bootstrap from 0. Keeping rollouts episode-aligned means no recurrent or memory state crosses an
update, which makes resuming from a checkpoint exact.

The external memory is the `passive` buffer: the frozen separator's mono estimate of every step. The
memory window at step t holds the entries of steps t - capacity + 1 .. t that exist (models/memory.py:
window convention); `memory_queries` gathers those windows, for acting (one query step) and for the
memory's supervised update (every step, with the refinement window's loss mask).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from gymnasium import spaces

from audio_separation.models.memory import refinement_mask, window_steps


@dataclass
class MemoryQueries:
    """Windows over the storage's entries (see TransformerMemory.refine) and what they decode."""

    entries: torch.Tensor  # (M, F, T) the pool: passive estimates of slots 0 .. last, time-major (slot * N + env)
    window_index: torch.Tensor  # (B, W) pool index of each window position
    window_step: torch.Tensor  # (B, W) episode step of each position (negative = no entry)
    decode: torch.Tensor  # (B, W) positions to decode
    target_pool: torch.Tensor | None  # (M, F, T) ground truth of the pool's entries (None when not asked)

    @property
    def targets(self) -> torch.Tensor | None:
        """(K, F, T) ground truth of the decoded positions (None when not asked); gathered on each call."""
        return None if self.target_pool is None else self.target_pool[self.window_index[self.decode]]


def episode_memory_queries(
    passive: torch.Tensor, gt_mono: torch.Tensor | None, steps: list[int], capacity: int, decode_window: int
) -> MemoryQueries:
    """Memory windows over episodes stored time-major, passive (L, E, F, T) (and their ground truth
    gt_mono, same shape, for targets; None = no targets), for every episode at each slot in `steps`
    (queries ordered step-major, episode-minor)."""
    last = max(steps)
    n = passive.shape[1]
    query_steps = torch.tensor(steps, device=passive.device).repeat_interleave(n)
    episodes = torch.arange(n, device=passive.device).repeat(len(steps))
    step_of_position = window_steps(query_steps, capacity)
    window_index = step_of_position.clamp(min=0) * n + episodes[:, None]
    decode = refinement_mask(query_steps, capacity, decode_window)
    target_pool = None if gt_mono is None else gt_mono[: last + 1].flatten(0, 1)
    return MemoryQueries(passive[: last + 1].flatten(0, 1), window_index, step_of_position, decode, target_pool)


class RolloutStorage:
    """Tensors of one episode per env, time-major (slot, env, ...)."""

    def __init__(
        self,
        episode_length: int,
        num_envs: int,
        num_freq_bins: int,
        num_frames: int,
        observation_spaces: Mapping[str, spaces.Box] | None = None,
        device: torch.device | str = "cpu",
        memory_mixture: bool = False,
    ) -> None:
        """observation_spaces: the env observations the policy consumes (ActorCritic.observation_keys),
        kept per slot as policy inputs under their own keys. memory_mixture: the memory's entries also
        hold each step's log1p binaural mixture (TransformerMemory mixture_input)."""
        if episode_length < 2:
            raise ValueError(f"an RL episode needs at least 2 steps, got {episode_length}")
        length, n, spectrogram = episode_length, num_envs, (num_freq_bins, num_frames)
        self.episode_length, self.num_envs, self.device = length, n, torch.device(device)
        zeros = lambda *shape, dtype=torch.float32: torch.zeros(*shape, dtype=dtype, device=self.device)  # noqa: E731
        self.observations = {  # the policy's own observations (e.g. rgb), (L, N, *space.shape)
            key: zeros(length, n, *space.shape, dtype=torch.from_numpy(np.zeros(0, dtype=space.dtype)).dtype)
            for key, space in (observation_spaces or {}).items()
        }
        self.binaural = zeros(length, n, *spectrogram, 2)  # frozen separator's target binaural estimate (policy input)
        self.memory_mixture = bool(memory_mixture)
        if self.memory_mixture:  # entries (L, N, F, T, 3): the passive estimate, then the log1p binaural mixture
            self.memory_entries = zeros(length, n, *spectrogram, 3)
            self.passive = self.memory_entries[..., 0]  # a view: filling it fills the entries
        else:
            self.passive = zeros(length, n, *spectrogram)  # frozen separator's mono estimate (memory entries)
            self.memory_entries = self.passive
        self.refined = zeros(length, n, *spectrogram)  # memory's current-step estimate at acting time (policy input)
        self.gt_mono = zeros(length, n, *spectrogram)  # ground-truth target mono magnitude (memory loss, reward)
        self.actions = zeros(length - 1, n, dtype=torch.long)
        self.expert_actions = zeros(
            length - 1, n, dtype=torch.long
        )  # imitation: the expert's action (rl/imitation.py); never a policy input
        self.expert_action_sets = zeros(
            length - 1, n, 3, dtype=torch.bool
        )  # imitation: other actions as good as the expert's (imitation_loss adds expert_actions)
        self.log_probs = zeros(length - 1, n)
        self.values = zeros(length - 1, n)
        self.rewards = zeros(length - 1, n)
        self.returns = zeros(length - 1, n)
        self.advantages = zeros(length - 1, n)

    @property
    def observation_keys(self) -> tuple[str, ...]:
        """The env observation keys stored for the policy."""
        return tuple(self.observations)

    @property
    def num_actions_per_env(self) -> int:
        return self.episode_length - 1

    # ---------------------------------------------------------------------------------------- filling
    def insert_observation(
        self,
        step: int,
        *,
        binaural: torch.Tensor,
        passive: torch.Tensor,
        gt_mono: torch.Tensor,
        observations: Mapping[str, torch.Tensor] | None = None,
        mixture: torch.Tensor | None = None,
    ) -> None:
        """observations: (N, ...) tensors holding at least the storage's observation_keys; mixture: the
        (N, F, T, 2) log1p binaural mixture, kept when the memory takes it (memory_mixture)."""
        self.binaural[step].copy_(binaural)
        self.passive[step].copy_(passive)
        if self.memory_mixture:
            if mixture is None:
                raise ValueError("the memory takes the mixture (RL.MEMORY.MIXTURE_INPUT), but none was given")
            self.memory_entries[step, ..., 1:].copy_(mixture)
        self.gt_mono[step].copy_(gt_mono)
        missing = [key for key in self.observations if key not in (observations or {})]
        if missing:
            raise KeyError(f"the policy consumes observations {missing}, which the env did not return (TASK.SENSORS)")
        for key, stored in self.observations.items():
            stored[step].copy_(observations[key])

    def insert_action(self, step: int, action: torch.Tensor, log_prob: torch.Tensor, value: torch.Tensor) -> None:
        self.actions[step].copy_(action)
        self.log_probs[step].copy_(log_prob)
        self.values[step].copy_(value)

    def policy_inputs(self, step: int | slice) -> dict[str, torch.Tensor]:
        """Inputs of ActorCritic at one slot (N, ...) or a slice of slots (T, N, ...)."""
        previous_action = torch.cat(
            [torch.zeros_like(self.actions[:1]), self.actions + 1]
        )  # (L, N): 0 at the start, else action + 1
        inputs = {
            "binaural": self.binaural[step],
            "refined_mono": self.refined[step],
            "previous_action": previous_action[step],
        }
        for key, stored in self.observations.items():
            inputs[key] = stored[step]
        return inputs

    # ---------------------------------------------------------------------------------------- memory
    def memory_queries(
        self, steps: list[int], capacity: int, decode_window: int, with_targets: bool = False
    ) -> MemoryQueries:
        """Memory windows for every env at each slot in `steps` (queries ordered step-major, env-minor).
        Positions at offset <= decode_window (and holding an entry) are decoded: 0 = the current step
        only (acting), REFINEMENT_WINDOW = the supervised loss's tokens."""
        return episode_memory_queries(
            self.memory_entries, self.gt_mono if with_targets else None, steps, capacity, decode_window
        )

    # ---------------------------------------------------------------------------------------- returns
    def compute_returns(self, gamma: float, tau: float) -> None:
        """GAE(gamma, tau) advantages and returns; the episode ends after the last action (next value 0)."""
        advantage = torch.zeros(self.num_envs, device=self.device)
        for step in reversed(range(self.num_actions_per_env)):
            next_value = self.values[step + 1] if step + 1 < self.num_actions_per_env else torch.zeros_like(advantage)
            delta = self.rewards[step] + gamma * next_value - self.values[step]
            advantage = delta + gamma * tau * advantage
            self.advantages[step] = advantage
        self.returns.copy_(self.advantages + self.values)

    def value_statistics(self) -> dict[str, float]:
        """Diagnostics of the critic on this rollout (after compute_returns): explained variance
        1 - Var(returns - values) / Var(returns) (1 = perfect, 0 = no better than a constant, < 0 worse;
        0 when the returns do not vary) and the raw advantages' standard deviation."""
        returns, values = self.returns.double(), self.values.double()
        spread = float(returns.var(unbiased=False))
        explained = 1.0 - float((returns - values).var(unbiased=False)) / spread if spread > 0 else 0.0
        return {"explained_variance": explained, "advantage_std": float(self.advantages.double().std(unbiased=False))}
