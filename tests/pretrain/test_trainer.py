"""Trainer "passive": the loss goes down, checkpoints and best copies are written, resuming continues
exactly, bad checkpoints fail clearly, and eval reports the metrics beside the mixture baseline."""

from __future__ import annotations

import json
import os

import pytest
import torch

from audio_separation.common.checkpoint import CheckpointError
from audio_separation.common.registry import registry
from audio_separation.pretrain.dataset import PassiveDataset
from audio_separation.pretrain.evaluation import separation_losses
from audio_separation.pretrain.separator_checkpoint import (
    build_passive_separator,
    load_passive_separator,
    separator_settings,
)
from audio_separation.pretrain.trainer import PassiveTrainer, materialise
from audio_separation.world.soundspaces import SoundSpacesLayout


def test_a_few_steps_lower_the_loss(passive_config) -> None:
    config = passive_config()
    dataset = PassiveDataset(config, SoundSpacesLayout(config.WORLD.DATA_ROOT, config.WORLD.DATASET), "train", seed=0)
    batch = {key: value[:8] for key, value in materialise(dataset).items()}
    torch.manual_seed(0)
    model = build_passive_separator(separator_settings(config))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.PASSIVE.LR, eps=config.PASSIVE.ADAM_EPS)
    losses = []
    for _ in range(10):
        loss = separation_losses(model(batch["mixed_binaural_magnitude"], batch["target_class"]), batch)["total"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.9 * losses[0] and min(losses[5:]) < min(losses[:5])


def test_train_writes_checkpoints_and_best_copies(passive_config, tmp_path) -> None:
    assert registry.get_trainer("passive") is PassiveTrainer
    config = passive_config(str(tmp_path))
    counters = PassiveTrainer.from_config(config).train()
    assert counters["epoch"] == 2 and counters["step"] == 4  # 16 train datapoints / batch 8
    names = sorted(os.listdir(tmp_path / "data"))
    assert names == ["best_ckpt_nonoverlapping_val.pth", "best_ckpt_val.pth", "ckpt.1.pth", "ckpt.2.pth"]
    assert os.listdir(tmp_path / "tb")
    model, payload = load_passive_separator(str(tmp_path / "data" / "best_ckpt_nonoverlapping_val.pth"))
    assert payload["extra"]["separator"]["width"] == 0.125 and not model.training


def test_resume_continues_with_identical_losses(passive_config, tmp_path) -> None:
    straight = PassiveTrainer.from_config(passive_config(str(tmp_path / "straight")))
    straight.train()
    first = PassiveTrainer.from_config(passive_config(str(tmp_path / "resumed"), "NUM_EPOCHS", "1"))
    first.train()
    assert first.step_losses == straight.step_losses[:2]
    second = PassiveTrainer.from_config(passive_config(str(tmp_path / "resumed")))
    counters = second.train()
    assert counters["epoch"] == 2 and counters["step"] == 4
    assert second.step_losses == straight.step_losses[2:]  # the epoch-2 batches, bit for bit


def test_corrupt_or_mismatched_checkpoint_fails_clearly(passive_config, tmp_path) -> None:
    PassiveTrainer.from_config(passive_config(str(tmp_path / "run"), "NUM_EPOCHS", "1")).train()
    with pytest.raises(CheckpointError, match=r"ckpt\.1\.pth.*width: checkpoint 0\.125, config 0\.25"):
        PassiveTrainer.from_config(passive_config(str(tmp_path / "run"), "MODEL.SEPARATOR_WIDTH", "0.25")).train()
    (tmp_path / "run" / "data" / "ckpt.7.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"ckpt\.7\.pth: cannot read"):
        PassiveTrainer.from_config(passive_config(str(tmp_path / "run"))).train()


def test_eval_reports_heard_and_unheard_beside_the_mixture(passive_config, tmp_path, capsys) -> None:
    PassiveTrainer.from_config(passive_config(str(tmp_path), "NUM_EPOCHS", "1")).train()
    result = PassiveTrainer.from_config(passive_config(str(tmp_path), run_type="eval")).eval()
    assert result["checkpoint"].endswith("best_ckpt_nonoverlapping_val.pth")
    assert set(result["splits"]) == {"val", "nonoverlapping_val"}
    assert result["splits"]["val"]["clips"] == "heard" and result["splits"]["nonoverlapping_val"]["clips"] == "unheard"
    for scores in result["splits"].values():
        assert scores["items"] == 16  # 8 datapoints x EVAL_DRAWS_PER_DATAPOINT 2
        for name in ("si_sdr", "si_sdr_improvement", "stft_distance", "input_si_sdr", "input_stft_distance"):
            assert (
                scores[name]["count"] == 16
                and scores[name]["ci95_low"] <= scores[name]["mean"] <= scores[name]["ci95_high"]
            )
        assert scores["si_sdr_improvement"]["mean"] == pytest.approx(
            scores["si_sdr"]["mean"] - scores["input_si_sdr"]["mean"], abs=1e-6
        )
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(open(tmp_path / "eval" / "passive_metrics.json").read())


def test_cli_train_then_eval_with_a_worker(tiny_world, tmp_path) -> None:
    from main import main

    root, _ = tiny_world
    model_dir = str(tmp_path / "cli")
    common = [
        "WORLD.DATA_ROOT",
        root,
        "MODEL.SEPARATOR_WIDTH",
        "0.125",
        "PASSIVE.BATCH_SIZE",
        "8",
        "NUM_EPOCHS",
        "1",
        "NUM_PROCESSES",
        "1",
    ]
    assert (
        main(
            [
                "--exp-config",
                "configs/quickstart/pretrain_passive.yaml",
                "--run-type",
                "train",
                "--model-dir",
                model_dir,
                "--overwrite",
                *common,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "--exp-config",
                "configs/quickstart/pretrain_passive.yaml",
                "--run-type",
                "eval",
                "--model-dir",
                model_dir,
                *common,
            ]
        )
        == 0
    )
    assert os.path.isfile(os.path.join(model_dir, "eval", "passive_metrics.json"))
