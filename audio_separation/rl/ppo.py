"""The two learning steps of an update, both on the same rollout:

- PPO on the policy (clipped ratio, optionally clipped value loss, entropy bonus, GAE advantages
  normalised per rollout, global grad-norm clip, Adam);
- the memory's own supervised L1 step: every step's memory window is refined and the L1 to the
  ground-truth mono magnitude is taken on the current token and the REFINEMENT_WINDOW most recent
  valid past tokens (spec "Transformer memory").

Gradients are averaged over DD-PPO workers (common/distributed.all_reduce_gradients) before clipping and
stepping, so every worker applies the same update and parameters stay identical.
"""

from __future__ import annotations

import torch
from torch import nn
from yacs.config import CfgNode

from audio_separation.common.distributed import all_reduce_gradients
from audio_separation.models.memory import TransformerMemory
from audio_separation.models.policy import ActorCritic
from audio_separation.rl.memory_replay import EpisodeReplay
from audio_separation.rl.rollout_storage import RolloutStorage, episode_memory_queries


def linear_decay(update: int, num_updates: int) -> float:
    """The factor 1 - update / num_updates of linearly decayed learning rates and clip ranges."""
    return max(0.0, 1.0 - update / max(num_updates, 1))


class PPO:
    """Policy optimisation (RL.PPO settings)."""

    def __init__(self, policy: ActorCritic, settings: CfgNode) -> None:
        self.policy = policy
        self.settings = settings
        if settings.NUM_MINI_BATCH < 1:
            raise ValueError(f"RL.PPO.NUM_MINI_BATCH must be >= 1, got {settings.NUM_MINI_BATCH}")
        self.optimizer = torch.optim.Adam(policy.parameters(), lr=settings.LR, eps=settings.EPS)

    def update(self, storage: RolloutStorage, clip: float) -> dict[str, float]:
        """PPO_EPOCH passes of NUM_MINI_BATCH mini-batches of whole env sequences; returns mean losses."""
        settings = self.settings
        num_envs, num_steps = storage.num_envs, storage.num_actions_per_env
        if num_envs % settings.NUM_MINI_BATCH:
            raise ValueError(
                f"RL.PPO.NUM_MINI_BATCH {settings.NUM_MINI_BATCH} does not divide the {num_envs} envs of a worker (NUM_PROCESSES)"
            )
        advantages = storage.advantages
        if settings.USE_NORMALIZED_ADVANTAGE:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-5)
        totals = {"value_loss": 0.0, "action_loss": 0.0, "entropy": 0.0, "clip_fraction": 0.0}
        passes = 0
        stored_inputs = storage.policy_inputs(slice(0, num_steps))  # the rollout's own inputs, gathered once
        for _ in range(settings.PPO_EPOCH):
            for envs in torch.randperm(num_envs, device=storage.device).chunk(settings.NUM_MINI_BATCH):
                inputs = {key: value[:, envs].flatten(0, 1) for key, value in stored_inputs.items()}
                output = self.policy.sequence(inputs, num_steps, self.policy.initial_hidden(len(envs), storage.device))
                log_probs = output.distribution.log_prob(storage.actions[:, envs])
                ratio = torch.exp(log_probs - storage.log_probs[:, envs])
                advantage = advantages[:, envs]
                action_loss = -torch.min(ratio * advantage, ratio.clamp(1.0 - clip, 1.0 + clip) * advantage).mean()
                returns, old_values = storage.returns[:, envs], storage.values[:, envs]
                if settings.USE_CLIPPED_VALUE_LOSS:
                    clipped = old_values + (output.value - old_values).clamp(-clip, clip)
                    value_loss = 0.5 * torch.max((output.value - returns).pow(2), (clipped - returns).pow(2)).mean()
                else:
                    value_loss = 0.5 * (output.value - returns).pow(2).mean()
                entropy = output.distribution.entropy().mean()
                loss = settings.VALUE_LOSS_COEF * value_loss + action_loss - settings.ENTROPY_COEF * entropy
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                reduce_clip_step(self.optimizer, self.policy, settings.MAX_GRAD_NORM)
                totals["value_loss"] += float(value_loss.detach())
                totals["action_loss"] += float(action_loss.detach())
                totals["entropy"] += float(entropy.detach())
                totals["clip_fraction"] += float(((ratio - 1.0).abs() > clip).float().mean())
                passes += 1
        return {name: value / passes for name, value in totals.items()}


class MemoryLearner:
    """The memory's supervised L1 step (RL.MEMORY settings), on the rollout's episodes and, with
    RL.MEMORY.REPLAY_EPISODES > 0, replayed past episodes (rl/memory_replay.py)."""

    def __init__(self, memory: TransformerMemory, settings: CfgNode, adam_eps: float) -> None:
        self.memory = memory
        self.settings = settings
        self.optimizer = torch.optim.Adam(memory.parameters(), lr=settings.LR, eps=adam_eps)
        self.replay = EpisodeReplay(settings.REPLAY_EPISODES) if settings.REPLAY_EPISODES > 0 else None

    def update(self, storage: RolloutStorage) -> dict[str, float]:
        settings = self.settings
        passive, gt_mono = storage.memory_entries, storage.gt_mono
        if self.replay is not None:  # BATCH_EPISODES > NUM_PROCESSES is checked with the config
            passive, gt_mono = self.replay.batch(passive, gt_mono, settings.BATCH_EPISODES)
        queries = episode_memory_queries(
            passive, gt_mono, list(range(storage.episode_length)), settings.CAPACITY, settings.REFINEMENT_WINDOW
        )
        total = 0.0
        for _ in range(max(int(settings.EPOCHS), 1)):
            refined = self.memory.refine(queries.entries, queries.window_index, queries.window_step, queries.decode)
            loss = torch.nn.functional.l1_loss(refined, queries.targets)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            reduce_clip_step(self.optimizer, self.memory, settings.MAX_GRAD_NORM)
            total += float(loss.detach())
        return {"memory_l1": total / max(int(settings.EPOCHS), 1)}


def reduce_clip_step(optimizer: torch.optim.Optimizer, module: nn.Module, max_grad_norm: float) -> None:
    """Average gradients over workers, clip, step."""
    all_reduce_gradients(module.parameters())
    if max_grad_norm > 0:
        nn.utils.clip_grad_norm_(module.parameters(), max_grad_norm)
    optimizer.step()
