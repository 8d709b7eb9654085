"""get_config: yaml inheritance through _BASE_, integers for float keys, clear errors."""

from __future__ import annotations

import os

import pytest

from audio_separation.config import ConfigError, get_config


def test_base_chain_merges_parents_first_and_children_win(tmp_path) -> None:
    (tmp_path / "family").mkdir()
    (tmp_path / "root.yaml").write_text("SEED: 3\nTASK:\n  SPLIT: val\n  MAX_EPISODE_STEPS: 9\n")
    (tmp_path / "family" / "base.yaml").write_text("_BASE_: ../root.yaml\nTASK:\n  SPLIT: test\n")
    (tmp_path / "family" / "leaf.yaml").write_text("_BASE_: base.yaml\nTASK:\n  SPLIT: testUnheard\n")
    config = get_config(str(tmp_path / "family" / "leaf.yaml"))
    assert (config.SEED, config.TASK.SPLIT, config.TASK.MAX_EPISODE_STEPS) == (3, "testUnheard", 9)


def test_base_errors_name_the_file(tmp_path) -> None:
    (tmp_path / "leaf.yaml").write_text("_BASE_: missing.yaml\n")
    with pytest.raises(ConfigError, match="missing.yaml.*the _BASE_ of"):
        get_config(str(tmp_path / "leaf.yaml"))
    (tmp_path / "a.yaml").write_text("_BASE_: b.yaml\n")
    (tmp_path / "b.yaml").write_text("_BASE_: a.yaml\n")
    with pytest.raises(ConfigError, match="loops back"):
        get_config(str(tmp_path / "a.yaml"))
    (tmp_path / "unknown.yaml").write_text("_BASE_: b2.yaml\n")
    (tmp_path / "b2.yaml").write_text("TASK:\n  NO_SUCH_KEY: 1\n")
    with pytest.raises(ConfigError, match="b2.yaml.*NO_SUCH_KEY"):
        get_config(str(tmp_path / "unknown.yaml"))


def test_integers_are_accepted_for_float_keys(tmp_path) -> None:
    config = get_config(opts=["NAF.MAX_TRAIN_SECONDS", "480", "NAF.LR", "1"])
    assert config.NAF.MAX_TRAIN_SECONDS == 480.0 and isinstance(config.NAF.MAX_TRAIN_SECONDS, float)
    assert config.NAF.LR == 1.0 and isinstance(config.NAF.LR, float)
    (tmp_path / "x.yaml").write_text("PASSIVE:\n  MAX_TRAIN_SECONDS: 60\n")
    assert isinstance(get_config(str(tmp_path / "x.yaml")).PASSIVE.MAX_TRAIN_SECONDS, float)
    with pytest.raises(ConfigError, match="SEED"):  # the other way round stays an error
        get_config(opts=["SEED", "1.5"])


def test_every_shipped_yaml_loads() -> None:
    import glob
    import os

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = sorted(glob.glob(os.path.join(root, "configs", "**", "*.yaml"), recursive=True))
    assert len(paths) > 15
    for path in paths:
        get_config(path)


def test_scored_steps_is_checked_and_far_target_evaluations_score_the_last_step() -> None:
    import os

    with pytest.raises(ConfigError, match="EVAL.SCORED_STEPS.*'final'"):
        get_config(opts=["EVAL.SCORED_STEPS", "final"])
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for folder in ("configs/val", "configs/test", "configs/quickstart/val", "configs/quickstart/test"):
        assert get_config(os.path.join(root, folder, "farTarget_unheard.yaml")).EVAL.SCORED_STEPS == "last"
        assert get_config(os.path.join(root, folder, "nearTarget_unheard.yaml")).EVAL.SCORED_STEPS == "all"


def test_mini_batches_must_divide_the_envs_of_a_worker() -> None:
    root = os.path.join(os.path.dirname(__file__), "..", "..", "configs", "quickstart", "train", "nearTarget.yaml")
    with pytest.raises(ConfigError, match="RL.PPO.NUM_MINI_BATCH=4 must divide NUM_PROCESSES=6"):
        get_config(root, ["NUM_PROCESSES", "6", "RL.PPO.NUM_MINI_BATCH", "4"])
    assert get_config(root, ["NUM_PROCESSES", "8", "RL.PPO.NUM_MINI_BATCH", "4"]).NUM_PROCESSES == 8
