"""Imitation warm start of the policy (RL.IMITATION): DAgger from a privileged expert, before PPO.

Why: PPO from scratch on the separation reward does not learn to approach the target within a CPU
budget of ~20 k env steps, although approaching helps (the privileged `approach` agent beats standing
still). Imitation gives the policy a supervised signal at every step.

How: for the first RL.IMITATION.UPDATES updates, every rollout is labelled by one expert per env
(env/agents.py, `approach` by default: a shortest action sequence to the target node, computed
from the env's info). The labels are the only place the expert's privileged knowledge goes: the policy
sees exactly its usual inputs (rollout_storage.policy_inputs: the separator's binaural estimate, the
refined mono estimate, RGB). Each step executes the expert's action with probability beta (DAgger's
mixture policy; beta falls linearly from EXPERT_PROBABILITY_START to EXPERT_PROBABILITY_END over the
phase), so the policy also learns what the expert would do in the states its own mistakes lead to. The
labels are sets: every action that starts a shortest path (both turns when the target is behind; at the
target, every action that stays there), since the expert is indifferent between them and a single
tie-broken label would be noise the policy cannot predict. The loss is -log of the probability the
policy gives to the correct set (cross-entropy for a single label) plus the value loss to the
rollout's discounted returns (so PPO starts with a critic that knows the reward's scale). The memory
keeps its usual supervised step on the same rollouts.
"""

from __future__ import annotations

import torch
from torch import nn
from yacs.config import CfgNode

from audio_separation.models.policy import ActorCritic
from audio_separation.rl.ppo import prepared_policy_inputs, reduce_clip_step
from audio_separation.rl.rollout_storage import RolloutStorage


def expert_probability(update: int, settings: CfgNode) -> float:
    """beta of the imitation update `update` (0-based): linear from START to END over UPDATES."""
    updates = max(int(settings.UPDATES), 1)
    fraction = min(max(update / max(updates - 1, 1), 0.0), 1.0)
    return float(
        settings.EXPERT_PROBABILITY_START
        + (settings.EXPERT_PROBABILITY_END - settings.EXPERT_PROBABILITY_START) * fraction
    )


def imitation_loss(
    policy: ActorCritic,
    storage: RolloutStorage,
    value_loss_coef: float,
    prepared: dict[str, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """-log P(policy picks a correct action) over the whole rollout (correct: storage.expert_action_sets,
    and the expert's own action) + value_loss_coef x value loss to storage.returns; and statistics
    (imitation_loss, imitation_accuracy: the argmax is correct, value_loss, entropy). prepared: the
    rollout's inputs from prepared_policy_inputs (computed here when None)."""
    num_steps = storage.num_actions_per_env
    if prepared is None:
        prepared = prepared_policy_inputs(policy, storage)
    inputs = {key: value.flatten(0, 1) for key, value in prepared.items()}
    hidden = policy.initial_hidden(storage.num_envs, storage.device)
    output = policy.sequence(inputs, num_steps, hidden, prepared=True)
    log_probs = output.distribution.logits  # (T, N, A), normalised log-probabilities
    correct = storage.expert_action_sets | nn.functional.one_hot(storage.expert_actions, log_probs.shape[-1]).bool()
    # -log of the probability the policy gives to the set of correct actions (= cross-entropy for one)
    cross_entropy = -torch.logsumexp(log_probs.masked_fill(~correct, float("-inf")), dim=-1).mean()
    value_loss = 0.5 * (output.value - storage.returns).pow(2).mean()
    accuracy = correct.gather(-1, log_probs.argmax(dim=-1, keepdim=True)).float().mean()
    loss = cross_entropy + value_loss_coef * value_loss
    entropy = output.distribution.entropy().mean()
    return loss, {
        "imitation_loss": float(cross_entropy.detach()),
        "imitation_accuracy": float(accuracy),
        "value_loss": float(value_loss.detach()),
        "entropy": float(entropy.detach()),
    }


class ImitationLearner:
    """The policy's supervised step of the imitation phase, on PPO's optimizer (so checkpoints and
    resume need nothing new) at RL.IMITATION.LR."""

    def __init__(
        self, policy: ActorCritic, optimizer: torch.optim.Optimizer, settings: CfgNode, ppo_settings: CfgNode
    ) -> None:
        self.policy = policy
        self.optimizer = optimizer
        self.settings = settings
        self.value_loss_coef = float(ppo_settings.VALUE_LOSS_COEF)
        self.max_grad_norm = float(ppo_settings.MAX_GRAD_NORM)

    def update(self, storage: RolloutStorage) -> dict[str, float]:
        """RL.IMITATION.EPOCHS steps on the rollout; returns the mean statistics."""
        for group in self.optimizer.param_groups:
            group["lr"] = float(self.settings.LR)
        epochs = max(int(self.settings.EPOCHS), 1)
        totals: dict[str, float] = {}
        prepared = prepared_policy_inputs(self.policy, storage)
        for _ in range(epochs):
            loss, stats = imitation_loss(self.policy, storage, self.value_loss_coef, prepared)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            reduce_clip_step(self.optimizer, self.policy, self.max_grad_norm)
            for name, value in stats.items():
                totals[name] = totals.get(name, 0.0) + value / epochs
        return totals
