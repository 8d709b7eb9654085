"""Tiny NAF settings on the session's tiny world: a small model so training steps take milliseconds."""

from __future__ import annotations

import pytest

from audio_separation.config import get_config

TINY_NAF = [
    "TRAINER_NAME",
    "naf",
    "WORLD.PRESET",
    "tiny",
    "NAF.SCENE",
    "apartment_00",
    "NAF.MODEL",
    "frame",
    "NAF.HIDDEN",
    "32",
    "NAF.NUM_BLOCKS",
    "2",
    "NAF.SKIP_AFTER",
    "1",
    "NAF.GRID_SPACING",
    "0.5",
    "NAF.GRID_FEATURES",
    "8",
    "NAF.POSITION_FREQUENCIES",
    "4",
    "NAF.COORD_FREQUENCIES",
    "4",
    "NAF.BATCH_RIRS",
    "8",
    "NAF.PIXELS_PER_RIR",
    "64",
    "NAF.LR",
    "0.003",
    "NAF.LR_END",
    "0.001",
    "NAF.EVAL_PLOTS",
    "False",
    "NAF.EVAL_MAX_ITEMS",
    "6",
    "NAF.GRIFFIN_LIM_ITERATIONS",
    "4",
    "NAF.REPORT_PAIRS",
    "0",
    "NUM_EPOCHS",
    "2",
    "CHECKPOINT_INTERVAL",
    "1",
    "LOG_INTERVAL",
    "1",
]


def naf_opts(root: str, data_dir: str, *extra: str) -> list[str]:
    """Config overrides for the tiny world at root with NAF files under data_dir."""
    return ["WORLD.DATA_ROOT", root, "NAF.DATA_DIR", data_dir, *TINY_NAF, *extra]


@pytest.fixture(scope="session")
def naf_data_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("naf_data"))


@pytest.fixture(scope="session")
def naf_config(tiny_world, naf_data_dir):
    root, _ = tiny_world
    return get_config(opts=naf_opts(root, naf_data_dir))


@pytest.fixture(scope="session")
def naf_scene(naf_config):
    """The tiny scene's NAF data, built once."""
    from audio_separation.naf.data import ensure_scene_data, load_scene_data

    ensure_scene_data(naf_config, progress=False)
    return load_scene_data(naf_config)
