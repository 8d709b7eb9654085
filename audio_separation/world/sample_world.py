"""A small or large world in the SoundSpaces 1.0 layout written file by file, the way downloaded MP3D
data looks, without the procedural builder: tests, docs/real-data.md's walk-through and
scripts/bench/large_scene.py use it.

    write_grid_scene     metadata/<dataset>/<scene>/points.txt (mesh frame) + graph.pkl (habitat frame):
                         a columns x rows grid, 4-connected, `spacing` metres apart
    write_sound_bank     sounds/{heard,unheard}/<class>_<id>.wav + sounds/classes.json (synthetic tones)
    sample_episodes      SoundSpaces-style episodes (positions, rotation quaternions, info; no project
                         extras such as start_node), sources a few steps from the start
    needed_rirs          the (receiver, source, heading) triples and (node, heading) views a set of
                         episodes with fixed actions needs, given the env's step function
    write_rirs, write_views   files for exactly those

RIRs are decaying noise with a direct-path delay, each of its own length (drawn per file), so crops and
caches are exercised with unequal lengths as in real data.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable

import networkx as nx
import numpy as np
import soundfile as sf

from audio_separation.common.files import write_json_atomic
from audio_separation.world.soundspaces import (
    SoundSpacesLayout,
    azimuth_of_heading,
    habitat_to_mesh,
    sound_classes_path,
    write_graph,
    write_observations,
    write_points,
    write_rir,
)


def write_grid_scene(layout: SoundSpacesLayout, scene: str, columns: int, rows: int, spacing: float = 1.0) -> nx.Graph:
    """A columns x rows grid scene (node = row * columns + column); returns its graph."""
    graph = nx.Graph()
    points = {}
    for row in range(rows):
        for column in range(columns):
            node = row * columns + column
            habitat = np.array([column * spacing, 0.0, row * spacing])
            graph.add_node(node, point=[float(v) for v in habitat])
            points[node] = habitat_to_mesh(habitat)
            if column > 0:
                graph.add_edge(node, node - 1, weight=spacing)
            if row > 0:
                graph.add_edge(node, node - columns, weight=spacing)
    write_points(layout.points_path(scene), points)
    write_graph(layout.graph_path(scene), graph)
    return graph


def write_sound_bank(
    layout: SoundSpacesLayout,
    classes: list[tuple[str, bool]],
    seconds: float,
    sample_rate: int,
    clips_per_pool: int = 1,
    seed: int = 0,
    sounds_folder: str = "sounds",
) -> dict:
    """Tone clips <class>_<id>.wav per class and pool, and classes.json (labels in `classes` order)."""
    rng = np.random.default_rng(seed)
    written: dict[str, list[str]] = {"heard": [], "unheard": []}
    for label, (name, _) in enumerate(classes):
        for pool_index, pool in enumerate(("heard", "unheard")):
            for clip in range(clips_per_pool):
                clip_id = pool_index * clips_per_pool + clip
                time = np.arange(int(seconds * sample_rate)) / sample_rate
                frequency = 200.0 * (1 + label) + 50.0 * clip_id
                samples = 0.3 * np.sin(2 * np.pi * frequency * time) + 0.05 * rng.standard_normal(time.shape)
                file_name = f"{name}_{clip_id}.wav"
                path = os.path.join(layout.sounds_dir(sounds_folder), pool, file_name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                sf.write(path, samples.astype(np.float32), sample_rate, subtype="FLOAT")
                written[pool].append(file_name)
    content = {
        "classes": [
            {"name": name, "kind": "sample", "target": bool(target), "label": label}
            for label, (name, target) in enumerate(classes)
        ],
        "sample_rate": int(sample_rate),
        "heard": sorted(written["heard"]),
        "unheard": sorted(written["unheard"]),
    }
    write_json_atomic(sound_classes_path(layout, sounds_folder), content, indent=2)
    return content


def rotation_of_heading(heading: float) -> list[float]:
    """Quaternion [x, y, z, w] of a rotation by heading degrees about +y (habitat)."""
    radians = math.radians(heading)
    return [0.0, math.sin(radians / 2), 0.0, math.cos(radians / 2)]


def sample_episodes(
    graph: nx.Graph,
    dataset: str,
    scene: str,
    count: int,
    classes: dict,
    heard: bool,
    num_sources: int = 2,
    headings: Iterable[int] = (0, 90, 180, 270),
    source_steps: int = 3,
    seed: int = 0,
) -> list[dict]:
    """SoundSpaces-style episodes: a random start anywhere in the scene, sources on distinct nodes within
    source_steps graph steps of it; the target from a target class, distractors from the others."""
    rng = np.random.default_rng(seed)
    nodes = sorted(graph.nodes())
    headings = list(headings)
    pool = classes["heard" if heard else "unheard"]
    by_class: dict[str, list[str]] = {}
    for name in pool:
        by_class.setdefault(name.rsplit("_", 1)[0], []).append(name)
    labels = {entry["name"]: entry["label"] for entry in classes["classes"]}
    targets = sorted(entry["name"] for entry in classes["classes"] if entry["target"] and entry["name"] in by_class)
    episodes = []
    for index in range(count):
        while True:
            start = nodes[int(rng.integers(len(nodes)))]
            near = nx.single_source_shortest_path_length(graph, start, cutoff=source_steps)
            candidates = sorted(node for node, steps in near.items() if steps > 0)
            if len(candidates) >= num_sources:
                break
        sources = [candidates[int(i)] for i in rng.choice(len(candidates), size=num_sources, replace=False)]
        target_class = targets[int(rng.integers(len(targets)))]
        others = [name for name in sorted(by_class) if name != target_class] or [target_class]
        source_classes = [target_class] + [others[int(rng.integers(len(others)))] for _ in range(num_sources - 1)]
        clips = [by_class[name][int(rng.integers(len(by_class[name])))] for name in source_classes]
        heading = headings[int(rng.integers(len(headings)))]
        episodes.append(
            {
                "episode_id": str(index),
                "scene_id": f"{dataset}/{scene}/{scene}.glb",
                "start_position": list(graph.nodes[start]["point"]),
                "start_rotation": rotation_of_heading(heading),
                "goals": [{"position": list(graph.nodes[node]["point"]), "radius": 1e-5} for node in sources],
                "info": [
                    {"sound": clip, "start_idx": int(rng.integers(4)), "target_label": labels[target_class]}
                    for clip in clips
                ],
                "all_geodesic_distances": [float(near[node]) for node in sources],
            }
        )
    return episodes


def needed_rirs(
    plans: Iterable[tuple[int, int, tuple[int, ...], list[int]]],
    step: Callable[[int, int, int], tuple[int, int]],
) -> tuple[set[tuple[int, int, int]], set[tuple[int, int]]]:
    """(receiver, source, heading) triples and (node, heading) poses that episodes need; plans are
    (start node, start heading, source nodes, actions), step(node, heading, action) the env's move."""
    triples, poses = set(), set()
    for node, heading, sources, actions in plans:
        for action in [None, *actions]:
            if action is not None:
                node, heading = step(node, heading, action)
            poses.add((node, heading))
            triples.update((node, source, heading) for source in sources)
    return triples, poses


def write_rirs(
    layout: SoundSpacesLayout,
    scene: str,
    triples: Iterable[tuple[int, int, int]],
    sample_rate: int,
    seconds: tuple[float, float] = (0.2, 1.0),
    seed: int = 0,
) -> int:
    """A binaural RIR file per (receiver, source, heading), each of its own length in [seconds]."""
    count = 0
    for receiver, source, heading in sorted(triples):
        rng = np.random.default_rng([seed, receiver, source, heading])
        length = int(rng.uniform(*seconds) * sample_rate)
        delay = int(rng.integers(1, max(2, length // 20)))
        decay = np.exp(-np.arange(length) / (0.15 * length))[:, None]
        rir = 0.05 * rng.standard_normal((length, 2)) * decay
        rir[delay] += (1.0, 0.7)
        write_rir(
            layout.rir_path(scene, azimuth_of_heading(heading), receiver, source), rir.astype(np.float32), sample_rate
        )
        count += 1
    return count


def write_views(layout: SoundSpacesLayout, scene: str, poses: Iterable[tuple[int, int]], resolution: int) -> None:
    """scene_observations/<dataset>/<scene>.pkl with flat-coloured views for these (node, heading) poses."""
    views = {}
    for node, heading in sorted(poses):
        rgb = np.full((resolution, resolution, 3), (node * 7 + heading) % 256, dtype=np.uint8)
        depth = np.full((resolution, resolution, 1), 0.5, dtype=np.float32)
        views[(int(node), int(heading))] = {"rgb": rgb, "depth": depth}
    write_observations(layout.observations_path(scene), views)
