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
from audio_separation.models.separators import slice_frequencies
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
        prepared = prepared_policy_inputs(self.policy, storage)
        everything = torch.arange(num_envs, device=storage.device)
        for _ in range(settings.PPO_EPOCH):
            if settings.NUM_MINI_BATCH == 1:  # one mini-batch: the env order does not matter, nothing to gather
                batches = [everything]
            else:
                batches = torch.randperm(num_envs, device=storage.device).chunk(settings.NUM_MINI_BATCH)
            for envs in batches:
                if len(envs) == num_envs:
                    inputs = {key: value.flatten(0, 1) for key, value in prepared.items()}
                else:
                    inputs = {key: value[:, envs].flatten(0, 1) for key, value in prepared.items()}
                hidden = self.policy.initial_hidden(len(envs), storage.device)
                output = self.policy.sequence(inputs, num_steps, hidden, prepared=True)
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


def prepared_policy_inputs(policy: ActorCritic, storage: RolloutStorage) -> dict[str, torch.Tensor]:
    """The rollout's own policy inputs, gathered and prepared (the encoders' parameter-free part,
    ActorCritic.prepare) once for every pass of an update: time-major (T, N, ...)."""
    num_steps, num_envs = storage.num_actions_per_env, storage.num_envs
    stored = storage.policy_inputs(slice(0, num_steps))
    with torch.no_grad():
        prepared = policy.prepare({key: value.flatten(0, 1) for key, value in stored.items()})
    return {key: value.reshape(num_steps, num_envs, *value.shape[1:]) for key, value in prepared.items()}


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
        chunk = loss_chunk_tokens(settings.LOSS_CHUNK_TOKENS, passive.device)
        total = 0.0
        for _ in range(max(int(settings.EPOCHS), 1)):
            self.optimizer.zero_grad(set_to_none=True)
            total += memory_l1_backward(self.memory, queries, chunk)
            reduce_clip_step(self.optimizer, self.memory, settings.MAX_GRAD_NORM)
        return {"memory_l1": total / max(int(settings.EPOCHS), 1)}


def loss_chunk_tokens(setting: int, device: torch.device) -> int:
    """RL.MEMORY.LOSS_CHUNK_TOKENS -> tokens per decode pass (0 = all at once): -1 = 32 on a CPU, all on a GPU."""
    if setting < -1:
        raise ValueError(f"RL.MEMORY.LOSS_CHUNK_TOKENS must be -1 (auto), 0 (all at once) or > 0, got {setting}")
    if setting == -1:
        return 0 if device.type == "cuda" else 32
    return int(setting)


def memory_l1_backward(memory: TransformerMemory, queries, chunk_tokens: int) -> float:
    """The memory's L1 loss (mean over every decoded token's magnitudes) on `queries` (MemoryQueries with
    targets); accumulates its gradient into the memory's parameters and returns the loss.

    The encoder and transformer run once over all windows; the decoder and the loss then run on
    `chunk_tokens` decoded tokens at a time (0 = all at once), each chunk backpropagated into detached
    copies of the attended tokens and skips, whose accumulated gradients finally flow back through the
    transformer and encoder in one pass. The gradient is the one-pass gradient (up to float summation
    order); the decoded magnitudes (K x F x T, ~200 MB at 16 envs) are never held at once, which on a
    CPU avoids page-faulting fresh buffers and keeps each chunk in cache (2-3x faster, BENCHMARKS.md)."""
    attended, skips, chosen = memory.attend_windows(
        queries.entries, queries.window_index, queries.window_step, queries.decode
    )
    count = chosen.numel()
    if count == 0:
        raise ValueError("the memory's loss has no decoded tokens (empty queries)")
    step = count if chunk_tokens <= 0 else chunk_tokens
    attended_leaf = attended.detach().requires_grad_()
    skips_leaf = skips.detach().requires_grad_()
    # what the decoder's raw output must match, per pool entry, in its sliced layout (L1 ignores the layout)
    goal = queries.target_pool
    if memory.predict_residual:
        goal = goal - memory.estimates(queries.entries)
    goal = slice_frequencies(goal.unsqueeze(-1)).contiguous()
    elements = count * goal[0].numel()
    total = 0.0
    for start in range(0, count, step):
        part = slice(start, start + step)
        output = memory.decode_sliced(attended_leaf[part], skips_leaf[chosen[part]])
        loss = (output - goal[chosen[part]]).abs().sum() / elements
        loss.backward()
        total += float(loss.detach())
    roots = [(attended, attended_leaf.grad), (skips, skips_leaf.grad)]
    roots = [(tensor, grad) for tensor, grad in roots if grad is not None and tensor.requires_grad]
    if roots:
        torch.autograd.backward([tensor for tensor, _ in roots], [grad for _, grad in roots])
    return total


def reduce_clip_step(optimizer: torch.optim.Optimizer, module: nn.Module, max_grad_norm: float) -> None:
    """Average gradients over workers, clip, step."""
    all_reduce_gradients(module.parameters())
    if max_grad_norm > 0:
        nn.utils.clip_grad_norm_(module.parameters(), max_grad_norm)
    optimizer.step()
