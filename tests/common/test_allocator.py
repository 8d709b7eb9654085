"""The allocator thresholds: a step's freed temporaries are reused instead of page-faulted in anew."""

import os
import platform
import subprocess
import sys

import pytest

glibc_only = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="mallopt is glibc-specific"
)

# Page faults per "step" that allocates and frees 0.4 - 3 MB arrays (like an env step's FFT buffers)
# or eight 20-MB arrays held at once (like a learner's activations over a rollout),
# measured in a fresh interpreter so the test process's own allocator state does not matter.
PROBE = """
import resource, sys
import numpy as np
if sys.argv[1] == "on":
    from audio_separation.common.allocator import keep_freed_memory
    assert keep_freed_memory() is True and keep_freed_memory() is True
SIZES = {"env": (100_000, 250_000, 400_000, 750_000), "learner": (5_000_000,) * 8}[sys.argv[2]]
def step():
    arrays = [np.ones(n, dtype=np.float32) for n in SIZES]
    del arrays
for _ in range(5):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50)
"""


def _faults_per_step(mode: str, sizes: str = "env") -> float:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, mode, sizes],
        capture_output=True,
        text=True,
        check=True,
        env={key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")},
    )
    return float(result.stdout.strip().splitlines()[-1])


@glibc_only
def test_keep_freed_memory_stops_page_faults_on_reallocation():
    without, with_thresholds = _faults_per_step("off"), _faults_per_step("on")
    assert without > 200  # ~1400 4-KB pages mapped afresh per step by default
    assert with_thresholds < 20


@glibc_only
def test_keep_freed_memory_covers_learner_sized_tensors():
    without, with_thresholds = _faults_per_step("off", "learner"), _faults_per_step("on", "learner")
    assert without > 1000  # ~3800 pages per step by default: glibc trims the freed heap top
    assert with_thresholds < 20
