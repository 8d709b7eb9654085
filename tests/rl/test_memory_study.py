"""scripts/memory_study.py: episodes collected from a checkpoint, a memory trained and scored offline."""

from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest

from audio_separation.rl.trainer import DDPPOTrainer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _script():
    spec = importlib.util.spec_from_file_location("memory_study", os.path.join(ROOT, "scripts", "memory_study.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_collect_then_train_scores_like_evaluation(rl_config, tmp_path) -> None:
    """The checkpoint's own memory scored offline (--from-checkpoint, no training) gives evaluation's
    refined and passive SI-SDR on the same episodes; training a mixture memory changes the refined score."""
    model_dir = str(tmp_path / "rl")
    DDPPOTrainer.from_config(rl_config(model_dir, "NUM_UPDATES", "2")).train()
    checkpoint = os.path.join(model_dir, "data", "ckpt.2.pth")
    exp_config = str(tmp_path / "tiny.yaml")
    with open(exp_config, "w") as handle:
        handle.write(rl_config(None, "TASK.SPLIT", "val", "EVAL.NUM_EPISODES", "3").dump())
    study = _script()
    train_file, val_file = str(tmp_path / "train.npz"), str(tmp_path / "val.npz")
    assert study.main(["collect", "--exp-config", exp_config, "--checkpoint", checkpoint, "--output", train_file,
                       "TASK.SPLIT", "train", "EVAL.NUM_EPISODES", "4"]) == 0  # fmt: skip
    assert study.main(["collect", "--exp-config", exp_config, "--checkpoint", checkpoint, "--output", val_file]) == 0
    with np.load(train_file) as data:
        assert data["passive"].shape[:2] == (4, 5) and data["mixed_magnitude"].shape[-1] == 2
    evaluated = json.load(open(str(tmp_path / "val_eval" / "ckpt.2" / "aggregate.json")))["metrics"]
    common = ["--exp-config", exp_config, "--checkpoint", checkpoint, "--train", train_file, "--val", val_file]
    summary = str(tmp_path / "own.json")
    assert study.main(["train", *common, "--from-checkpoint", "--epochs", "0", "--summary", summary]) == 0
    own = json.load(open(summary))
    assert own["episodes"] == 3
    assert own["passive"] == pytest.approx(evaluated["passive"]["si_sdr"]["mean"], abs=1e-3)  # float16 arrays
    assert own["refined"] == pytest.approx(evaluated["refined"]["si_sdr"]["mean"], abs=1e-3)
    trained = str(tmp_path / "mixture.json")
    assert (
        study.main(["train", *common, "--mixture-input", "--epochs", "2", "--eval-every", "2", "--summary", trained])
        == 0
    )
    result = json.load(open(trained))
    assert result["settings"]["mixture_input"] is True and result["passive"] == pytest.approx(own["passive"])
    assert result["refined"] != pytest.approx(result["passive"], abs=1e-4)
    with pytest.raises(SystemExit, match="collect it first"):
        study.main(["train", *common[:4], "--train", str(tmp_path / "none.npz"), "--val", val_file])
