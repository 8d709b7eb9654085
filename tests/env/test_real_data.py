"""Real SoundSpaces data conventions at the env: scene ids of MP3D and Replica, the dataset of a scene_id,
target labels, clips at other rates / in stereo, clips shorter than an episode."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import soundfile as sf

from audio_separation.config import get_config
from audio_separation.env import make_env
from audio_separation.env.episode_set import EpisodeError
from audio_separation.env.sample_world import write_sample_world
from audio_separation.env.settings import EnvSettings
from audio_separation.world.soundspaces import (
    SoundSpacesLayout,
    parse_scene_id,
    read_episodes,
    read_sound,
    sound_path,
    write_episodes,
)


def small_settings(root: str, cache_dir: str, *opts) -> EnvSettings:
    return EnvSettings.from_config(
        get_config(
            opts=[
                "WORLD.DATA_ROOT",
                root,
                "WORLD.DATASET",
                "mp3d",
                "WORLD.CACHE_DIR",
                cache_dir,
                "WORLD.VIEW_RESOLUTION",
                8,
                "TASK.SPLIT",
                "val",
                "ENV.SHUFFLE_EPISODES",
                False,
                "NUM_PROCESSES",
                1,
                "ENV.VECTOR_ENV_TYPE",
                "sync",
                *opts,
            ]
        )  # fmt: skip
    )


@pytest.fixture
def small_world(tmp_path):
    root, cache = str(tmp_path / "data"), str(tmp_path / "cache")
    settings = small_settings(root, cache)
    world = write_sample_world(settings, "smallScene", columns=4, rows=3, episodes=2, rir_seconds=(0.05, 0.1))
    return settings, world, SoundSpacesLayout(root, "mp3d")


@pytest.mark.parametrize(
    "scene_id, expected",
    [
        ("mp3d/17DRP5sb8fy/17DRP5sb8fy.glb", ("mp3d", "17DRP5sb8fy")),
        ("data/scene_datasets/mp3d/17DRP5sb8fy/17DRP5sb8fy.glb", ("mp3d", "17DRP5sb8fy")),
        ("data/scene_datasets/replica/office_1/habitat/mesh_semantic.ply", ("replica", "office_1")),
        ("replica/apartment_0/habitat/mesh_semantic.ply", ("replica", "apartment_0")),
        ("procedural/apartment_00/apartment_00.glb", ("procedural", "apartment_00")),
        ("17DRP5sb8fy/17DRP5sb8fy.glb", (None, "17DRP5sb8fy")),
        ("17DRP5sb8fy", (None, "17DRP5sb8fy")),
    ],
)
def test_scene_ids_resolve_as_soundspaces_does(scene_id, expected) -> None:
    assert parse_scene_id(scene_id) == expected


def rewrite_episodes(layout: SoundSpacesLayout, change) -> None:
    episodes = read_episodes(layout, "v1", "val")
    change(episodes[0])
    write_episodes(layout, "v1", "val", episodes)


def test_a_scene_id_of_another_dataset_or_an_unknown_label_is_an_error_naming_the_episode(small_world) -> None:
    settings, world, layout = small_world
    make_env(settings).close()  # as written: fine
    rewrite_episodes(
        layout, lambda e: e.update(scene_id="data/scene_datasets/replica/smallScene/habitat/mesh_semantic.ply")
    )
    with pytest.raises(EpisodeError, match="episode '0'.*'replica' scene but WORLD.DATASET is 'mp3d'"):
        make_env(settings)
    rewrite_episodes(layout, lambda e: e.update(scene_id="mp3d/smallScene/smallScene.glb"))
    rewrite_episodes(layout, lambda e: e["info"][0].update(target_label=7))
    with pytest.raises(EpisodeError, match="episode '0'.*target_label 7 is not a label"):
        make_env(settings)


def test_clips_at_another_rate_or_in_stereo_are_converted_with_one_warning(small_world, project_log) -> None:
    settings, world, layout = small_world
    episode = read_episodes(layout, "v1", "val")[0]
    path = sound_path(layout, episode["info"][0]["sound"], heard=True)
    mono = read_sound(path, 16000)
    stereo_44k = np.stack([mono, mono], axis=1).repeat(2, axis=0)  # 2 channels at 32 kHz
    sf.write(path, stereo_44k, 32000, subtype="FLOAT")
    env = make_env(settings)
    with project_log.at_level(logging.WARNING, logger="audio_separation"):
        env.reset(options={"episode_id": episode["episode_id"]})
        env.step(world.actions[0][0])  # the planned actions: the world has only the RIRs they need
    warnings = [record.getMessage() for record in project_log.records if path in record.getMessage()]
    assert (
        len(warnings) == 1
        and "2 channels averaged to mono" in warnings[0]
        and "32000 Hz resampled to 16000 Hz" in warnings[0]
    )
    clip = env.simulator.clips.clip(path)
    assert clip.shape == mono.shape


def test_a_clip_shorter_than_the_episode_is_an_error_unless_looping_is_allowed(small_world) -> None:
    settings, world, layout = small_world
    episode = read_episodes(layout, "v1", "val")[0]
    path = sound_path(layout, episode["info"][1]["sound"], heard=True)
    sf.write(path, read_sound(path, 16000)[: 5 * 16000], 16000, subtype="FLOAT")
    rewrite_episodes(layout, lambda e: e["info"][1].update(start_idx=0))
    with pytest.raises(EpisodeError, match=rf"{os.path.basename(path)} lasts 5 whole seconds.*WORLD.LOOP_SHORT_CLIPS"):
        make_env(settings)
    looping = small_settings(settings.world.data_root, settings.world.cache_dir, "WORLD.LOOP_SHORT_CLIPS", True)
    env = make_env(looping)
    env.reset(options={"episode_id": episode["episode_id"]})
    for action in world.actions[0][:6]:
        env.step(action)
    assert env.simulator.clip_seconds()[1] == 6 % 5  # looped
