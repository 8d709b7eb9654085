"""MP3D scale: a 1,000-node scene in the SoundSpaces layout with RIR files only for the pairs its
episodes need runs through the env (lazy RIR store, partial set, disk cache outside the data root)."""

from __future__ import annotations

import os
import time

import pytest

from audio_separation.audio.renderer import clear_process_rir_spectra
from audio_separation.config import get_config
from audio_separation.env import make_env
from audio_separation.env.sample_world import write_sample_world
from audio_separation.env.settings import EnvSettings
from audio_separation.world.soundspaces import MissingRIRError


def large_config(root: str, cache_dir: str):
    return get_config(
        opts=[
            "WORLD.DATA_ROOT", root, "WORLD.DATASET", "mp3d", "WORLD.CACHE_DIR", cache_dir, "WORLD.RIR_DISK_CACHE", "all",
            "WORLD.VIEW_RESOLUTION", 16, "TASK.SPLIT", "val", "ENV.SHUFFLE_EPISODES", False,
            "NUM_PROCESSES", 1, "ENV.VECTOR_ENV_TYPE", "sync",
        ]
    )  # fmt: skip


def files_under(folder: str) -> set[str]:
    return {os.path.join(path, name) for path, _, names in os.walk(folder) for name in names}


def test_a_1000_node_scene_with_only_the_needed_rirs_runs(tmp_path) -> None:
    root, cache_dir = str(tmp_path / "mp3d"), str(tmp_path / "cache")
    settings = EnvSettings.from_config(large_config(root, cache_dir))
    world = write_sample_world(settings, "bigScene01", columns=40, rows=25, episodes=3, rir_seconds=(0.05, 0.15))
    assert world.nodes == 1000 and world.rir_files < 400  # of 4,000,000 possible (4 x 1000 x 1000)
    before = files_under(root)

    env = make_env(settings)
    started = time.perf_counter()
    env.reset(options={"episode_id": world.episode_ids[0]})
    first_reset = time.perf_counter() - started
    assert first_reset < 5.0
    for episode_id, actions in zip(world.episode_ids, world.actions):
        env.reset(options={"episode_id": episode_id})
        for action in actions:
            env.step(action)
    rirs = env.simulator._scene_rirs(env.simulator.scene("bigScene01"), "bigScene01")
    assert rirs.reads <= world.rir_files and rirs.missing == 0
    assert len(rirs.disk_cache()) == rirs.reads  # only the RIRs used were cached
    assert files_under(root) == before  # nothing written into the data root
    assert rirs.disk_cache().folder.startswith(cache_dir)

    # a fresh env (another process would do the same) is served by the disk cache: no wav is read
    clear_process_rir_spectra()
    again = make_env(settings)
    again.reset(options={"episode_id": world.episode_ids[0]})
    served = again.simulator._scene_rirs(again.simulator.scene("bigScene01"), "bigScene01")
    assert served.reads == 0 and served.disk_hits == 2  # two sources

    # a pair no episode needs has no file: asking for it names the file
    with pytest.raises(MissingRIRError, match=r"binaural_rirs/mp3d/bigScene01/0/999_0\.wav"):
        rirs.get(999, 0, 0)
