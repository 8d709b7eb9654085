"""scripts/bench/gpu.sh without a GPU: its dry run passes the preflight with the given interpreter and plans
every step with that interpreter (never a bare `python`), logs to GPU_BENCH_OUT, and an interpreter that
cannot import torch stops it at once with exit 4."""

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
