"""Episode and passive datasets of a tiny synthetic world (4 procedural scenes, a fake sound bank)."""

from __future__ import annotations

import json
import math
import os

import networkx as nx
import numpy as np
import pytest
import soundfile as sf

from audio_separation.world import episodes as episode_module
from audio_separation.world.episodes import (
    EPISODE_SPLITS,
    PASSIVE_SPLITS,
    build_episode_datasets,
    build_passive_datasets,
    read_scene_splits,
    split_scenes,
    write_scene_splits,
)
from audio_separation.world.floorplan import generate_floorplan
from audio_separation.world.navgrid import build_graph, grid_nodes
from audio_separation.world.soundspaces import (
    SoundSpacesLayout,
    WorldDataError,
    passive_scenes,
    read_episodes,
    read_graph,
    read_passive,
    scene_of_episode,
    write_graph,
    write_points,
)

SAMPLE_RATE = 16000
RADIUS = 3.0
NUM_SOUNDS = 3
COUNTS = {"train": 12, "val": 5, "valUnheard": 5, "test": 6, "testUnheard": 4}
PASSIVE_COUNTS = {"train": 7, "val": 4, "nonoverlapping_val": 3}
CLASSES = [
    {"name": "speaker0", "kind": "speech", "target": True, "label": 0},
    {"name": "speaker1", "kind": "speech", "target": True, "label": 1},
    {"name": "speaker2", "kind": "speech", "target": True, "label": 2},
    {"name": "music", "kind": "music", "target": True, "label": 3},
    {"name": "noisehum", "kind": "noise", "target": False, "label": 4},
]
HEARD_IDS = (0, 1)
UNHEARD_IDS = (2,)


def _make_world(root: str) -> SoundSpacesLayout:
    layout = SoundSpacesLayout(root=root, dataset="procedural")
    rng = np.random.default_rng(7)
    for index in range(4):
        scene = f"scene{index}"
        plan = generate_floorplan(
            scene,
            rng,
            width_range=(5, 7),
            depth_range=(4, 6),
            num_rooms=(2, 3),
            min_room_side=2,
            t60_targets=[0.4, 0.6],
        )
        points = grid_nodes(plan)
        write_points(layout.points_path(scene), points)
        write_graph(layout.graph_path(scene), build_graph(plan, points))
    heard, unheard = [], []
    for number, entry in enumerate(CLASSES):
        for clip_id in HEARD_IDS + UNHEARD_IDS:
            name = f"{entry['name']}_{clip_id}.wav"
            folder = "heard" if clip_id in HEARD_IDS else "unheard"
            seconds = 20 + (number + clip_id) % 3  # 20..22 s so start_idx bounds are per clip
            noise = 0.1 * rng.standard_normal(seconds * SAMPLE_RATE + 123).astype(np.float32)
            path = os.path.join(layout.sounds_dir(), folder, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            sf.write(path, noise, SAMPLE_RATE, subtype="PCM_16")
            (heard if folder == "heard" else unheard).append(name)
    with open(os.path.join(layout.sounds_dir(), "classes.json"), "w") as handle:
        json.dump(
            {"classes": CLASSES, "sample_rate": SAMPLE_RATE, "heard": sorted(heard), "unheard": sorted(unheard)}, handle
        )
    return layout


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    layout = _make_world(str(tmp_path_factory.mktemp("world")))
    roles = split_scenes(layout.scenes(), rng_seed=3)
    build_episode_datasets(layout, "v1", roles, COUNTS, NUM_SOUNDS, RADIUS, seed=11)
    build_passive_datasets(layout, "v1", roles, PASSIVE_COUNTS, NUM_SOUNDS, seed=11)
    return layout, roles


def _bytes(layout, version, split):
    with open(layout.episodes_path(version, split), "rb") as handle:
        return handle.read()


# ------------------------------------------------------------------------------------------ scene roles
def test_split_scenes_disjoint_nonempty_deterministic():
    scenes = [f"s{i}" for i in range(10)]
    roles = split_scenes(scenes, rng_seed=0)
    assert set(roles) == {"train", "val", "test"}
    assert sorted(sum(roles.values(), [])) == sorted(scenes)
    assert (len(roles["train"]), len(roles["val"]), len(roles["test"])) == (6, 2, 2)
    assert roles == split_scenes(list(reversed(scenes)), rng_seed=0)
    assert any(split_scenes(scenes, rng_seed=seed) != roles for seed in range(1, 6))
    for count in (3, 4, 5):
        small = split_scenes([f"s{i}" for i in range(count)], rng_seed=1)
        assert all(small[role] for role in ("train", "val", "test"))
    with pytest.raises(ValueError):
        split_scenes([], rng_seed=0)


def test_scene_splits_round_trip(world):
    layout, roles = world
    assert read_scene_splits(layout, "v1") == roles
    write_scene_splits(layout, "other", roles)
    assert read_scene_splits(layout, "other") == roles
    with pytest.raises(WorldDataError, match="scene_splits.json"):
        read_scene_splits(layout, "missing")


# ------------------------------------------------------------------------------------------ episodes
def test_files_exist_for_every_split(world):
    layout, roles = world
    for split in EPISODE_SPLITS:
        assert os.path.isfile(layout.episodes_path("v1", split))
        episodes = read_episodes(layout, "v1", split)
        assert len(episodes) == COUNTS[split]
        for scene in {scene_of_episode(episode) for episode in episodes}:
            assert os.path.isfile(layout.episode_content_path("v1", split, scene))


def test_episode_format(world):
    layout, _ = world
    classes = {entry["name"]: entry for entry in CLASSES}
    for split in EPISODE_SPLITS:
        for index, episode in enumerate(read_episodes(layout, "v1", split)):
            assert episode["episode_id"] == str(index)
            scene = scene_of_episode(episode)
            assert episode["scene_id"] == f"procedural/{scene}/{scene}.glb"
            graph = read_graph(layout.graph_path(scene))
            assert episode["start_position"] == list(graph.nodes[episode["start_node"]]["point"])
            heading = episode["start_heading"]
            assert heading in (0, 90, 180, 270)
            half = math.radians(heading) / 2
            assert np.allclose(episode["start_rotation"], [0, math.sin(half), 0, math.cos(half)])
            assert len(episode["goals"]) == len(episode["info"]) == len(episode["goal_nodes"]) == NUM_SOUNDS
            assert len(episode["all_geodesic_distances"]) == len(episode["sound_classes"]) == NUM_SOUNDS
            for goal, node in zip(episode["goals"], episode["goal_nodes"]):
                assert goal["position"] == list(graph.nodes[node]["point"])
                assert goal["radius"] == 1e-5
            # goals[0] is the target: the label in info is the first source's class label, target-eligible
            target_class = episode["sound_classes"][0]
            assert classes[target_class]["target"]
            for entry, class_name in zip(episode["info"], episode["sound_classes"]):
                assert isinstance(entry["sound"], str) and entry["sound"].rsplit("_", 1)[0] == class_name
                assert isinstance(entry["start_idx"], int)
                assert entry["target_label"] == classes[target_class]["label"]
            assert len(set(episode["sound_classes"])) == NUM_SOUNDS  # 5 classes are enough to keep all distinct
            assert len(set(episode["goal_nodes"])) == NUM_SOUNDS and episode["start_node"] not in episode["goal_nodes"]


def test_start_idx_within_clip(world):
    layout, _ = world
    for split in EPISODE_SPLITS:
        folder = "heard" if "Unheard" not in split else "unheard"
        for episode in read_episodes(layout, "v1", split):
            for entry in episode["info"]:
                info = sf.info(os.path.join(layout.sounds_dir(), folder, entry["sound"]))
                assert 0 <= entry["start_idx"] < info.frames // info.samplerate


def test_near_target_and_geodesics(world):
    layout, _ = world
    for split in EPISODE_SPLITS:
        for episode in read_episodes(layout, "v1", split):
            graph = read_graph(layout.graph_path(scene_of_episode(episode)))
            largest = max(nx.connected_components(graph), key=len)
            assert episode["start_node"] in largest and set(episode["goal_nodes"]) <= largest
            distances = nx.single_source_dijkstra_path_length(graph, episode["start_node"], weight="weight")
            expected = [distances[node] for node in episode["goal_nodes"]]
            assert np.allclose(episode["all_geodesic_distances"], expected)
            assert 0 < expected[0] <= RADIUS + 1e-9


def test_scenes_follow_roles_and_spread_evenly(world):
    layout, roles = world
    assert not (
        set(roles["train"]) & set(roles["val"])
        or set(roles["train"]) & set(roles["test"])
        or set(roles["val"]) & set(roles["test"])
    )
    role_of = {"train": "train", "val": "val", "valUnheard": "val", "test": "test", "testUnheard": "test"}
    for split in EPISODE_SPLITS:
        scenes = [scene_of_episode(episode) for episode in read_episodes(layout, "v1", split)]
        assert set(scenes) <= set(roles[role_of[split]])
        per_scene = [scenes.count(scene) for scene in roles[role_of[split]]]
        assert max(per_scene) - min(per_scene) <= 1


def test_heard_and_unheard_clips(world):
    layout, _ = world
    heard = set(os.listdir(os.path.join(layout.sounds_dir(), "heard")))
    unheard = set(os.listdir(os.path.join(layout.sounds_dir(), "unheard")))
    for split in EPISODE_SPLITS:
        sounds = {entry["sound"] for episode in read_episodes(layout, "v1", split) for entry in episode["info"]}
        assert sounds <= (unheard if split.endswith("Unheard") else heard), split


def test_deterministic_from_seed(world):
    layout, roles = world
    build_episode_datasets(layout, "same", roles, COUNTS, NUM_SOUNDS, RADIUS, seed=11)
    build_episode_datasets(layout, "different", roles, COUNTS, NUM_SOUNDS, RADIUS, seed=12)
    for split in EPISODE_SPLITS:
        assert _bytes(layout, "v1", split) == _bytes(layout, "same", split)
        assert _bytes(layout, "v1", split) != _bytes(layout, "different", split)
    build_passive_datasets(layout, "same", roles, PASSIVE_COUNTS, NUM_SOUNDS, seed=11)
    for scene in roles["train"]:
        with (
            open(layout.passive_path("v1", "train", scene), "rb") as a,
            open(layout.passive_path("same", "train", scene), "rb") as b,
        ):
            assert a.read() == b.read()


def test_more_sources_than_classes_keeps_target_class_unique(world):
    layout, roles = world
    # 7 sources but only 5 classes: distractors must still avoid the target class
    counts = dict.fromkeys(EPISODE_SPLITS, 3)
    build_episode_datasets(layout, "many", roles, counts, 7, RADIUS, seed=0)
    for episode in read_episodes(layout, "many", "train"):
        assert episode["sound_classes"][0] not in episode["sound_classes"][1:]
        assert len(set(episode["goal_nodes"])) == 7


# ------------------------------------------------------------------------------------------ passive
def test_passive_datapoints(world):
    layout, roles = world
    scenes_of = {"train": roles["train"], "val": roles["val"], "nonoverlapping_val": roles["val"]}
    for split in PASSIVE_SPLITS:
        for scene in scenes_of[split]:
            graph = read_graph(layout.graph_path(scene))
            datapoints = read_passive(layout, "v1", split, scene)
            assert len(datapoints) == PASSIVE_COUNTS[split]
            for point in datapoints:
                assert set(point) == {"r", "azimuth", "all_s"}
                assert point["azimuth"] in (0, 90, 180, 270)
                assert len(point["all_s"]) == NUM_SOUNDS == len(set(point["all_s"]))
                assert point["r"] not in point["all_s"]
                assert all(isinstance(node, int) and node in graph for node in [point["r"], *point["all_s"]])
        for scene in roles["test"]:
            assert not os.path.exists(layout.passive_path("v1", split, scene))


# ------------------------------------------------------------------------------------------ validation
@pytest.mark.parametrize("role", ["train", "val", "test"])
def test_empty_role_raises(world, role):
    layout, roles = world
    broken = {**roles, role: []}
    with pytest.raises(ValueError, match=repr(role)):
        build_episode_datasets(layout, "broken", broken, COUNTS, NUM_SOUNDS, RADIUS, seed=0)
    if role != "test":
        with pytest.raises(ValueError, match=repr(role)):
            build_passive_datasets(layout, "broken", broken, PASSIVE_COUNTS, NUM_SOUNDS, seed=0)


def test_bad_arguments_raise(world):
    layout, roles = world
    with pytest.raises(ValueError, match="valUnheard"):
        build_episode_datasets(
            layout, "bad", roles, {k: v for k, v in COUNTS.items() if k != "valUnheard"}, NUM_SOUNDS, RADIUS, seed=0
        )
    with pytest.raises(ValueError, match="disjoint"):
        build_episode_datasets(layout, "bad", {**roles, "test": roles["val"]}, COUNTS, NUM_SOUNDS, RADIUS, seed=0)


def test_scene_without_near_start_names_scene(world):
    layout, roles = world
    # radius smaller than the 1 m grid spacing: no start can be near any target
    with pytest.raises(ValueError, match=roles["train"][0]):
        build_episode_datasets(layout, "bad", roles, COUNTS, NUM_SOUNDS, 0.5, seed=0)


def test_rebuild_with_other_roles_leaves_no_stale_scene_files(world):
    layout, roles = world
    counts = dict.fromkeys(EPISODE_SPLITS, 2)
    build_episode_datasets(layout, "rebuild", roles, counts, NUM_SOUNDS, RADIUS, seed=0)
    build_passive_datasets(layout, "rebuild", roles, PASSIVE_COUNTS, NUM_SOUNDS, seed=0)
    swapped = {"train": roles["test"], "val": roles["train"], "test": roles["val"]}
    build_episode_datasets(layout, "rebuild", swapped, counts, NUM_SOUNDS, RADIUS, seed=0)
    build_passive_datasets(layout, "rebuild", swapped, PASSIVE_COUNTS, NUM_SOUNDS, seed=0)
    content = os.path.dirname(layout.episode_content_path("rebuild", "train", "x"))
    assert sorted(os.listdir(content)) == sorted(f"{scene}.json.gz" for scene in swapped["train"])
    assert passive_scenes(layout, "rebuild", "train") == sorted(swapped["train"])
    assert read_scene_splits(layout, "rebuild") == swapped


def test_disconnected_nodes_are_never_used(tmp_path):
    layout = SoundSpacesLayout(root=str(tmp_path), dataset="procedural")
    graph = nx.Graph()
    for node in range(6):  # a path 0-1-2-3-4-5 and an island pair 10-11
        graph.add_node(node, point=(float(node), 0.0, 0.0))
    for node in range(5):
        graph.add_edge(node, node + 1, weight=1.0)
    graph.add_node(10, point=(20.0, 0.0, 0.0))
    graph.add_node(11, point=(21.0, 0.0, 0.0))
    graph.add_edge(10, 11, weight=1.0)
    assert episode_module._largest_component(graph) == [0, 1, 2, 3, 4, 5]
    for scene in ("a", "b", "c"):
        write_graph(layout.graph_path(scene), graph)
    roles = {"train": ["a"], "val": ["b"], "test": ["c"]}
    build_passive_datasets(layout, "v", roles, PASSIVE_COUNTS, 2, seed=0)
    for point in read_passive(layout, "v", "train", "a"):
        assert {point["r"], *point["all_s"]} <= set(range(6))
