"""Where a result came from: the commit, the config's hash, the seed and the machine, recorded beside every
results table so that a row can be traced to the code that produced it and regenerated."""

from __future__ import annotations

import datetime
import hashlib
import os
import platform
import subprocess
from typing import Any

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def git_commit(root: str = _ROOT) -> str:
    """The checked-out commit (short hash), with '+dirty' when tracked files differ from it; 'unknown'
    outside a git checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=7", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}+dirty" if dirty else commit


def config_hash(config_text: str) -> str:
    """sha256 (12 hex digits) of a config's full yaml dump (CfgNode.dump()): equal hashes, equal settings."""
    return hashlib.sha256(config_text.encode()).hexdigest()[:12]


def machine() -> str:
    """A one-line description: CPU model, cores, memory, GPU if any, and the 1-minute load."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    memory = ""
    try:
        memory = f", {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        pass
    gpu = ""
    try:
        import torch

        if torch.cuda.is_available():
            gpu = f", {torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    load = f", load {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"{cpu}, {os.cpu_count()} cores{memory}{gpu}{load}"


def provenance(**extra: Any) -> dict[str, Any]:
    """commit, date, machine, plus whatever the caller adds (config hashes, seeds)."""
    return {
        "commit": git_commit(),
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        **extra,
    }
