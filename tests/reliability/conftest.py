"""Fault-suite helpers: a private copy of the tiny world to break (files symlinked until replaced), and
tiny trainer configs. Never modify the session's shared tiny world: replace_file unlinks first."""

from __future__ import annotations

import os

import pytest

from audio_separation.config import get_config


def replace_file(path: str, payload: bytes) -> None:
    """Write `payload` at `path` as a new file (a symlink into the shared world is replaced, not followed)."""
    if os.path.lexists(path):
        os.unlink(path)
    with open(path, "wb") as handle:
        handle.write(payload)


@pytest.fixture
def world_copy(tiny_world, tmp_path) -> str:
    """A copy of the tiny world whose files are symlinks to the shared one (break files with replace_file)."""
    source, _ = tiny_world
    target = str(tmp_path / "world")
    for folder, _, files in os.walk(source):
        destination = os.path.join(target, os.path.relpath(folder, source))
        os.makedirs(destination, exist_ok=True)
        for name in files:
            os.symlink(os.path.join(folder, name), os.path.join(destination, name))
    return target


PASSIVE = [
    "WORLD.PRESET",
    "tiny",
    "TRAINER_NAME",
    "passive",
    "MODEL.SEPARATOR_WIDTH",
    "0.0625",
    "PASSIVE.BATCH_SIZE",
    "4",
    "PASSIVE.ITEMS_PER_EPOCH",
    "8",
    "PASSIVE.VAL_MAX_ITEMS",
    "4",
    "NUM_PROCESSES",
    "0",
    "NUM_EPOCHS",
    "2",
    "CHECKPOINT_INTERVAL",
    "1",
    "LOG_INTERVAL",
    "1",
]


@pytest.fixture
def passive_config(tiny_world):
    """passive_config(model_dir, *overrides, root=None) -> a tiny passive config (2 steps per epoch)."""

    def make(model_dir: str | None, *overrides: str, root: str | None = None):
        return get_config(opts=["WORLD.DATA_ROOT", root or tiny_world[0], *PASSIVE, *overrides], model_dir=model_dir)

    return make
