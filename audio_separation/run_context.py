"""The run, built once at the top: paths, device and distributed state, and the world opened read-only.

main.py (and every script or test that runs a trainer) calls build_run_context(config) once; trainers
take the RunContext and hand small frozen settings objects (EnvSettings, StftParams, ...) to the layers
below, never the whole config. Layer order: common, config, audio, world, run_context, world_stage, env, models,
pretrain, rl, naf (tests/test_architecture.py checks it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from yacs.config import CfgNode

from audio_separation.common import distributed
from audio_separation.common.distributed import DeviceState
from audio_separation.world.open import open_world
from audio_separation.world.soundspaces import SoundSpacesLayout


@dataclass(frozen=True)
class RunPaths:
    """Where a run writes: <model_dir>/tb (tensorboard), <model_dir>/data (checkpoints), <model_dir>/train.log."""

    model_dir: str

    def _under(self, name: str) -> str:
        return os.path.join(self.model_dir, name) if self.model_dir else ""  # "" = no model dir: write nothing

    @property
    def tensorboard_dir(self) -> str:
        return self._under("tb")

    @property
    def checkpoint_dir(self) -> str:
        return self._under("data")

    @property
    def log_file(self) -> str:
        return self._under("train.log")


@dataclass(frozen=True)
class RunContext:
    """Everything a trainer needs that is not its own hyper-parameters (those it reads from config)."""

    config: CfgNode  # the frozen experiment config (trainers read their own section from it)
    paths: RunPaths
    device: DeviceState
    world: SoundSpacesLayout | None  # None only for runs that build their world (trainer "world")

    @property
    def run_type(self) -> str:
        return str(self.config.RUN_TYPE)

    def require_world(self) -> SoundSpacesLayout:
        if self.world is None:
            raise RuntimeError("this run was built without opening a world (build_run_context(open=False))")
        return self.world


def build_run_context(config: CfgNode, with_world: bool = True) -> RunContext:
    """Join the process group torchrun describes (if any), pick this process's device (the one rule:
    LOCAL_RANK under torchrun, else TORCH_GPU_ID, else the CPU) and open the world read-only (never built
    here: a missing world is an error that says how to build it)."""
    device = distributed.init_distributed(config.DISTRIBUTED_BACKEND or None, int(config.TORCH_GPU_ID))
    world = open_world(config.WORLD.DATA_ROOT, config.WORLD.DATASET) if with_world else None
    return RunContext(config=config, paths=RunPaths(str(config.MODEL_DIR)), device=device, world=world)


class BaseTrainer:
    """The interface of every registered trainer: built from a RunContext, then train() or eval().

    A trainer reads its own hyper-parameters from run.config and passes small settings objects down.
    Trainers that build their world (trainer "world") set needs_world = False.
    """

    needs_world = True

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self.config = run.config

    @classmethod
    def from_config(cls, config: CfgNode) -> BaseTrainer:
        """Build the run for `config` (build_run_context) and the trainer on it: tests and scripts."""
        return cls(build_run_context(config, with_world=cls.needs_world))

    def train(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not support --run-type train")

    def eval(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not support --run-type eval")
