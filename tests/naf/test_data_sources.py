"""NAF data from large or partial scenes: streamed through the lazy RIR store, limited to node subsets,
missing RIRs left out, and tied to the world it came from."""

from __future__ import annotations

import logging
import os

import h5py
import pytest

from audio_separation.config import get_config
from audio_separation.env.sample_world import write_sample_world
from audio_separation.env.settings import EnvSettings
from audio_separation.naf.data import NafDataError, ensure_scene_data, load_scene_data
from audio_separation.world.soundspaces import MissingRIRError


def write_world(root: str, cache: str, seed: int):
    settings = EnvSettings.from_config(
        get_config(
            opts=[
                "WORLD.DATA_ROOT",
                root,
                "WORLD.DATASET",
                "mp3d",
                "WORLD.CACHE_DIR",
                cache,
                "WORLD.VIEW_RESOLUTION",
                8,
                "TASK.SPLIT",
                "val",
            ]
        )  # fmt: skip
    )
    return write_sample_world(settings, "room", columns=5, rows=4, episodes=1, rir_seconds=(0.05, 0.1), seed=seed)


def naf_config(root: str, data_dir: str, *opts):
    return get_config(
        opts=["WORLD.DATA_ROOT", root, "WORLD.DATASET", "mp3d", "NAF.SCENE", "room", "NAF.DATA_DIR", data_dir, *opts]
    )


def test_partial_scenes_subsets_and_the_world_key(tmp_path, project_log) -> None:
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    write_world(first, str(tmp_path / "cache"), seed=0)
    write_world(second, str(tmp_path / "cache"), seed=0)  # same scene name and nodes, another world
    data_dir = str(tmp_path / "naf")
    with pytest.raises(MissingRIRError, match="binaural_rirs/mp3d/room/"):
        ensure_scene_data(naf_config(first, data_dir), progress=False)  # partial set, missing not allowed

    pairs = [name[:-4].split("_") for name in os.listdir(os.path.join(first, "binaural_rirs/mp3d/room/0"))]
    listeners, emitters = sorted({int(r) for r, _ in pairs}), sorted({int(s) for _, s in pairs})
    subset = ["NAF.LISTENERS", listeners, "NAF.EMITTERS", emitters]
    config = naf_config(first, data_dir, "WORLD.ALLOW_MISSING_RIRS", True, *subset)
    with project_log.at_level(logging.WARNING, logger="audio_separation"):
        ensure_scene_data(config, progress=False)
    data = load_scene_data(config)
    assert len(pairs) <= len(data.keys) < 4 * len(listeners) * len(emitters)
    assert "missing and left out" in project_log.text and set(data.nodes) <= set(listeners) | set(emitters)

    # the same scene name in another world: rebuilt, not reused
    other = naf_config(second, data_dir, "WORLD.ALLOW_MISSING_RIRS", True, *subset)
    project_log.clear()
    with project_log.at_level(logging.WARNING, logger="audio_separation"):
        ensure_scene_data(other, progress=False)
    assert "built from another world" in project_log.text
    with h5py.File(load_scene_data(other).path) as handle:
        assert second.split("/")[-1] in handle.attrs["world_key"]

    with pytest.raises(NafDataError, match="NAF.LISTENERS names nodes \\[999\\]"):
        ensure_scene_data(naf_config(second, data_dir, "NAF.LISTENERS", [999]), progress=False)
