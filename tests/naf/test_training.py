"""NAF training: a few steps lower the loss; the trainer trains, checkpoints, resumes exactly, evaluates."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

from audio_separation.common.checkpoint import latest_checkpoint, load_checkpoint
from audio_separation.config import get_config
from audio_separation.naf.batches import SceneTensors, frame_loss, pixel_loss
from audio_separation.naf.trainer import NafTrainer, model_for_scene
from tests.naf.conftest import naf_opts


@pytest.mark.parametrize("name", ["frame", "pixel"])
def test_a_few_steps_lower_the_loss(naf_config, naf_scene, name) -> None:
    config = get_config(opts=[*naf_opts(naf_config.WORLD.DATA_ROOT, naf_config.NAF.DATA_DIR), "NAF.MODEL", name])
    torch.manual_seed(0)
    model = model_for_scene(config, naf_scene)
    tensors = SceneTensors.from_data(naf_scene, config.NAF.STD_SCALE)
    items = torch.from_numpy(naf_scene.train_indices[:16])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss_of(generator_seed: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(generator_seed)
        if name == "pixel":
            return pixel_loss(model, tensors, items, 256, 0.0, 0.0, generator)[0]
        return frame_loss(model, tensors, items, 0, 0.0, 0.0, generator)[0]

    with torch.no_grad():
        before = float(loss_of(123))
    for step in range(25):
        loss = loss_of(step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        assert float(loss_of(123)) < 0.8 * before


def _params(model_dir: str) -> dict:
    return load_checkpoint(latest_checkpoint(os.path.join(model_dir, "data")))["model"]


def test_trainer_resumes_exactly_and_evaluates(naf_config, naf_scene, tmp_path) -> None:
    root, data_dir = naf_config.WORLD.DATA_ROOT, naf_config.NAF.DATA_DIR
    straight = str(tmp_path / "straight")
    NafTrainer.from_config(get_config(opts=naf_opts(root, data_dir), model_dir=straight)).train()
    # a run stopped after its first epoch's checkpoint (the lr schedule spans NUM_EPOCHS, so the resumed run
    # must keep the config; preemption mid-epoch is tested in tests/reliability)
    resumed = str(tmp_path / "resumed")
    os.makedirs(os.path.join(resumed, "data"))
    shutil.copy(os.path.join(straight, "data", "ckpt.1.pth"), os.path.join(resumed, "data", "ckpt.1.pth"))
    NafTrainer.from_config(get_config(opts=naf_opts(root, data_dir), model_dir=resumed)).train()
    assert latest_checkpoint(os.path.join(resumed, "data")).endswith("ckpt.2.pth")
    first, second = _params(straight), _params(resumed)
    for key in first:
        assert torch.equal(first[key], second[key]), key
    assert os.listdir(os.path.join(straight, "tb"))

    result = NafTrainer.from_config(
        get_config(
            opts=naf_opts(root, data_dir, "NAF.PHASE_METHODS", "['random', 'minimum']"),
            model_dir=straight,
            run_type="eval",
        )
    ).eval()
    with open(os.path.join(straight, "eval", "metrics.json")) as handle:
        written = json.load(handle)
    assert written["test_items"] == 6
    for block in ("naf", "mean_predictor"):
        assert {"spectral_error", "t60_error_percent", "t60_failures", "c50_error_db", "edt_error_seconds"} <= set(
            written[block]
        )
    assert set(written["phase_methods_vs_true_waveform"]["naf"]) == {"random", "minimum"}
    assert result["inference_ms_per_binaural_rir"] > 0 and written["parameters"] > 0


def test_budget_stops_training_and_eval_plots(naf_config, naf_scene, tmp_path) -> None:
    root, data_dir = naf_config.WORLD.DATA_ROOT, naf_config.NAF.DATA_DIR
    model_dir = str(tmp_path / "budget")
    trainer = NafTrainer.from_config(
        get_config(
            opts=naf_opts(root, data_dir, "NAF.MAX_TRAIN_SECONDS", "1e-6", "NUM_EPOCHS", "50"), model_dir=model_dir
        )
    )
    trainer.train()
    assert trainer.final_counters["epoch"] == 1 and trainer.final_counters["step"] == 1
    result = NafTrainer.from_config(
        get_config(
            opts=naf_opts(
                root, data_dir, "NAF.EVAL_PLOTS", "True", "NAF.VIS_RESOLUTION", "0.5", "NAF.PHASE_METHODS", "['random']"
            ),
            model_dir=model_dir,
            run_type="eval",
        )
    ).eval()
    plots = result["plots"]
    for name in ("loudness", "tsne", "wall_probe"):
        assert os.path.getsize(plots[name]) > 1000
    assert plots["wall_distance_probe_explained_variance"] <= 1.0
