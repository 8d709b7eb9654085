"""Tiny RL configs on the tiny world, and a passive checkpoint of tiny random separators."""

from __future__ import annotations

import pytest
import torch

from audio_separation.common.checkpoint import save_checkpoint
from audio_separation.config import get_config
from audio_separation.pretrain.separator_checkpoint import build_passive_separator, separator_settings

TINY_RL = [
    "TRAINER_NAME",
    "ddppo",
    "ENV.VECTOR_ENV_TYPE",
    "sync",
    "NUM_PROCESSES",
    "2",
    "TASK.MAX_EPISODE_STEPS",
    "5",
    "TASK.SENSORS",
    "['MIXED_BINAURAL_MAGNITUDE', 'GT_MONO', 'TARGET_CLASS', 'POSE', 'RGB']",
    "MODEL.SEPARATOR_WIDTH",
    "0.0625",
    "RL.POLICY.HIDDEN_SIZE",
    "16",
    "RL.POLICY.EMBEDDING_SIZE",
    "16",
    "RL.MEMORY.CAPACITY",
    "4",
    "RL.MEMORY.REFINEMENT_WINDOW",
    "2",
    "RL.MEMORY.ENCODER_CHANNELS",
    "2",
    "RL.MEMORY.NUM_HEADS",
    "2",
    "RL.MEMORY.FFN_SIZE",
    "32",
    "RL.PPO.PPO_EPOCH",
    "2",
    "RL.NUM_THREADS",
    "1",
    "NUM_UPDATES",
    "3",
    "CHECKPOINT_INTERVAL",
    "2",
    "LOG_INTERVAL",
    "1",
    "EVAL.MEDIA_EPISODES",
    "1",
]


@pytest.fixture(scope="session")
def separator_checkpoint(tiny_world, tmp_path_factory) -> str:
    """A checkpoint in trainer "passive"'s format holding tiny, randomly initialised separators."""
    root, _ = tiny_world
    config = get_config(opts=["WORLD.DATA_ROOT", root, "WORLD.PRESET", "tiny", "MODEL.SEPARATOR_WIDTH", "0.0625"])
    settings = separator_settings(config)
    torch.manual_seed(0)
    path = str(tmp_path_factory.mktemp("passive") / "best_ckpt_nonoverlapping_val.pth")
    save_checkpoint(
        path,
        config=config,
        model=build_passive_separator(settings),
        counters={"epoch": 1},
        extra={"separator": settings},
    )
    return path


@pytest.fixture
def rl_config(tiny_world, separator_checkpoint):
    """rl_config(model_dir, *overrides, run_type="train") -> a frozen tiny RL config."""
    root, _ = tiny_world

    def make(model_dir: str | None = None, *overrides: str, run_type: str = "train"):
        opts = [
            "WORLD.DATA_ROOT",
            root,
            "WORLD.PRESET",
            "tiny",
            "RL.SEPARATOR_CHECKPOINT",
            separator_checkpoint,
            *TINY_RL,
            *overrides,
        ]
        return get_config(opts=opts, model_dir=model_dir, run_type=run_type)

    return make
