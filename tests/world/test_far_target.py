"""Far-target episode splits (Move2Hear): every start >= the threshold from its target, deterministic,
scenes without such a pair reported; the near-target splits are untouched."""

from __future__ import annotations

import json
import os

import networkx as nx
import pytest

from audio_separation.world.episodes import (
    EPISODE_SPLITS,
    FAR_TARGET_REPORT,
    FAR_TARGET_SPLITS,
    build_episode_datasets,
    build_far_target_datasets,
    split_scenes,
)
from audio_separation.world.soundspaces import read_episodes, read_graph, scene_of_episode
from tests.world.test_episodes import COUNTS, NUM_SOUNDS, RADIUS, _make_world

# the synthetic world's scenes' longest geodesic distances: scene0 8 m, scene1 10, scene2 9, scene3 12;
# roles (seed 3): train scene0 + scene3, val scene2, test scene1
MIN_DISTANCE = 9.5


@pytest.fixture(scope="module")
def far_world(tmp_path_factory):
    layout = _make_world(str(tmp_path_factory.mktemp("far_world")))
    roles = split_scenes(layout.scenes(), rng_seed=3)
    build_episode_datasets(layout, "v1", roles, COUNTS, NUM_SOUNDS, RADIUS, seed=11)
    near = {split: _bytes(layout, "v1", split) for split in EPISODE_SPLITS}
    report = build_far_target_datasets(layout, "v1", roles, COUNTS, NUM_SOUNDS, MIN_DISTANCE, seed=11)
    return layout, roles, report, near


def _bytes(layout, version, split):
    with open(layout.episodes_path(version, split), "rb") as handle:
        return handle.read()


def test_scenes_without_a_far_pair_are_reported_and_skipped(far_world):
    layout, roles, report, _ = far_world
    assert roles == {"train": ["scene0", "scene3"], "val": ["scene2"], "test": ["scene1"]}
    assert report["scenes_without_pairs"] == ["scene0", "scene2"]
    assert report["min_distance"] == MIN_DISTANCE
    assert report["max_geodesic_distance"] == {"scene0": 8.0, "scene1": 10.0, "scene2": 9.0, "scene3": 12.0}
    expected = {f"{split}_farTarget": COUNTS[split] for split in EPISODE_SPLITS}
    expected.update({"val_farTarget": 0, "valUnheard_farTarget": 0})  # the only val scene has no pair
    assert report["episodes"] == expected
    assert not os.path.exists(os.path.dirname(layout.episodes_path("v1", "val_farTarget")))
    with open(os.path.join(os.path.dirname(layout.scene_splits_path("v1")), FAR_TARGET_REPORT)) as handle:
        assert json.load(handle) == report
    assert {scene_of_episode(e) for e in read_episodes(layout, "v1", "train_farTarget")} == {"scene3"}


def test_every_start_is_at_least_the_threshold_from_its_target(far_world):
    layout, _, report, _ = far_world
    for split in FAR_TARGET_SPLITS:
        if not report["episodes"][split]:
            continue
        episodes = read_episodes(layout, "v1", split)
        assert len(episodes) == report["episodes"][split]
        for episode in episodes:
            graph = read_graph(layout.graph_path(scene_of_episode(episode)))
            distance = nx.shortest_path_length(graph, episode["start_node"], episode["goal_nodes"][0], weight="weight")
            assert distance >= MIN_DISTANCE
            assert episode["all_geodesic_distances"][0] == pytest.approx(distance)
            assert len(set(episode["goal_nodes"]) | {episode["start_node"]}) == NUM_SOUNDS + 1
            assert len(episode["goals"]) == len(episode["info"]) == NUM_SOUNDS  # the SoundSpaces format


def test_deterministic_and_the_near_target_splits_untouched(far_world):
    layout, roles, _, near = far_world
    for split in EPISODE_SPLITS:  # adding far-target splits leaves the near-target files as they were
        assert _bytes(layout, "v1", split) == near[split]
    build_far_target_datasets(layout, "same", roles, COUNTS, NUM_SOUNDS, MIN_DISTANCE, seed=11)
    build_far_target_datasets(layout, "other", roles, COUNTS, NUM_SOUNDS, MIN_DISTANCE, seed=12)
    for split in ("train_farTarget", "test_farTarget", "testUnheard_farTarget"):
        assert _bytes(layout, "v1", split) == _bytes(layout, "same", split)
        assert _bytes(layout, "v1", split) != _bytes(layout, "other", split)


def test_lower_threshold_uses_every_scene_and_removes_nothing_stale(far_world):
    layout, roles, _, _ = far_world
    report = build_far_target_datasets(layout, "low", roles, COUNTS, NUM_SOUNDS, 7.0, seed=11)
    assert report["scenes_without_pairs"] == []
    assert report["episodes"]["val_farTarget"] == COUNTS["val"]
    report = build_far_target_datasets(layout, "low", roles, COUNTS, NUM_SOUNDS, MIN_DISTANCE, seed=11)
    assert not os.path.exists(os.path.dirname(layout.episodes_path("low", "val_farTarget")))  # no stale split
    with pytest.raises(ValueError, match="min_distance"):
        build_far_target_datasets(layout, "bad", roles, COUNTS, NUM_SOUNDS, 0.0, seed=11)


def test_script_adds_the_splits_to_a_world(far_world, tmp_path):
    import scripts.build_far_target_episodes as script

    layout, _, _, _ = far_world
    opts = ["WORLD.DATA_ROOT", layout.root, "WORLD.EPISODE_VERSION", "v1", "TASK.NUM_SOUNDS_IN_MIX", str(NUM_SOUNDS)]
    config = tmp_path / "far.yaml"
    config.write_text(f"TASK:\n  FAR_TARGET_MIN_DISTANCE: {MIN_DISTANCE}\n")
    before = _bytes(layout, "v1", "train_farTarget")
    assert script.main(["--exp-config", str(config), "--seed", "11", "--episodes", "12", *opts]) == 0
    assert _bytes(layout, "v1", "train_farTarget") == before  # COUNTS["train"] is 12: the same episodes
    assert script.main(["--exp-config", str(config), *opts]) == 2  # no build report: seed and counts needed
