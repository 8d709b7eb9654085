"""Builds a procedural acoustic world in the SoundSpaces layout: scenes, RIRs, views, sounds, episodes.

    build_world(output_dir, preset="default", seed=0)

Every file it writes is a pure function of (preset, seed, binaural model): the same inputs give
byte-identical files (build_report.json, which records timings and sizes, is the one exception). The
binaural model (config WORLD.BINAURAL_MODEL: "sphere" or "kemar", world/acoustics.py) is recorded in
build_report.json; a world is identified by its (preset, seed, binaural_model) there. Scenes are built in
parallel worker processes; per-scene randomness is seeded from (seed, scene index), never from order.
Presets with source sites (the "benchmark" preset) hold a partial RIR set and are built, resumably, by
world/partial_build.py.
"""

from __future__ import annotations

import json
import logging
import os
import time
from multiprocessing import get_context

import numpy as np
from yacs.config import CfgNode

from audio_separation.common.files import directory_size
from audio_separation.config.default import get_default_config
from audio_separation.world.acoustics import RirSettings, SceneAcoustics
from audio_separation.world.floorplan import FloorPlan, eyring_t60
from audio_separation.world.navgrid import build_graph, grid_nodes
from audio_separation.world.presets import PRESETS, plan_world, scene_rir_seconds
from audio_separation.world.soundspaces import HEADINGS as GRID_HEADINGS
from audio_separation.world.soundspaces import (
    SoundSpacesLayout,
    azimuth_of_heading,
    write_graph,
    write_observations,
    write_packed_cache,
    write_points,
    write_rir,
)

logger = logging.getLogger("audio_separation")

DATASET = "procedural"
HEADINGS = list(GRID_HEADINGS)  # the procedural world is built for the SoundSpaces grid headings


def build_scene(args: tuple) -> dict:
    """Worker: write metadata, RIRs (wavs + packed cache) and views of one scene; returns its summary."""
    root, plan_json, preset_name, seed, index, sample_rate, view_resolution, depth_max, binaural_model = args
    from audio_separation.world.views import render_scene_observations  # heavy-ish import in the worker

    preset = PRESETS[preset_name]
    plan = FloorPlan.from_json(plan_json)
    layout = SoundSpacesLayout(root, DATASET)
    scene = plan.name
    started = time.time()
    points = grid_nodes(plan)
    graph = build_graph(plan, points)
    write_points(layout.points_path(scene), points)
    write_graph(layout.graph_path(scene), graph)
    with open(layout.floorplan_path(scene), "w") as handle:
        handle.write(plan.to_json())

    settings = RirSettings(
        sample_rate=sample_rate,
        ism_order=preset.ism_order,
        length_seconds=scene_rir_seconds(plan, preset),
        binaural_model=binaural_model,
    )
    acoustics = SceneAcoustics(plan, settings, seed=int(np.random.SeedSequence([seed, 3, index]).generate_state(1)[0]))
    nodes = sorted(points)
    packed = np.zeros((len(HEADINGS), len(nodes), len(nodes), acoustics.length, 2), dtype=np.float32)
    for r_index, receiver in enumerate(nodes):
        for s_index, source in enumerate(nodes):
            rirs = acoustics.binaural_rirs(points[source], points[receiver], HEADINGS, (source, receiver))
            packed[:, r_index, s_index] = rirs
            for h_index, heading in enumerate(HEADINGS):
                write_rir(
                    layout.rir_path(scene, azimuth_of_heading(heading), receiver, source), rirs[h_index], sample_rate
                )
    write_packed_cache(layout, scene, nodes, HEADINGS, sample_rate, packed)
    rir_seconds = time.time() - started

    observations = render_scene_observations(plan, points, HEADINGS, view_resolution, depth_max)
    write_observations(layout.observations_path(scene), observations)
    return {
        "scene": scene,
        "nodes": len(nodes),
        "edges": graph.number_of_edges(),
        "rooms": len(plan.rooms),
        "doors": len(plan.doors),
        "rir_seconds_long": settings.length_seconds,
        "rir_count": len(nodes) ** 2 * len(HEADINGS),
        "room_t60_eyring": [round(eyring_t60(r.absorption, r.volume, r.surface), 3) for r in plan.rooms],
        "build_seconds": round(time.time() - started, 2),
        "rir_build_seconds": round(rir_seconds, 2),
    }


def build_world(
    output_dir: str,
    preset: str = "default",
    seed: int = 0,
    workers: int = 2,
    progress: bool = True,
    config: CfgNode | None = None,
    far_target: bool = False,
    sounds_from: str | None = None,
    distractor_classes: tuple[str, ...] = (),
) -> dict:
    """Build the whole world at output_dir; returns the build report (also written to build_report.json).

    config supplies the sample rate, episode version, sources per mix and near-target radius (defaults:
    audio_separation/config/default.py). far_target: also write the far-target splits
    (<split>_farTarget, TASK.FAR_TARGET_MIN_DISTANCE; world/episodes.build_far_target_datasets) with the
    preset's episode counts, and report them under "far_target" (off: the files are exactly as before).
    sounds_from: a folder of real recordings to use instead of the synthetic sound bank
    (world/sound_source.py; distractor_classes are distractor-only); None: the preset's bank.
    """
    from tqdm import tqdm

    from audio_separation.world.episodes import (
        sample_world_datasets,
        split_scenes,
        write_scene_splits,
    )
    from audio_separation.world.sound_source import write_world_sounds

    if preset not in PRESETS:
        raise ValueError(f"unknown world preset {preset!r}; choose one of {sorted(PRESETS)}")
    config = config or get_default_config()
    if PRESETS[preset].source_sites:  # a partial RIR set: its own resumable build (world/partial_build.py)
        from audio_separation.world.partial_build import build_partial_world

        return build_partial_world(
            output_dir,
            preset,
            PRESETS[preset],
            seed,
            config,
            workers,
            progress,
            far_target,
            DATASET,
            sounds_from=sounds_from,
            distractor_classes=distractor_classes,
        )
    sample_rate = config.WORLD.RIR_SAMPLE_RATE
    version = config.WORLD.EPISODE_VERSION
    preset_name, preset = preset, PRESETS[preset]
    started = time.time()
    layout = SoundSpacesLayout(output_dir, DATASET)
    os.makedirs(output_dir, exist_ok=True)

    sound_started = time.time()
    write_world_sounds(
        layout.sounds_dir(config.WORLD.SOUNDS_DIR),
        preset.sound_bank,
        seed,
        sample_rate,
        progress,
        sounds_from=sounds_from,
        distractor_classes=distractor_classes,
    )
    sound_seconds = time.time() - sound_started

    plans = plan_world(preset, seed)
    jobs = [
        (
            output_dir,
            plan.to_json(),
            preset_name,
            seed,
            index,
            sample_rate,
            config.WORLD.VIEW_RESOLUTION,
            config.WORLD.DEPTH_MAX,
            config.WORLD.BINAURAL_MODEL,
        )
        for index, plan in enumerate(plans)
    ]
    summaries = []
    if workers > 1:
        with get_context("spawn").Pool(min(workers, len(jobs))) as pool:
            for summary in tqdm(
                pool.imap(build_scene, jobs),
                total=len(jobs),
                desc="building scenes",
                unit="scene",
                disable=not progress,
            ):
                summaries.append(summary)
    else:
        for job in tqdm(jobs, desc="building scenes", unit="scene", disable=not progress):
            summaries.append(build_scene(job))

    roles = split_scenes([plan.name for plan in plans], seed)
    write_scene_splits(layout, version, roles)
    episodes, passive, far = sample_world_datasets(layout, version, roles, preset, config, seed, far_target)

    report = {
        "preset": preset_name,
        "seed": seed,
        "binaural_model": config.WORLD.BINAURAL_MODEL,
        "dataset": DATASET,
        "scenes": summaries,
        "scene_roles": roles,
        "episodes": episodes,
        "passive_datapoints": passive,
        **({"far_target": far} if far is not None else {}),
        "sound_bank_seconds": round(sound_seconds, 2),
        "total_seconds": round(time.time() - started, 2),
        "disk_bytes": directory_size(output_dir),
    }
    with open(os.path.join(output_dir, "build_report.json"), "w") as handle:
        json.dump(report, handle, indent=1, sort_keys=True)
    return report


def world_summary(report: dict) -> str:
    """Human-readable summary of a build report."""
    lines = [
        f"world: preset {report['preset']}, seed {report['seed']}, binaural model {built_binaural_model(report)}, "
        f"{len(report['scenes'])} scenes, "
        f"{report['disk_bytes'] / 1e6:.0f} MB, built in {report['total_seconds']:.0f} s",
    ]
    for scene in report["scenes"]:
        t60 = ", ".join(f"{t:.2f}" for t in scene["room_t60_eyring"])
        extras = "".join(
            f", {scene[key]} {label}"
            for key, label in (("furniture", "pieces of furniture"), ("source_nodes", "source nodes"))
            if key in scene
        )
        lines.append(
            f"  {scene['scene']}: {scene['rooms']} rooms, {scene['doors']} doors, {scene['nodes']} nodes{extras}, "
            f"{scene['rir_count']} RIRs of {scene['rir_seconds_long']:.1f} s, room T60 (Eyring) [{t60}] s"
        )
    lines.append(f"  scene roles: {report['scene_roles']}")
    lines.append(f"  episodes: {report['episodes']}")
    lines.append(f"  passive datapoints: {report['passive_datapoints']}")
    if "far_target" in report:
        far = report["far_target"]
        lines.append(
            f"  far-target episodes (>= {far['min_distance']} m): {far['episodes']}; scenes without such a pair: {far['scenes_without_pairs']}"
        )
    return "\n".join(lines)


def build_world_if_absent(config: CfgNode, progress: bool = True) -> SoundSpacesLayout:
    """The world stage: build the procedural WORLD.PRESET at WORLD.DATA_ROOT unless a world is there.
    A non-empty folder without the dataset's metadata is an error, not a guess."""
    root = config.WORLD.DATA_ROOT
    layout = SoundSpacesLayout(root, config.WORLD.DATASET)
    metadata = os.path.join(root, "metadata", config.WORLD.DATASET)
    if os.path.isdir(metadata):
        report_path = os.path.join(root, "build_report.json")
        if os.path.isfile(report_path):
            built = built_binaural_model(read_build_report(root))
            if built != config.WORLD.BINAURAL_MODEL:
                raise ValueError(
                    f"the world at {root} was built with binaural model {built!r} (build_report.json), but "
                    f"WORLD.BINAURAL_MODEL is {config.WORLD.BINAURAL_MODEL!r}: point WORLD.DATA_ROOT elsewhere "
                    "to build that world, or set WORLD.BINAURAL_MODEL to match"
                )
        return layout
    if config.WORLD.DATASET != DATASET:
        raise FileNotFoundError(
            f"no {config.WORLD.DATASET} data at {root}; only the {DATASET!r} dataset can be generated"
        )
    if os.path.isdir(root) and os.listdir(root):
        raise FileNotFoundError(
            f"{root} is not empty but holds no {metadata}: remove it or point WORLD.DATA_ROOT elsewhere"
        )
    logger.info("building the %s world at %s", config.WORLD.PRESET, root)
    build_world(root, preset=config.WORLD.PRESET, seed=config.WORLD.BUILD_SEED, progress=progress, config=config)
    return layout


def built_binaural_model(report: dict) -> str:
    """The binaural model a build report's world was made with (reports from before the key: "sphere")."""
    return report.get("binaural_model", "sphere")


def read_build_report(root: str) -> dict:
    path = os.path.join(root, "build_report.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: was this world built by scripts/build_world.py?")
    with open(path) as handle:
        return json.load(handle)
