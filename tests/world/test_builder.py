"""The whole tiny world: every file of the layout is there, consistent, and reproducible byte for byte."""

from __future__ import annotations

import filecmp
import os

import numpy as np

from audio_separation.world.builder import HEADINGS, build_world
from audio_separation.world.episodes import read_scene_splits
from audio_separation.world.soundspaces import (
    SoundSpacesLayout,
    azimuth_of_heading,
    list_sounds,
    load_packed_cache,
    read_episodes,
    read_graph,
    read_observations,
    read_points,
    read_rir,
    scene_of_episode,
)


def test_tiny_world_is_complete_and_consistent(tiny_world):
    root, report = tiny_world
    layout = SoundSpacesLayout(root, "procedural")
    scenes = layout.scenes()
    assert len(scenes) == 3
    for scene in scenes:
        points = read_points(layout.points_path(scene))
        graph = read_graph(layout.graph_path(scene))
        assert sorted(points) == sorted(graph.nodes())
        packed = load_packed_cache(layout, scene, HEADINGS, 16000, build_if_missing=False)
        assert packed.rirs.shape[:3] == (4, len(points), len(points))
        for heading in HEADINGS:
            for receiver in points:
                for source in points:
                    assert os.path.isfile(layout.rir_path(scene, azimuth_of_heading(heading), receiver, source))
        # the cache holds exactly what the wav files hold
        receiver, source = sorted(points)[0], sorted(points)[-1]
        np.testing.assert_array_equal(
            read_rir(layout.rir_path(scene, azimuth_of_heading(90), receiver, source), 16000),
            packed.get(receiver, source, 90),
        )
        views = read_observations(layout.observations_path(scene))
        assert set(views) == {(node, heading) for node in points for heading in HEADINGS}
        sample = views[(sorted(points)[0], 0)]
        assert sample["rgb"].shape == (128, 128, 3) and sample["rgb"].dtype == np.uint8
        assert sample["depth"].shape == (128, 128, 1) and 0 <= sample["depth"].min() and sample["depth"].max() <= 1
    roles = read_scene_splits(layout, "v1")
    assert not set(roles["train"]) & (set(roles["val"]) | set(roles["test"]))
    for split, role in (
        ("train", "train"),
        ("val", "val"),
        ("valUnheard", "val"),
        ("test", "test"),
        ("testUnheard", "test"),
    ):
        episodes = read_episodes(layout, "v1", split)
        assert {scene_of_episode(e) for e in episodes} <= set(roles[role])
    heard, unheard = list_sounds(layout, heard=True), list_sounds(layout, heard=False)
    assert heard and unheard and not set(heard) & set(unheard)


def test_same_seed_gives_byte_identical_files(tiny_world, tmp_path):
    root, _ = tiny_world
    again = str(tmp_path / "again")
    build_world(again, preset="tiny", seed=0, workers=1, progress=False)
    differing = []
    for folder, _, names in os.walk(root):
        for name in names:
            if name in ("build_report.json", "identities.npy"):  # timings; the packed wavs' sizes and mtimes
                continue
            first = os.path.join(folder, name)
            second = os.path.join(again, os.path.relpath(first, root))
            if not os.path.isfile(second) or not filecmp.cmp(first, second, shallow=False):
                differing.append(os.path.relpath(first, root))
    assert not differing, differing[:10]
    count = sum(len(names) for _, _, names in os.walk(again))
    assert count == sum(len(names) for _, _, names in os.walk(root))
