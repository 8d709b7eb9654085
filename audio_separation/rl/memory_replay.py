"""A replay of past episodes for the memory's supervised step (RL.MEMORY.REPLAY_EPISODES; off in the paper).

The paper's memory step sees the rollout of 8 GPUs x 14 envs: 112 episodes. At laptop size a rollout is 2
episodes, so each memory step is taken on two correlated episodes at the same learning rate. With the
replay on, each step trains on the rollout's episodes plus episodes drawn uniformly without replacement
from the last REPLAY_EPISODES rollouts' episodes, up to RL.MEMORY.BATCH_EPISODES in all. An episode is
kept as its passive estimates and ground-truth mono magnitudes (L, F, T) each; the memory's windows are
rebuilt from them, so replayed episodes are scored exactly as fresh ones (the passive separator is
frozen, so their entries do not go stale; the policy that chose their moves does).

The buffer is a ring on the learner's device, saved with each checkpoint (so a resumed run continues
exactly): 2 x L x F x T float32 per episode, 2.6 MB at the paper's STFT and 20 steps.
"""

from __future__ import annotations

import torch


class EpisodeReplay:
    """Ring buffer of whole episodes' memory entries and targets."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"RL.MEMORY.REPLAY_EPISODES must be >= 1 for a replay, got {capacity}")
        self.capacity = int(capacity)
        self.passive: torch.Tensor | None = None  # memory entries (capacity, L, F, T[, 3]), allocated at the first push
        self.gt_mono: torch.Tensor | None = None
        self.count = 0  # episodes held
        self.position = 0  # the slot the next episode goes to

    def batch(self, passive: torch.Tensor, gt_mono: torch.Tensor, total: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The rollout's episodes (L, N, F, T) each plus up to total - N replayed ones, drawn with torch's
        global generator; then the rollout's episodes are pushed. Returns (L, N + k, F, T) each."""
        extra = min(max(total - passive.shape[1], 0), self.count)
        picked = torch.randperm(self.count)[:extra]
        replayed = (
            [buffer[picked.to(buffer.device)].transpose(0, 1) for buffer in (self.passive, self.gt_mono)]
            if extra
            else []
        )
        self.push(passive, gt_mono)  # after the draw: the rollout's episodes are not drawn back
        if not replayed:
            return passive, gt_mono
        return (
            torch.cat([passive, replayed[0].to(passive.device)], dim=1),
            torch.cat([gt_mono, replayed[1].to(gt_mono.device)], dim=1),
        )

    def push(self, passive: torch.Tensor, gt_mono: torch.Tensor) -> None:
        """Append the episodes of (L, N, F, T) tensors, overwriting the oldest when full."""
        episodes = passive.transpose(0, 1)
        if self.passive is None:
            shape = (self.capacity, *episodes.shape[1:])  # entries: (L, F, T), or (L, F, T, 3) with the mixture
            self.passive = torch.zeros(shape, dtype=passive.dtype, device=passive.device)
            targets = (self.capacity, gt_mono.shape[0], *gt_mono.shape[2:])
            self.gt_mono = torch.zeros(targets, dtype=gt_mono.dtype, device=gt_mono.device)
        elif episodes.shape[1:] != self.passive.shape[1:]:
            raise ValueError(
                f"memory replay: episodes of shape {tuple(episodes.shape[1:])} do not match the buffer's "
                f"{tuple(self.passive.shape[1:])}"
            )
        for episode, target in zip(episodes, gt_mono.transpose(0, 1)):
            self.passive[self.position].copy_(episode)
            self.gt_mono[self.position].copy_(target)
            self.position = (self.position + 1) % self.capacity
            self.count = min(self.count + 1, self.capacity)

    def state_dict(self) -> dict:
        held = slice(0, self.count)
        return {
            "capacity": self.capacity,
            "count": self.count,
            "position": self.position,
            "passive": None if self.passive is None else self.passive[held].cpu().clone(),
            "gt_mono": None if self.gt_mono is None else self.gt_mono[held].cpu().clone(),
        }

    def load_state_dict(self, state: dict, device: torch.device | str = "cpu") -> None:
        if int(state["capacity"]) != self.capacity:
            raise ValueError(
                f"memory replay: the checkpoint holds a buffer of {state['capacity']} episodes, the config asks "
                f"for {self.capacity} (RL.MEMORY.REPLAY_EPISODES)"
            )
        self.count, self.position = int(state["count"]), int(state["position"])
        self.passive = self.gt_mono = None
        if state["passive"] is not None:
            shape = (self.capacity, *state["passive"].shape[1:])
            self.passive = torch.zeros(shape, dtype=state["passive"].dtype, device=device)
            targets = (self.capacity, *state["gt_mono"].shape[1:])
            self.gt_mono = torch.zeros(targets, dtype=state["gt_mono"].dtype, device=device)
            self.passive[: self.count].copy_(state["passive"])
            self.gt_mono[: self.count].copy_(state["gt_mono"])
