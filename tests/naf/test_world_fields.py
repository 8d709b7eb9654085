"""scripts/naf_world.py on two tiny scenes: a table with both scenes and an average row; a second call
skips finished scenes; a larger epoch count resumes them."""

from __future__ import annotations

import json
import os
import sys

from tests.naf.conftest import naf_opts

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import naf_world  # noqa: E402

SCENES = ("apartment_00", "apartment_01")


def _run(model_root: str, naf_config, *extra: str) -> dict:
    opts = naf_opts(
        naf_config.WORLD.DATA_ROOT,
        naf_config.NAF.DATA_DIR,
        "NUM_EPOCHS",
        "1",
        "NAF.DECAY_LOSS_WEIGHT",  # the quickstart's extra losses cost ~40x the step time of the tiny model
        "0",
        "NAF.EDC_LOSS_WEIGHT",
        "0",
        "NAF.FRAMES_PER_RIR",  # 4 random frames per RIR per step: an epoch of the tiny scene in well under a second
        "4",
        "NAF.PHASE_METHODS",
        "['random']",
        *extra,
    )
    argv = [
        "--exp-config",
        os.path.join(ROOT, "configs", "quickstart", "naf.yaml"),
        "--model-dir",
        model_root,
        "--baselines",
        "mean",
        "nearest",
        "--scenes",
        ",".join(SCENES),
        *opts,
    ]
    assert naf_world.main(argv) == 0
    with open(os.path.join(model_root, "naf_world.json")) as handle:
        return json.load(handle)


def _mtimes(model_root: str) -> dict:
    return {
        os.path.join(folder, name): os.path.getmtime(os.path.join(folder, name))
        for folder, _, names in os.walk(model_root)
        for name in names
        if name.endswith((".pth", "metrics.json", "baselines.json"))
    }


def test_world_table_then_skip_then_resume(naf_config, naf_scene, tmp_path) -> None:
    model_root = str(tmp_path / "world")
    first = _run(model_root, naf_config)
    assert list(first["rows"]) == list(SCENES)
    for scene in SCENES:
        assert set(first["rows"][scene]) == {"NAF", "mean", "nearest"}
        assert os.path.isfile(os.path.join(model_root, scene, "data", "ckpt.1.pth"))
    assert set(first["average"]) == {"NAF", "mean", "nearest"}
    spectral = [first["rows"][scene]["NAF"]["spectral_error"] for scene in SCENES]
    assert abs(first["average"]["NAF"]["spectral_error"] - sum(spectral) / 2) < 1e-12
    table = open(os.path.join(model_root, "naf_world.md")).read()
    for scene in SCENES:
        assert f"| {scene} | NAF |" in table and f"| {scene} | nearest |" in table
    assert "| average | NAF |" in table and "## Average over scenes" in table
    assert all(run == {"trained": True, "evaluated": True} for run in first["runs"].values())

    before = _mtimes(model_root)
    second = _run(model_root, naf_config)
    assert all(run == {"trained": False, "evaluated": False} for run in second["runs"].values())
    assert _mtimes(model_root) == before  # nothing trained, evaluated or scored again
    assert second["rows"] == first["rows"]

    third = _run(model_root, naf_config, "NUM_EPOCHS", "2")  # a larger budget: every scene resumes
    assert all(run == {"trained": True, "evaluated": True} for run in third["runs"].values()), third["runs"]
    for scene in SCENES:
        assert sorted(os.listdir(os.path.join(model_root, scene, "data"))) == ["ckpt.1.pth", "ckpt.2.pth"]
