"""A factory of small passive-pretraining configs on the tiny world."""

from __future__ import annotations

import pytest

from audio_separation.config import get_config


@pytest.fixture
def passive_config(tiny_world):
    """passive_config(model_dir, *overrides) -> frozen config: width 1/8, batch 8, no workers, 2 epochs."""
    root, _ = tiny_world

    def make(model_dir: str | None = None, *overrides: str, run_type: str = "train"):
        opts = [
            "WORLD.DATA_ROOT",
            root,
            "WORLD.PRESET",
            "tiny",
            "TRAINER_NAME",
            "passive",
            "MODEL.SEPARATOR_WIDTH",
            "0.125",
            "PASSIVE.BATCH_SIZE",
            "8",
            "NUM_PROCESSES",
            "0",
            "NUM_EPOCHS",
            "2",
            "CHECKPOINT_INTERVAL",
            "1",
            "LOG_INTERVAL",
            "1",
            *overrides,
        ]
        return get_config(opts=opts, model_dir=model_dir, run_type=run_type)

    return make
