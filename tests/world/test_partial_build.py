"""Partial-RIR, resumable builds (world/partial_build.py) on a small variant of the benchmark preset."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil

import pytest

from audio_separation.world import presets
from audio_separation.world.builder import build_world
from audio_separation.world.episodes import EPISODE_SPLITS, PASSIVE_SPLITS
from audio_separation.world.partial_build import STATE_FOLDER, source_nodes_used
from audio_separation.world.rir_store import open_scene_rirs
from audio_separation.world.soundspaces import (
    HEADINGS,
    SoundSpacesLayout,
    azimuth_of_heading,
    passive_scenes,
    read_episodes,
    read_passive,
    read_points,
    scene_of_episode,
)

SMALL = dataclasses.replace(
    presets.PRESETS["benchmark"],
    num_scenes=3,
    width_range=(6, 6),
    depth_range=(5, 5),
    rooms_range=(4, 4),
    max_rir_seconds=0.2,
    ism_order=2,
    sound_bank="tiny",
    scene_roles=(1, 1, 1),
    source_sites=4,
    episodes={"train": 10, "val": 4, "valUnheard": 4, "test": 6, "testUnheard": 6},
    passive={"train": 8, "val": 4, "nonoverlapping_val": 4},
)


@pytest.fixture(scope="module")
def small_world(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(presets.PRESETS, "benchmark_small", SMALL)
        root = str(tmp_path_factory.mktemp("benchmark_small"))
        report = build_world(root, preset="benchmark_small", seed=0, workers=1, progress=False)
    return root, report


def _hashes(root: str) -> dict[str, str]:
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, root)
            if relative != "build_report.json" and not relative.startswith(STATE_FOLDER):
                with open(path, "rb") as handle:
                    found[relative] = hashlib.sha256(handle.read()).hexdigest()
    return found


def test_every_episode_and_passive_source_has_its_rirs(small_world):
    root, report = small_world
    layout = SoundSpacesLayout(root, "procedural")
    checked = 0
    for split in EPISODE_SPLITS:
        for episode in read_episodes(layout, "v1", split):
            scene = scene_of_episode(episode)
            for receiver in read_points(layout.points_path(scene)):  # the agent may walk to any node
                for source in episode["goal_nodes"]:
                    for heading in HEADINGS:
                        assert os.path.isfile(layout.rir_path(scene, azimuth_of_heading(heading), receiver, source))
                        checked += 1
    for split in PASSIVE_SPLITS:
        for scene in passive_scenes(layout, "v1", split):
            for item in read_passive(layout, "v1", split, scene):
                for source in item["all_s"]:
                    path = layout.rir_path(scene, azimuth_of_heading(item["azimuth"]), item["r"], source)
                    assert os.path.isfile(path)
                    checked += 1
    assert checked > 0


def test_only_the_used_sources_are_rendered(small_world):
    root, report = small_world
    layout = SoundSpacesLayout(root, "procedural")
    used = source_nodes_used(layout, "v1")
    for summary in report["scenes"]:
        scene = summary["scene"]
        nodes = read_points(layout.points_path(scene))
        assert 0 < len(used[scene]) <= SMALL.source_sites < len(nodes)
        files = {
            entry.name
            for heading in HEADINGS
            for entry in os.scandir(os.path.join(layout.rir_scene_dir(scene), str(azimuth_of_heading(heading))))
        }
        expected = {f"{receiver}_{source}.wav" for receiver in nodes for source in used[scene]}
        assert files == expected
        assert summary["rir_count"] == len(nodes) * len(used[scene]) * len(HEADINGS)
        assert not os.path.exists(layout.packed_cache_dir(scene))
    assert report["partial_rirs"]["source_sites"] == SMALL.source_sites


def test_the_rir_store_reads_a_partial_scene(small_world):
    root, _ = small_world
    layout = SoundSpacesLayout(root, "procedural")
    episode = read_episodes(layout, "v1", "test")[0]
    scene = scene_of_episode(episode)
    store = open_scene_rirs(layout, scene, HEADINGS, 16000)
    rir = store.get(episode["start_node"], episode["goal_nodes"][0], 0)
    assert rir.shape[1] == 2 and abs(rir).max() > 0
    unused = next(n for n in read_points(layout.points_path(scene)) if n not in source_nodes_used(layout, "v1")[scene])
    with pytest.raises(Exception, match="RIR"):
        store.get(episode["start_node"], unused, 0)


def test_resume_skips_finished_scenes_and_rewrites_the_same_bytes(small_world, tmp_path):
    root, report = small_world
    copy = str(tmp_path / "world")
    shutil.copytree(root, copy)
    before = _hashes(copy)
    layout = SoundSpacesLayout(copy, "procedural")
    finished, interrupted = report["scenes"][0]["scene"], report["scenes"][1]["scene"]
    # an interruption inside a scene: no done-marker, half its RIR files and its views not written yet
    os.remove(os.path.join(copy, STATE_FOLDER, f"{interrupted}.json"))
    azimuth_folder = os.path.join(layout.rir_scene_dir(interrupted), "0")
    removed = sorted(os.listdir(azimuth_folder))[::2]
    for name in removed:
        os.remove(os.path.join(azimuth_folder, name))
    os.remove(layout.observations_path(interrupted))
    finished_folder = os.path.join(layout.rir_scene_dir(finished), "0")
    finished_file = os.path.join(finished_folder, sorted(os.listdir(finished_folder))[0])
    stamp = os.stat(finished_file).st_mtime_ns
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(presets.PRESETS, "benchmark_small", SMALL)
        resumed = build_world(copy, preset="benchmark_small", seed=0, workers=1, progress=False)
    assert resumed["partial_rirs"]["scenes_already_done"] == len(report["scenes"]) - 1
    assert os.stat(finished_file).st_mtime_ns == stamp  # a finished scene is not rendered again
    assert _hashes(copy) == before  # the resumed build wrote exactly the files of the uninterrupted one
    assert os.path.isfile(os.path.join(copy, STATE_FOLDER, f"{interrupted}.json"))


def test_a_partial_build_of_another_world_is_refused(small_world, tmp_path):
    root, _ = small_world
    copy = str(tmp_path / "world")
    shutil.copytree(root, copy)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(presets.PRESETS, "benchmark_small", SMALL)
        with pytest.raises(ValueError, match="another world"):
            build_world(copy, preset="benchmark_small", seed=1, workers=1, progress=False)


def test_the_physics_check_runs_on_the_source_nodes_of_a_partial_set(small_world):
    from audio_separation.world.physics_check import check_scene_physics, source_node_rirs

    root, report = small_world
    layout = SoundSpacesLayout(root, "procedural")
    used = source_nodes_used(layout, "v1")
    for summary in report["scenes"]:
        scene = summary["scene"]
        square = source_node_rirs(layout, scene, list(HEADINGS), 16000)
        assert square is not None and square.nodes == sorted(used[scene])
        result = check_scene_physics(square, read_points(layout.points_path(scene)))
        assert result["pairs_checked"] == len(used[scene]) ** 2 and result["failures"] == []
    # a pair between source nodes without its file: no square set, the check is skipped as before
    scene = report["scenes"][0]["scene"]
    first, second = sorted(used[scene])[:2]
    os.rename(layout.rir_path(scene, 0, first, second), layout.rir_path(scene, 0, first, second) + ".away")
    try:
        assert source_node_rirs(layout, scene, list(HEADINGS), 16000) is None
    finally:
        os.rename(layout.rir_path(scene, 0, first, second) + ".away", layout.rir_path(scene, 0, first, second))
