"""Fault suite, bad input: every case ends with one `error: ...` line naming the file or key (no
traceback, non-zero exit), or is handled as documented. Cases of issue #15 are named in each test."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys

import pytest
import torch

import main as cli
from audio_separation.common.checkpoint import CheckpointError, save_checkpoint
from audio_separation.common.errors import DEBUG_VARIABLE, RunLockedError
from audio_separation.common.run_lock import LOCK_NAME, RunLock
from audio_separation.config import ConfigError, get_config
from audio_separation.pretrain.separator_checkpoint import load_passive_separator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cli(capsys, *argv: str) -> tuple[int, str]:
    status = cli.main(list(argv))
    return status, capsys.readouterr().err


def _error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize(
    "yaml_text, expected",
    [
        ("SEED: [1\n", r"line 2, column 1: not valid YAML"),  # malformed yaml
        ("- 1\n- 2\n", "the top level must be a mapping"),  # a list at the top level
        ("WORLD:\n  NO_SUCH: 1\n", "NO_SUCH"),
    ],
)
def test_malformed_yaml_names_the_file(tmp_path, capsys, yaml_text, expected) -> None:
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml_text)
    status, stderr = _cli(capsys, "--exp-config", str(path), "--run-type", "train", "--model-dir", str(tmp_path / "m"))
    line = _error_line(stderr)
    assert status == 2 and str(path) in line and expected in line
    assert not os.path.exists(tmp_path / "m")  # nothing left behind to trap the corrected command


@pytest.mark.parametrize(
    "key, value",
    [
        ("SEED", "-1"),
        ("NUM_UPDATES", "-5"),
        ("NUM_EPOCHS", "0"),
        ("CHECKPOINT_INTERVAL", "0"),  # was a ZeroDivisionError after the first update
        ("NUM_PROCESSES", "-1"),
        ("PASSIVE.BATCH_SIZE", "0"),
        ("NAF.BATCH_RIRS", "0"),
        ("PASSIVE.LR", "-0.1"),
    ],
)
def test_out_of_range_values_name_the_key(key, value) -> None:
    with pytest.raises(ConfigError, match=rf"{key}={value}.*out of range.*expected"):
        get_config(opts=[key, value])


def test_cli_config_errors_are_one_line_and_debug_shows_the_traceback(tmp_path, capsys, monkeypatch) -> None:
    argv = ["--exp-config", "configs/world_tiny.yaml", "--run-type", "train", "--model-dir", str(tmp_path / "m")]
    status, stderr = _cli(capsys, *argv, "SEED", "-1")
    assert status == 2 and "SEED=-1" in _error_line(stderr)
    status, stderr = _cli(capsys, *argv, "TRAINER_NAME", "nope")
    assert status == 2 and "TRAINER_NAME: unknown trainer 'nope'" in _error_line(stderr)
    monkeypatch.setenv(DEBUG_VARIABLE, "1")
    with pytest.raises(ConfigError, match="SEED"):
        cli.main([*argv, "SEED", "-1"])
    monkeypatch.delenv(DEBUG_VARIABLE)
    with pytest.raises(ConfigError, match="SEED"):
        cli.main(["--debug", *argv, "SEED", "-1"])


def test_rl_checkpoint_given_as_separator_is_named(tmp_path) -> None:
    path = str(tmp_path / "ckpt.3.pth")
    save_checkpoint(
        path,
        model=torch.nn.Linear(2, 2),
        counters={"update": 3},
        extra={"agent_settings": {"policy": {}}, "separator": {"path": "x.pth", "fingerprint": "ab", "settings": {}}},
    )
    with pytest.raises(CheckpointError, match=r"ckpt\.3\.pth: is a checkpoint of the RL trainer"):
        load_passive_separator(path)


def test_disk_full_while_saving_names_the_file_and_leaves_no_temp(tmp_path) -> None:
    folder = tmp_path / "data"
    good = save_checkpoint(str(folder / "ckpt.1.pth"), model=torch.nn.Linear(4, 4), counters={"step": 1})
    size = os.path.getsize(good)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    try:
        with pytest.raises(CheckpointError, match=r"cannot write checkpoint .*ckpt\.2\.pth.*disk full"):
            save_checkpoint(str(folder / "ckpt.2.pth"), model=torch.nn.Linear(256, 256), counters={"step": 2})
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert sorted(os.listdir(folder)) == ["ckpt.1.pth"] and os.path.getsize(good) == size


def test_one_run_per_model_dir_and_stale_locks(tmp_path, capsys) -> None:
    model_dir = str(tmp_path / "run")
    argv = ["--exp-config", "configs/world_tiny.yaml", "--run-type", "train", "--model-dir", model_dir]
    with RunLock(model_dir):  # a live run (this process) holds the dir
        with pytest.raises(RunLockedError, match=rf"in use by another run \(PID {os.getpid()}"):
            RunLock(model_dir).acquire()
        status, stderr = _cli(capsys, *argv, "--overwrite")
        assert status == 1 and f"PID {os.getpid()}" in _error_line(stderr)
        assert os.path.isfile(os.path.join(model_dir, LOCK_NAME))  # --overwrite did not delete a live run
    assert not os.path.exists(os.path.join(model_dir, LOCK_NAME))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with RunLock(model_dir):
        pass
    with open(os.path.join(model_dir, LOCK_NAME), "w") as handle:  # a lock left by a killed run
        handle.write(f'{{"pid": {gone.pid}, "host": "{os.uname().nodename}", "started": 0}}')
    with RunLock(model_dir) as lock:
        assert lock.held


def test_a_failed_start_does_not_trap_the_corrected_command(tiny_world, tmp_path, capsys) -> None:
    model_dir = str(tmp_path / "run")
    argv = ["--exp-config", "configs/world_tiny.yaml", "--run-type", "train", "--model-dir", model_dir]
    status, stderr = _cli(capsys, *argv, "TRAINER_NAME", "passive", "WORLD.DATA_ROOT", str(tmp_path / "nowhere"))
    assert status == 1 and "no 'procedural' world at WORLD.DATA_ROOT" in _error_line(stderr)
    assert os.path.isfile(os.path.join(model_dir, "train.log"))  # the failed start's log is kept
    status, stderr = _cli(capsys, *argv, "WORLD.DATA_ROOT", tiny_world[0])
    assert status == 0 and "failed before saving a checkpoint" in stderr
    status, stderr = _cli(capsys, *argv, "WORLD.DATA_ROOT", tiny_world[0])  # a finished run is not a failed start
    assert status == 1 and "not empty" in _error_line(stderr)


def test_the_cli_as_a_process_prints_one_line(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("SEED: [1\n")
    result = subprocess.run(
        [
            sys.executable,
            "main.py",
            "--exp-config",
            str(bad),
            "--run-type",
            "train",
            "--model-dir",
            str(tmp_path / "m"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ROOT},
        timeout=120,
    )
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith(f"error: {bad}: line 2")
