"""Trainer "world" (the world stage, above world/ and run_context): `--run-type train` builds the configured world if absent and prints its summary;
`--run-type eval` checks every scene reads back through the SoundSpaces reader and that its RIRs are
physically sane (world/physics_check.py: T60, DRR, ILD, ITD distributions; fails on NaN/Inf RIRs or on
energy that does not fall with distance). It writes <model-dir>/world_check.json, then raises
WorldCheckError naming every failing scene."""

from __future__ import annotations

import json
import logging
import os

from tqdm import tqdm

from audio_separation.common.registry import registry
from audio_separation.run_context import BaseTrainer
from audio_separation.world.builder import build_world_if_absent, read_build_report, world_summary
from audio_separation.world.open import open_world
from audio_separation.world.physics_check import check_scene_physics, source_node_rirs
from audio_separation.world.soundspaces import (
    HEADINGS,
    WorldDataError,
    load_packed_cache,
    read_graph,
    read_observations,
    read_points,
)

logger = logging.getLogger("audio_separation")


class WorldCheckError(WorldDataError):
    """A world failed the physics checks (the message lists each scene and why)."""


@registry.register_trainer(name="world")
class WorldTrainer(BaseTrainer):
    needs_world = False  # the world stage builds the world; every other run only opens one

    def train(self) -> None:
        root = self.config.WORLD.DATA_ROOT
        if os.path.isdir(os.path.join(root, "metadata", self.config.WORLD.DATASET)) and not os.path.isfile(
            os.path.join(root, "build_report.json")
        ):
            print(
                f"{root} holds a {self.config.WORLD.DATASET} world that this project did not build (no "
                "build_report.json): nothing to build. Verify it with --run-type eval."
            )
            return
        build_world_if_absent(self.config)
        summary = world_summary(read_build_report(self.config.WORLD.DATA_ROOT))
        print(summary)
        logger.info("world ready at %s", self.config.WORLD.DATA_ROOT)

    def eval(self) -> None:
        layout = open_world(self.config.WORLD.DATA_ROOT, self.config.WORLD.DATASET)
        world = self.config.WORLD
        report = {}
        for scene in tqdm(layout.scenes(), desc="checking scenes", unit="scene"):
            points = read_points(layout.points_path(scene))
            graph = read_graph(layout.graph_path(scene))
            if sorted(points) != sorted(graph.nodes()):
                raise WorldDataError(f"{layout.points_path(scene)} and {layout.graph_path(scene)} list different nodes")
            physics = _scene_physics(layout, scene, points, world)
            views = read_observations(layout.observations_path(scene))
            rir_files = count_rir_files(layout.rir_scene_dir(scene), list(HEADINGS))
            report[scene] = {
                "nodes": len(points),
                "edges": graph.number_of_edges(),
                "rir_files": rir_files,
                "rir_pairs_possible": len(points) ** 2 * len(HEADINGS),
                "views": len(views),
                "physics": physics,
            }
        path = os.path.join(self.run.paths.model_dir, "world_check.json")
        with open(path, "w") as handle:
            json.dump(report, handle, indent=1, sort_keys=True)
        print(json.dumps(report, indent=1, sort_keys=True))
        failures = [f"{scene}: {reason}" for scene in report for reason in report[scene]["physics"]["failures"]]
        if failures:
            raise WorldCheckError(f"world check failed ({path}):\n  " + "\n  ".join(failures))


def _scene_physics(layout, scene: str, points: dict, world) -> dict:
    """The physics check of a scene with a packed RIR cache (generated worlds: every pair present), or of a
    generated partial set's RIRs among its source nodes (the benchmark preset); anything else (real data
    without a packed cache) is skipped: its RIRs are checked (NaN/Inf, truncation) when an episode reads them."""
    try:
        packed = load_packed_cache(
            layout, scene, list(HEADINGS), world.RIR_SAMPLE_RATE, world.ALLOW_MISSING_RIRS, build_if_missing=False
        )
    except (WorldDataError, FileNotFoundError) as error:
        generated = str(world.DATASET) == "procedural"  # real data's RIRs are checked when read, as before
        square = source_node_rirs(layout, scene, list(HEADINGS), world.RIR_SAMPLE_RATE) if generated else None
        if square is not None:
            result = check_scene_physics(square, points, max_pairs=world.CHECK_MAX_PAIRS)
            return {**result, "rirs_between": f"{len(square.nodes)} source nodes (partial RIR set)"}
        reason = f"no usable packed RIR cache ({error}); RIRs are checked when read"
        return {"skipped": reason, "failures": []}
    return check_scene_physics(packed, points, max_pairs=world.CHECK_MAX_PAIRS)


def count_rir_files(scene_dir: str, headings: list[int]) -> int:
    """RIR wav files of a scene (a partial set is fine: RIRs are read lazily when an episode needs them)."""
    from audio_separation.world.soundspaces import azimuth_of_heading

    total = 0
    for heading in headings:
        folder = os.path.join(scene_dir, str(azimuth_of_heading(int(heading))))
        if os.path.isdir(folder):
            total += sum(1 for entry in os.scandir(folder) if entry.name.endswith(".wav"))
    return total
