"""scripts/plot_training.py: learning curves from tensorboard logs."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from audio_separation.common.tensorboard import make_writer

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
import plot_training  # noqa: E402


def _log(run_dir: str, rewards: list[float], resumed_from: int | None = None) -> None:
    writer = make_writer(os.path.join(run_dir, "tb"))
    for step, reward in enumerate(rewards):
        writer.add_scalar("reward/episode_return", reward, step * 40)
        writer.add_scalar("losses/value_loss", 1.0 / (step + 1), step * 40)
    writer.close()


def test_curves_of_two_runs_are_read_plotted_and_summarised(tmp_path, capsys) -> None:
    first, second = str(tmp_path / "seed0"), str(tmp_path / "seed1")
    _log(first, [float(i) for i in range(30)])
    _log(second, [-float(i) for i in range(30)])
    scalars = plot_training.read_scalars(first)
    steps, values = scalars["reward/episode_return"]
    assert steps.tolist() == [40 * i for i in range(30)] and values[-1] == 29.0
    output = str(tmp_path / "curves.png")
    assert plot_training.main(["--run-dir", first, "--run-dir", second, "--output", output, "--smooth", "5"]) == 0
    with open(output, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert f"{first}  reward/episode_return: 0 -> 27 (30 points)" in printed  # 27: mean of the last 5 (25..29)
    assert f"{second}  reward/episode_return: 0 -> -27 (30 points)" in printed


def test_a_resumed_run_keeps_the_last_value_per_step(tmp_path) -> None:
    run = str(tmp_path / "run")
    _log(run, [1.0, 2.0, 3.0])
    _log(run, [9.0, 8.0])  # a second writer (a resume) rewrites steps 0 and 40
    steps, values = plot_training.read_scalars(run)["reward/episode_return"]
    assert steps.tolist() == [0, 40, 80] and values.tolist() == [9.0, 8.0, 3.0]


def test_smoothing_is_a_trailing_mean() -> None:
    assert plot_training.smooth(np.array([1.0, 3.0, 5.0, 7.0]), 2).tolist() == [1.0, 2.0, 4.0, 6.0]


def test_bad_inputs_name_what_is_wrong(tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit, match="no tensorboard event files"):
        plot_training.main(["--run-dir", str(empty), "--output", str(tmp_path / "x.png")])
    run = str(tmp_path / "run")
    _log(run, [1.0, 2.0])
    with pytest.raises(SystemExit, match="no run logs the tags"):
        plot_training.main(["--run-dir", run, "--output", str(tmp_path / "x.png"), "--tags", "nope"])
