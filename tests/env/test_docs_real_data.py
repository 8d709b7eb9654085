"""docs/real-data.md "Use your own SoundSpaces data", step by step, on a small MP3D-layout world written
here file by file (no procedural builder)."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import soundfile as sf

import main as cli
from audio_separation.config import get_config
from audio_separation.env import make_env
from audio_separation.env.settings import EnvSettings
from audio_separation.world.sample_world import rotation_of_heading, write_grid_scene, write_rirs, write_views
from audio_separation.world.soundspaces import SoundSpacesLayout, read_sound_classes, write_episodes

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))

SCENE = "17DRP5sb8fy"


def test_the_real_data_walk_through(tmp_path, capsys) -> None:
    root = str(tmp_path / "soundspaces")
    layout = SoundSpacesLayout(root, "mp3d")

    # 1. the downloads: metadata, binaural RIRs (a full set here), cached views
    graph = write_grid_scene(layout, SCENE, columns=3, rows=2)
    nodes = sorted(graph.nodes())
    write_rirs(layout, SCENE, [(r, s, h) for r in nodes for s in nodes for h in (0, 90, 180, 270)], 16000, (0.05, 0.1))
    write_views(layout, SCENE, [(n, h) for n in nodes for h in (0, 90, 180, 270)], resolution=8)

    # 2. your sounds: a sub-folder per class or <class>_<anything> names, any rate, stereo allowed
    sounds = tmp_path / "my_sounds"
    (sounds / "speech").mkdir(parents=True)
    tone = np.sin(np.arange(22 * 44100) * 0.05).astype(np.float32) * 0.2
    sf.write(sounds / "speech" / "alice.flac", np.stack([tone, 0.5 * tone], axis=1), 44100)
    sf.write(sounds / "speech" / "bob.wav", tone[: 21 * 44100], 44100)
    sf.write(
        sounds / "noise_fan.wav", np.random.default_rng(0).standard_normal(21 * 16000).astype(np.float32) * 0.1, 16000
    )
    from import_sounds import main as import_sounds_main  # scripts/import_sounds.py

    assert import_sounds_main([str(sounds), "--world", root, "--distractor-classes", "noise"]) == 0
    classes = read_sound_classes(layout)
    labels = {entry["name"]: entry["label"] for entry in classes["classes"]}
    speech = [name for name in classes["heard"] if name.startswith("speech_")][0]
    noise = [name for name in classes["heard"] if name.startswith("noise_")][0]

    # 3. episodes in the SoundSpaces format (no project extras)
    point = lambda node: list(graph.nodes[node]["point"])  # noqa: E731
    episode = {
        "episode_id": "7",
        "scene_id": f"data/scene_datasets/mp3d/{SCENE}/{SCENE}.glb",
        "start_position": point(0),
        "start_rotation": rotation_of_heading(270),
        "goals": [{"position": point(2), "radius": 1e-5}, {"position": point(4), "radius": 1e-5}],
        "info": [
            {"sound": speech, "start_idx": 3, "target_label": labels["speech"]},
            {"sound": noise, "start_idx": 0, "target_label": labels["speech"]},
        ],
        "all_geodesic_distances": [2.0, 2.0],
    }
    write_episodes(layout, "v1", "val", [episode])

    # 4. the config overrides: check the world, then run an episode
    before = sorted(os.path.join(path, name) for path, _, names in os.walk(root) for name in names)
    model_dir = str(tmp_path / "check")
    opts = ["WORLD.DATA_ROOT", root, "WORLD.DATASET", "mp3d"]
    assert (
        cli.main(
            ["--exp-config", "configs/quickstart/world.yaml", "--run-type", "eval", "--model-dir", model_dir, *opts]
        )
        == 0
    )
    with open(os.path.join(model_dir, "world_check.json")) as handle:
        assert json.load(handle)[SCENE]["rir_files"] == 6 * 6 * 4
    cache_dir = str(tmp_path / "cache")
    config = get_config(
        opts=[*opts, "WORLD.CACHE_DIR", cache_dir, "TASK.SPLIT", "val", "WORLD.VIEW_RESOLUTION", 8,
              "NUM_PROCESSES", 1, "ENV.VECTOR_ENV_TYPE", "sync"]
    )  # fmt: skip
    env = make_env(EnvSettings.from_config(config))
    observation, info = env.reset()
    assert info["scene"] == SCENE and info["target_node"] == 2 and info["heading"] == 270
    for action in [0, 1, 0, 2, 0]:
        observation, *_ = env.step(action)
    assert np.isfinite(observation["mixed_binaural_magnitude"]).all() and observation["mixed_binaural_magnitude"].any()
    assert os.path.isdir(os.path.join(cache_dir, "rirs", "mp3d", SCENE))  # the disk cache, outside the root
    after = sorted(os.path.join(path, name) for path, _, names in os.walk(root) for name in names)
    assert after == before  # nothing written into the data root
