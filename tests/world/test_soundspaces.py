"""The SoundSpaces layout reader/writer: round trips, and loud failures on bad input."""

from __future__ import annotations

import os
import pickle

import networkx as nx
import numpy as np
import pytest
import soundfile as sf

from audio_separation.world import soundspaces as ss


@pytest.fixture()
def layout(tmp_path):
    return ss.SoundSpacesLayout(str(tmp_path), "mp3d")


def _graph():
    graph = nx.Graph()
    for node in range(3):
        graph.add_node(node, point=(float(node), 0.0, -1.0))
    graph.add_edge(0, 1, weight=1.0)
    graph.add_edge(1, 2, weight=1.0)
    return graph


def test_paths_follow_soundspaces_layout(layout):
    assert layout.rir_path("sceneA", 270, 3, 7).endswith(
        os.path.join("binaural_rirs", "mp3d", "sceneA", "270", "3_7.wav")
    )
    assert layout.points_path("sceneA").endswith(os.path.join("metadata", "mp3d", "sceneA", "points.txt"))
    assert layout.observations_path("sceneA").endswith(os.path.join("scene_observations", "mp3d", "sceneA.pkl"))
    assert layout.episodes_path("v1", "valUnheard").endswith(
        os.path.join("active_datasets", "v1", "valUnheard", "valUnheard.json.gz")
    )
    assert ss.azimuth_of_heading(90) == 270 and ss.azimuth_of_heading(0) == 0


def test_points_and_graph_round_trip(layout):
    points = {0: (1.0, 2.0, 1.5), 1: (2.0, 2.0, 1.5)}
    ss.write_points(layout.points_path("s"), points)
    read = ss.read_points(layout.points_path("s"))
    np.testing.assert_allclose(read[1], points[1])
    ss.write_graph(layout.graph_path("s"), _graph())
    graph = ss.read_graph(layout.graph_path("s"))
    assert sorted(graph.edges()) == [(0, 1), (1, 2)]
    np.testing.assert_allclose(ss.habitat_to_mesh(ss.mesh_to_habitat([1.0, 2.0, 3.0])), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(ss.mesh_to_habitat([1.0, 2.0, 3.0]), [1.0, 1.5, -2.0])


def test_corrupt_graph_and_points_fail_loudly(layout):
    path = layout.graph_path("s")
    os.makedirs(os.path.dirname(path))
    with open(path, "wb") as handle:
        handle.write(b"not a pickle")
    with pytest.raises(ss.CorruptGraphError, match="graph.pkl"):
        ss.read_graph(path)
    bad = nx.Graph()
    bad.add_node(0)
    with open(path, "wb") as handle:
        pickle.dump(bad, handle)
    with pytest.raises(ss.CorruptGraphError, match="node 0 lacks"):
        ss.read_graph(path)
    with open(layout.points_path("s"), "w") as handle:
        handle.write("0\t1.0\t2.0\n")
    with pytest.raises(ss.CorruptPointsError, match="points.txt:1"):
        ss.read_points(layout.points_path("s"))
    with pytest.raises(ss.MissingSceneError, match="nope"):
        ss.read_graph(layout.graph_path("nope"))


def test_rir_round_trip_and_errors(layout):
    rir = np.random.default_rng(0).standard_normal((800, 2)).astype(np.float32) * 0.1
    path = layout.rir_path("s", 0, 0, 1)
    ss.write_rir(path, rir, 16000)
    np.testing.assert_array_equal(ss.read_rir(path, 16000), rir)
    with pytest.raises(ss.MissingRIRError, match="0_2.wav"):
        ss.read_rir(layout.rir_path("s", 0, 0, 2), 16000)
    mono = layout.rir_path("s", 0, 1, 1)
    sf.write(mono, rir[:, 0], 16000, subtype="FLOAT")
    with pytest.raises(ss.ChannelError, match="expected 2 channels"):
        ss.read_rir(mono, 16000)
    odd_rate = layout.rir_path("s", 0, 2, 2)
    sf.write(odd_rate, rir, 8000, subtype="FLOAT")
    with pytest.raises(ss.SampleRateError, match="8000 Hz, expected 16000"):
        ss.read_rir(odd_rate, 16000)


def test_replica_rate_is_resampled_on_load(layout):
    t = np.arange(44100) / 44100
    tone = np.stack([np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 440 * t)], axis=1).astype(np.float32)
    path = layout.rir_path("r", 0, 0, 0)
    ss.write_rir(path, tone, 44100)
    read = ss.read_rir(path, 16000)
    assert read.shape == (16000, 2)
    spectrum = np.abs(np.fft.rfft(read[:, 0]))
    assert abs(np.argmax(spectrum) - 440) <= 1  # 1-s signal: bin index = Hz
    np.testing.assert_allclose(np.std(read[1000:-1000, 1]) / np.std(read[1000:-1000, 0]), 0.5, rtol=1e-3)


def test_scene_rirs_missing_files_and_packed_cache(layout):
    ss.write_graph(layout.graph_path("s"), _graph())
    rng = np.random.default_rng(1)
    written = {}
    for heading in (0, 90):
        for r in range(3):
            for s in range(3):
                if (heading, r, s) == (90, 2, 0):
                    continue  # one missing file
                rir = rng.standard_normal((100 + r + s, 2)).astype(np.float32)
                ss.write_rir(layout.rir_path("s", ss.azimuth_of_heading(heading), r, s), rir, 16000)
                written[(heading, r, s)] = rir
    with pytest.raises(ss.MissingRIRError, match=os.path.join("270", "2_0.wav")):
        ss.read_scene_rirs(layout, "s", [0, 1, 2], [0, 90], 16000)
    array, missing = ss.read_scene_rirs(layout, "s", [0, 1, 2], [0, 90], 16000, allow_missing=True)
    assert missing == 1 and array.shape == (2, 3, 3, 104, 2)
    assert not array[1, 2, 0].any()
    with pytest.raises(ss.MissingRIRError):
        ss.load_packed_cache(layout, "s", [0, 90], 16000)
    packed = ss.load_packed_cache(layout, "s", [0, 90], 16000, allow_missing=True)
    np.testing.assert_array_equal(packed.get(1, 2, 90)[:103], written[(90, 1, 2)])
    assert isinstance(packed.rirs, np.memmap)
    with pytest.raises(KeyError, match="receiver 7"):
        packed.get(7, 0, 0)


def test_episodes_are_deterministic_gzip_and_empty_split_fails(layout):
    episodes = [{"episode_id": "0", "scene_id": "mp3d/s/s.glb", "info": []}]
    ss.write_episodes(layout, "v1", "train", episodes)
    first = open(layout.episodes_path("v1", "train"), "rb").read()
    ss.write_episodes(layout, "v1", "train", episodes)
    assert open(layout.episodes_path("v1", "train"), "rb").read() == first
    assert ss.read_episodes(layout, "v1", "train") == episodes
    assert os.path.isfile(layout.episode_content_path("v1", "train", "s"))
    ss.write_episodes(layout, "v1", "val", [])
    with pytest.raises(ss.EmptySplitError, match="val"):
        ss.read_episodes(layout, "v1", "val")


def test_sounds_are_checked(layout):
    folder = os.path.join(layout.sounds_dir(), "heard")
    os.makedirs(folder)
    sf.write(os.path.join(folder, "speaker0_0.wav"), np.zeros((16000, 2), np.float32), 16000)
    with pytest.raises(ss.ChannelError, match="mono"):
        ss.read_sound(os.path.join(folder, "speaker0_0.wav"), 16000)
    with pytest.raises(ss.MissingSoundError, match="speaker9_0.wav"):
        ss.read_sound(ss.sound_path(layout, "speaker9_0", heard=True), 16000)
    assert ss.sound_class("musicpiano_3.wav") == "musicpiano"
