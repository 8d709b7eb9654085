"""scripts/bench/gpu.sh without a GPU: its dry run passes the preflight with the given interpreter and plans
every step with that interpreter (never a bare `python`), logs to GPU_BENCH_OUT, and an interpreter that
cannot import torch stops it at once with exit 4. gpu_ppo.sh checks its inputs before training."""

from __future__ import annotations

import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "bench", "gpu.sh")


def _run(tmp_path, python: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHON": python, "GPU_BENCH_DRY_RUN": "1", "TMPDIR": str(tmp_path), **env}
    return subprocess.run(["bash", SCRIPT], env=environment, capture_output=True, text=True, timeout=300)


def test_dry_run_plans_every_step_with_the_given_interpreter(tmp_path) -> None:
    out = tmp_path / "out"
    result = _run(tmp_path, sys.executable, GPU_BENCH_OUT=str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [line for line in result.stdout.splitlines() if line.startswith("=== ") and "(at most" in line]
    assert len(steps) >= 5
    for line in steps:
        command = line.split("): ", 1)[1]
        assert command.startswith(sys.executable + " "), line
    assert "preflight passed" in result.stdout
    assert (out / "gpu.log").read_text() == result.stdout
    assert (out / "BENCHMARKS.md").is_file()


def test_an_interpreter_without_torch_fails_the_preflight_fast(tmp_path) -> None:
    started = time.monotonic()
    result = _run(tmp_path, "/bin/false")
    assert result.returncode == 4
    assert "cannot import torch" in result.stdout
    assert time.monotonic() - started < 30


def _run_ppo(tmp_path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHON": sys.executable, "TMPDIR": str(tmp_path), "PPO_OUT": str(tmp_path), **env}
    script = os.path.join(ROOT, "scripts", "bench", "gpu_ppo.sh")
    return subprocess.run(["bash", script], env=environment, capture_output=True, text=True, timeout=300)


def test_gpu_ppo_refuses_a_missing_separator_and_an_unknown_run_before_training(tmp_path) -> None:
    # gpu_ppo.sh (plain PPO on a lent GPU): its inputs are checked before any env loads, and it logs to PPO_OUT
    result = _run_ppo(tmp_path, PPO_SEPARATOR=str(tmp_path / "none.pth"))
    assert result.returncode == 2 and "no separator at" in result.stdout
    assert "no separator at" in (tmp_path / "ppo.log").read_text()
    separator = tmp_path / "separator.pth"
    separator.write_bytes(b"")
    result = _run_ppo(tmp_path, PPO_SEPARATOR=str(separator), PPO_RUNS="no_such_run")
    assert result.returncode == 2 and "unknown run no_such_run" in result.stdout
