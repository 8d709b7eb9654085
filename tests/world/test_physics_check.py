"""The world check (`--run-type eval` of trainer "world"): per-scene T60 / DRR / ILD / ITD distributions, and
failures on NaN/Inf RIRs or on energy that does not fall with distance. Also the binaural model in the
build report and the refusal to reuse a world built with another one."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from audio_separation.config import get_config
from audio_separation.world.builder import build_world_if_absent
from audio_separation.world.physics_check import check_scene_physics
from audio_separation.world.soundspaces import PackedSceneRIRs, SoundSpacesLayout, load_packed_cache, read_points
from audio_separation.world_stage import WorldCheckError, WorldTrainer

HEADINGS = [0, 90, 180, 270]


def _run_check(root, model_dir):
    config = get_config(
        opts=["WORLD.DATA_ROOT", root, "TRAINER_NAME", "world"], model_dir=str(model_dir), run_type="eval"
    )
    os.makedirs(str(model_dir), exist_ok=True)
    WorldTrainer.from_config(config).eval()
    with open(os.path.join(str(model_dir), "world_check.json")) as handle:
        return json.load(handle)


def test_tiny_world_passes_and_reports_distributions(tiny_world, tmp_path, capsys):
    root, build_report = tiny_world
    assert build_report["binaural_model"] == "kemar"  # the default head
    report = _run_check(root, tmp_path / "check")
    capsys.readouterr()
    assert len(report) == 3
    for scene, entry in report.items():
        physics = entry["physics"]
        assert physics["failures"] == [] and physics["nonfinite_rirs"] == 0, scene
        assert physics["rirs_checked"] == entry["rir_pairs_possible"] == entry["rir_files"]  # a full set
        for key in ("t60_seconds", "drr_db", "ild_db", "itd_ms"):
            summary = physics[key]
            assert summary["min"] <= summary["median"] <= summary["max"], (scene, key, summary)
        assert 0.1 < physics["t60_seconds"]["median"] < 0.8  # the tiny preset's rooms: 0.2-0.5 s (Eyring)
        assert physics["energy_distance_spearman"] < -0.3
        assert physics["ild_db"]["max"] > 6 and physics["ild_db"]["min"] < -6  # lateral sources exist
        assert 0.5 < physics["itd_ms"]["max"] <= 1.0 and abs(physics["itd_ms"]["median"]) < 0.1


def _link_or_copy(source, destination):
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def test_a_nan_rir_fails_the_check(tiny_world, tmp_path, capsys):
    root, _ = tiny_world
    corrupted = str(tmp_path / "corrupted")
    shutil.copytree(root, corrupted, copy_function=_link_or_copy)
    layout = SoundSpacesLayout(corrupted, "procedural")
    scene = layout.scenes()[1]
    path = os.path.join(layout.packed_cache_dir(scene), "rirs.npy")
    rirs = np.load(path)  # a real copy: the hard link to the session's world is replaced, not written through
    rirs[2, 3, 1, 100, 0] = np.nan
    np.save(path + ".tmp.npy", rirs)
    os.replace(path + ".tmp.npy", path)
    assert np.isfinite(
        np.load(os.path.join(SoundSpacesLayout(root, "procedural").packed_cache_dir(scene), "rirs.npy"))
    ).all()
    with pytest.raises(WorldCheckError, match=f"{scene}: 1 RIRs hold NaN or Inf"):
        _run_check(corrupted, tmp_path / "check")
    capsys.readouterr()
    with open(tmp_path / "check" / "world_check.json") as handle:
        report = json.load(handle)
    assert report[scene]["physics"]["nonfinite_rirs"] == 1
    assert all(report[other]["physics"]["failures"] == [] for other in report if other != scene)


def test_energy_rising_with_distance_fails(tiny_world):
    root, _ = tiny_world
    layout = SoundSpacesLayout(root, "procedural")
    scene = layout.scenes()[0]
    packed = load_packed_cache(layout, scene, HEADINGS, 16000, build_if_missing=False)
    points = read_points(layout.points_path(scene))
    positions = np.stack([points[node] for node in packed.nodes])
    distance = np.linalg.norm(positions[:, None] - positions[None, :], axis=-1)
    louder_far = np.asarray(packed.rirs) * ((1 + distance) ** 3).astype(np.float32)[None, :, :, None, None]
    result = check_scene_physics(PackedSceneRIRs(louder_far, packed.nodes, packed.headings, 16000), points)
    assert result["energy_distance_spearman"] > 0
    assert any("does not fall with distance" in reason for reason in result["failures"])
    sampled = check_scene_physics(packed, points, max_pairs=40)
    assert sampled["pairs_checked"] == 40 and sampled["failures"] == []


def test_a_world_built_with_another_binaural_model_is_not_reused(tiny_world):
    root, _ = tiny_world
    config = get_config(opts=["WORLD.DATA_ROOT", root, "WORLD.BINAURAL_MODEL", "sphere"])
    with pytest.raises(ValueError, match="built with binaural model 'kemar'"):
        build_world_if_absent(config, progress=False)
    assert build_world_if_absent(get_config(opts=["WORLD.DATA_ROOT", root]), progress=False).root == root
