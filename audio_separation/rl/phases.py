"""The phases of an RL run and their learning-rate schedules.

Updates 0 .. NUM_UPDATES - 1 fall into up to three phases, in this order:

1. imitation: the first RL.IMITATION.UPDATES (DAgger on the expert's labels, rl/imitation.py; 0 in the paper);
2. PPO: the policy learns by PPO, up to NUM_UPDATES - RL.MEMORY.FINETUNE_UPDATES;
3. memory fine-tuning: the last RL.MEMORY.FINETUNE_UPDATES (0 in the paper) train only the memory, on
   rollouts of the policy as it stands after phase 2 (it still samples its actions, but takes no step).

In phases 1-2 the memory learns beside the policy, its learning rate RL.MEMORY.LR decayed linearly over
phases 1-2 together; in phase 3 it restarts at RL.MEMORY.FINETUNE_LR and decays linearly to 0 over phase 3.
PPO's clip range and learning rate decay over phase 2 only. With no phase 3 these are exactly the
schedules the trainer always had, and a run of NUM_UPDATES N + K with K fine-tuning updates, resumed from
ckpt.N of a run of N updates without them, follows the same path as one that had them from the start.
"""

from __future__ import annotations

from dataclasses import dataclass

from audio_separation.config import ConfigError
from audio_separation.rl.ppo import linear_decay


@dataclass(frozen=True)
class TrainingPhases:
    num_updates: int
    imitation_updates: int
    finetune_updates: int
    joint_memory_lr: float  # RL.MEMORY.LR
    finetune_lr: float  # RL.MEMORY.FINETUNE_LR

    @classmethod
    def from_config(cls, config) -> TrainingPhases:
        num_updates = int(config.NUM_UPDATES)
        imitation = min(int(config.RL.IMITATION.UPDATES), num_updates)
        finetune = int(config.RL.MEMORY.FINETUNE_UPDATES)
        if finetune < 0 or finetune > num_updates - imitation:
            raise ConfigError(
                f"RL.MEMORY.FINETUNE_UPDATES is {finetune}: it must be between 0 and NUM_UPDATES ({num_updates}) minus "
                f"RL.IMITATION.UPDATES ({imitation}); the memory-only updates come after imitation"
            )
        if float(config.RL.MEMORY.FINETUNE_LR) < 0:
            raise ConfigError(f"RL.MEMORY.FINETUNE_LR must be >= 0, got {config.RL.MEMORY.FINETUNE_LR}")
        return cls(num_updates, imitation, finetune, float(config.RL.MEMORY.LR), float(config.RL.MEMORY.FINETUNE_LR))

    @property
    def joint_updates(self) -> int:
        """Updates of phases 1-2 (policy and memory both learn)."""
        return self.num_updates - self.finetune_updates

    def imitating(self, update: int) -> bool:
        return update < self.imitation_updates

    def finetuning_memory(self, update: int) -> bool:
        return update >= self.joint_updates

    def ppo_decay(self, update: int) -> float:
        """The factor of PPO's clip and learning rate: 1 in imitation, then 1 -> 0 over the PPO phase."""
        if self.imitating(update):
            return 1.0
        return linear_decay(update - self.imitation_updates, self.joint_updates - self.imitation_updates)

    def memory_lr(self, update: int, decay: bool = True) -> float:
        """The memory's learning rate at `update` (decay False: the phase's starting rate throughout)."""
        if self.finetuning_memory(update):
            factor = linear_decay(update - self.joint_updates, self.finetune_updates) if decay else 1.0
            return self.finetune_lr * factor
        return self.joint_memory_lr * (linear_decay(update, self.joint_updates) if decay else 1.0)
