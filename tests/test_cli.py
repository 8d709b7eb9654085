"""main.py and get_config: dispatch, loud config errors, model-dir safety."""

from __future__ import annotations

import json
import os

import pytest

import main as cli
from audio_separation.common.registry import registry
from audio_separation.config import ConfigError, get_config


def test_config_rejects_unknown_keys_and_bad_types(tmp_path):
    with pytest.raises(ConfigError, match="TASK.NOT_A_KEY"):
        get_config(opts=["TASK.NOT_A_KEY", "1"])
    with pytest.raises(ConfigError, match="TASK.MAX_EPISODE_STEPS"):
        get_config(opts=["TASK.MAX_EPISODE_STEPS", "twenty"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("WORLD:\n  NO_SUCH_THING: 3\n")
    with pytest.raises(ConfigError, match="NO_SUCH_THING"):
        get_config(str(bad))
    with pytest.raises(ConfigError, match="odd"):
        get_config(opts=["SEED"])
    config = get_config(opts=["SEED", "7"], model_dir=str(tmp_path / "run"), run_type="eval")
    assert config.SEED == 7 and config.MODEL_DIR == str(tmp_path / "run") and config.RUN_TYPE == "eval"
    assert config.AUDIO.N_FFT == 1023 and config.AUDIO.HOP_LENGTH == 512 and config.AUDIO.SAMPLE_RATE == 16000


def test_registry_names_unknown_trainers():
    with pytest.raises(KeyError, match="unknown trainer 'nope'"):
        registry.get_trainer("nope")
    assert registry.get_trainer("world").__name__ == "WorldTrainer"


def test_cli_world_trainer_and_model_dir_safety(tiny_world, tmp_path, capsys):
    root, _ = tiny_world
    opts = ["WORLD.DATA_ROOT", root]
    model_dir = str(tmp_path / "run")
    assert (
        cli.main(["--exp-config", "configs/world_tiny.yaml", "--run-type", "train", "--model-dir", model_dir, *opts])
        == 0
    )
    assert "apartment_00" in capsys.readouterr().out
    assert os.path.isfile(os.path.join(model_dir, "train.log"))
    assert (
        cli.main(["--exp-config", "configs/world_tiny.yaml", "--run-type", "train", "--model-dir", model_dir, *opts])
        == 1
    )
    assert "not empty" in capsys.readouterr().err
    assert (
        cli.main(["--exp-config", "configs/world_tiny.yaml", "--run-type", "eval", "--model-dir", model_dir, *opts])
        == 0
    )
    with open(os.path.join(model_dir, "world_check.json")) as handle:
        assert len(json.load(handle)) == 3
    assert (
        cli.main(
            ["--exp-config", "configs/world_tiny.yaml", "--run-type", "train", "--model-dir", model_dir, "BAD.KEY", "1"]
        )
        == 2
    )
