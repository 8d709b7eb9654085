"""Resumable builds of a world with a partial RIR set (presets with source_sites > 0, e.g. "benchmark").

Rendering every (receiver, source) pair of a world of 24 fifty-node apartments would take hours and tens
of gigabytes; SoundSpaces itself ships partial sets. So the sources are confined to a few source sites per
scene, the episodes and passive datapoints are sampled first, and then RIRs are rendered for every node
as the receiver (the agent may stand anywhere) and every source node those files use, at the 4 headings:
nodes x used sources x 4 files per scene. The RIR store reads them lazily (there is no packed cache).

Stages, in order; a rerun into the same folder (same preset, seed, binaural model and sample rate, recorded
in build_state/world.json; anything else is refused) skips what is complete:
1. sound bank: skipped when classes.json names the same preset, seed and rate and all its clips exist;
2. metadata of every scene (points, graph, floorplan.json with the furniture): cheap, rewritten;
3. source sites per scene (`choose_source_sites`), episodes and passive datapoints (deterministic, rewritten);
4. per scene and used source, the RIRs of every receiver and heading (each wav written to a temporary name
   and renamed, so a file that exists is whole; a source whose files all exist is skipped), and the views;
   when all of a scene's jobs are done its marker build_state/<scene>.json records its summary and the
   sources rendered, and a rerun skips the scene while the marker matches.
Every file is a pure function of (preset, seed, binaural model): an interrupted and resumed build writes
the same bytes as an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import time
from multiprocessing import get_context

import numpy as np
from yacs.config import CfgNode

from audio_separation.common.files import directory_size, write_json_atomic
from audio_separation.world.acoustics import RirSettings, SceneAcoustics
from audio_separation.world.episodes import (
    EPISODE_SPLITS,
    FAR_TARGET_SPLITS,
    PASSIVE_SPLITS,
    sample_world_datasets,
    split_scenes,
    write_scene_splits,
)
from audio_separation.world.floorplan import FloorPlan, eyring_t60
from audio_separation.world.navgrid import build_graph, grid_nodes
from audio_separation.world.presets import WorldPreset, plan_world, scene_rir_seconds
from audio_separation.world.sound_source import write_world_sounds
from audio_separation.world.soundspaces import (
    HEADINGS,
    SoundSpacesLayout,
    azimuth_of_heading,
    passive_scenes,
    read_episodes,
    read_passive,
    scene_of_episode,
    sound_classes_path,
    write_graph,
    write_observations,
    write_points,
    write_rir,
)

STATE_FOLDER = "build_state"  # under the world root: world.json and one done-marker per scene
_ACOUSTICS: dict[str, SceneAcoustics] = {}  # per worker process: the scene it rendered last (image-source cache)


def build_partial_world(
    output_dir: str,
    preset_name: str,
    preset: WorldPreset,
    seed: int,
    config: CfgNode,
    workers: int = 2,
    progress: bool = True,
    far_target: bool = False,
    dataset: str = "procedural",
    sounds_from: str | None = None,
    distractor_classes: tuple[str, ...] = (),
) -> dict:
    """Build (or finish) the world at output_dir; returns the build report (also build_report.json).
    sounds_from: real recordings instead of the synthetic bank (world/sound_source.py)."""
    from tqdm import tqdm

    started = time.time()
    layout = SoundSpacesLayout(output_dir, dataset)
    sample_rate = config.WORLD.RIR_SAMPLE_RATE
    version = config.WORLD.EPISODE_VERSION
    identity = {
        "preset": preset_name,
        "seed": int(seed),
        "binaural_model": config.WORLD.BINAURAL_MODEL,
        "sample_rate": int(sample_rate),
        **({"sounds_from": os.path.abspath(sounds_from)} if sounds_from else {}),
    }
    _claim_folder(output_dir, identity)

    sound_started = time.time()
    sounds_dir = layout.sounds_dir(config.WORLD.SOUNDS_DIR)
    if sounds_from or not _sound_bank_complete(layout, config.WORLD.SOUNDS_DIR, preset.sound_bank, seed, sample_rate):
        write_world_sounds(
            sounds_dir, preset.sound_bank, seed, sample_rate, progress, sounds_from, tuple(distractor_classes)
        )
    sound_seconds = time.time() - sound_started

    plans = plan_world(preset, seed)
    sites = {}
    for index, plan in enumerate(plans):
        points = grid_nodes(plan)
        graph = build_graph(plan, points)
        write_points(layout.points_path(plan.name), points)
        write_graph(layout.graph_path(plan.name), graph)
        with open(layout.floorplan_path(plan.name), "w") as handle:
            handle.write(plan.to_json())
        rng = np.random.default_rng([seed, 5, index])
        sites[plan.name] = choose_source_sites(plan, points, graph, preset.source_sites, rng)

    roles = split_scenes([plan.name for plan in plans], seed, role_counts=preset.scene_roles)
    write_scene_splits(layout, version, roles)
    episodes, passive, far = sample_world_datasets(
        layout, version, roles, preset, config, seed, far_target, source_nodes=sites
    )

    used = source_nodes_used(layout, version)
    settings = {
        "root": output_dir,
        "dataset": dataset,
        "preset": preset,
        "seed": int(seed),
        "sample_rate": int(sample_rate),
        "binaural_model": config.WORLD.BINAURAL_MODEL,
        "view_resolution": int(config.WORLD.VIEW_RESOLUTION),
        "depth_max": float(config.WORLD.DEPTH_MAX),
    }
    summaries, pending, jobs = {}, {}, []
    for index, plan in enumerate(plans):
        sources = sorted(used.get(plan.name, set()))
        marker = _read_marker(layout, plan.name)
        if marker is not None and marker["sources"] == sources:
            summaries[plan.name] = marker["summary"]
            continue
        receivers = sorted(grid_nodes(plan))
        scene_jobs = [
            (settings, index, plan.to_json(), source)
            for source in sources
            if not _source_complete(layout, plan.name, source, receivers)
        ]
        if not os.path.isfile(layout.observations_path(plan.name)):
            scene_jobs.append((settings, index, plan.to_json(), None))
        pending[plan.name] = {"left": len(scene_jobs), "sources": sources, "plan": plan, "seconds": 0.0}
        jobs += scene_jobs
    resumed = len(summaries)

    bar = tqdm(total=len(jobs), desc="rendering RIRs and views", unit="job", disable=not progress)
    for name in [name for name, state in pending.items() if state["left"] == 0]:
        summaries[name] = _finish_scene(layout, pending.pop(name), preset, sample_rate)
    for scene, seconds in _run_jobs(jobs, workers):
        bar.update(1)
        state = pending[scene]
        state["left"] -= 1
        state["seconds"] += seconds
        if state["left"] == 0:
            summaries[scene] = _finish_scene(layout, pending.pop(scene), preset, sample_rate)
    bar.close()

    report = {
        **identity,
        "dataset": dataset,
        "scenes": [summaries[plan.name] for plan in plans],
        "scene_roles": roles,
        "episodes": episodes,
        "passive_datapoints": passive,
        **({"far_target": far} if far is not None else {}),
        "partial_rirs": {"source_sites": preset.source_sites, "scenes_already_done": resumed},
        "sound_bank_seconds": round(sound_seconds, 2),
        "total_seconds": round(time.time() - started, 2),
        "disk_bytes": directory_size(output_dir),
    }
    write_json_atomic(os.path.join(output_dir, "build_report.json"), report, indent=1, sort_keys=True)
    return report


def choose_source_sites(
    plan: FloorPlan, points: dict[int, np.ndarray], graph, count: int, rng: np.random.Generator
) -> list[int]:
    """`count` nodes of the graph's largest connected component, spread over the rooms: rounds over the
    rooms in index order, each round taking one random unchosen node per room, until count (or every node)."""
    import networkx as nx

    component = max((sorted(c) for c in nx.connected_components(graph)), key=lambda c: (len(c), -c[0]))
    by_room: dict[int, list[int]] = {}
    for node in component:
        by_room.setdefault(plan.room_at(*points[node][:2]), []).append(node)
    for nodes in by_room.values():
        rng.shuffle(nodes)
    chosen: list[int] = []
    while len(chosen) < min(count, len(component)):
        for room in sorted(by_room):
            if by_room[room] and len(chosen) < count:
                chosen.append(int(by_room[room].pop()))
    return sorted(chosen)


def source_nodes_used(layout: SoundSpacesLayout, version: str) -> dict[str, set[int]]:
    """Per scene, every node a source of an episode (any split written, far-target ones too) or a passive
    datapoint sits on: the sources whose RIRs the world must hold."""
    used: dict[str, set[int]] = {}
    for split in (*EPISODE_SPLITS, *FAR_TARGET_SPLITS):
        if os.path.isfile(layout.episodes_path(version, split)):
            for episode in read_episodes(layout, version, split):
                used.setdefault(scene_of_episode(episode), set()).update(int(n) for n in episode["goal_nodes"])
    for split in PASSIVE_SPLITS:
        for scene in passive_scenes(layout, version, split):
            for datapoint in read_passive(layout, version, split, scene):
                used.setdefault(scene, set()).update(int(n) for n in datapoint["all_s"])
    return used


# ----------------------------------------------------------------------------------------- internals
def _claim_folder(output_dir: str, identity: dict) -> None:
    path = os.path.join(output_dir, STATE_FOLDER, "world.json")
    if os.path.isfile(path):
        with open(path) as handle:
            found = json.load(handle)
        if found != identity:
            raise ValueError(
                f"{output_dir} holds a partial build of another world ({path}: {found}); this build is "
                f"{identity}: build into another folder or delete this one"
            )
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_json_atomic(path, identity, sort_keys=True)


def _sound_bank_complete(layout: SoundSpacesLayout, folder: str, preset: str, seed: int, sample_rate: int) -> bool:
    path = sound_classes_path(layout, folder)
    if not os.path.isfile(path):
        return False
    with open(path) as handle:
        content = json.load(handle)
    if (content.get("preset"), content.get("seed"), content.get("sample_rate")) != (preset, seed, sample_rate):
        return False
    root = layout.sounds_dir(folder)
    return all(
        os.path.isfile(os.path.join(root, pool, name)) for pool in ("heard", "unheard") for name in content[pool]
    )


def _marker_path(layout: SoundSpacesLayout, scene: str) -> str:
    return os.path.join(layout.root, STATE_FOLDER, f"{scene}.json")


def _read_marker(layout: SoundSpacesLayout, scene: str) -> dict | None:
    path = _marker_path(layout, scene)
    if not os.path.isfile(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def _source_complete(layout: SoundSpacesLayout, scene: str, source: int, receivers: list[int]) -> bool:
    return all(
        os.path.isfile(layout.rir_path(scene, azimuth_of_heading(heading), receiver, source))
        for heading in HEADINGS
        for receiver in receivers
    )


def _run_jobs(jobs: list, workers: int):
    """(scene, seconds) per finished job, in completion order."""
    if workers > 1 and len(jobs) > 1:
        with get_context("spawn").Pool(min(workers, len(jobs))) as pool:
            yield from pool.imap_unordered(_render_job, jobs)
    else:
        for job in jobs:
            yield _render_job(job)


def _render_job(job: tuple) -> tuple[str, float]:
    """Worker: the RIR files of one source (every receiver and heading), or (source None) the scene's views."""
    settings, index, plan_json, source = job
    started = time.time()
    plan = FloorPlan.from_json(plan_json)
    layout = SoundSpacesLayout(settings["root"], settings["dataset"])
    points = grid_nodes(plan)
    if source is None:
        from audio_separation.world.views import render_scene_observations

        observations = render_scene_observations(
            plan, points, list(HEADINGS), settings["view_resolution"], settings["depth_max"]
        )
        write_observations(layout.observations_path(plan.name), observations)
        return plan.name, time.time() - started
    acoustics = _scene_acoustics(settings, index, plan)
    for receiver in sorted(points):
        paths = [layout.rir_path(plan.name, azimuth_of_heading(h), receiver, source) for h in HEADINGS]
        if all(os.path.isfile(path) for path in paths):
            continue
        rirs = acoustics.binaural_rirs(points[source], points[receiver], list(HEADINGS), (source, receiver))
        for h_index, path in enumerate(paths):
            temporary = f"{path}.partial"
            write_rir(temporary, rirs[h_index], settings["sample_rate"])
            os.replace(temporary, path)
    return plan.name, time.time() - started


def _scene_acoustics(settings: dict, index: int, plan: FloorPlan) -> SceneAcoustics:
    """The worker's SceneAcoustics of this scene (kept while the worker renders the same scene)."""
    key = f"{settings['root']}|{plan.name}"
    if key not in _ACOUSTICS:
        _ACOUSTICS.clear()
        preset, seed = settings["preset"], settings["seed"]
        rir_settings = RirSettings(
            sample_rate=settings["sample_rate"],
            ism_order=preset.ism_order,
            length_seconds=scene_rir_seconds(plan, preset),
            binaural_model=settings["binaural_model"],
        )
        noise_seed = int(np.random.SeedSequence([seed, 3, index]).generate_state(1)[0])
        _ACOUSTICS[key] = SceneAcoustics(plan, rir_settings, seed=noise_seed)
    return _ACOUSTICS[key]


def _finish_scene(layout: SoundSpacesLayout, state: dict, preset: WorldPreset, sample_rate: int) -> dict:
    """Write the scene's done-marker; returns its summary."""
    plan, sources = state["plan"], state["sources"]
    points = grid_nodes(plan)
    nodes = sorted(points)
    graph = build_graph(plan, points)
    summary = {
        "scene": plan.name,
        "nodes": len(nodes),
        "edges": graph.number_of_edges(),
        "rooms": len(plan.rooms),
        "doors": len(plan.doors),
        "furniture": len(plan.furniture),
        "source_nodes": len(sources),
        "rir_seconds_long": scene_rir_seconds(plan, preset),
        "rir_count": len(nodes) * len(sources) * len(HEADINGS),
        "room_t60_eyring": [round(eyring_t60(r.absorption, r.volume, r.surface), 3) for r in plan.rooms],
        "build_seconds": round(state["seconds"], 2),
    }
    write_json_atomic(_marker_path(layout, plan.name), {"sources": sources, "summary": summary}, sort_keys=True)
    return summary
