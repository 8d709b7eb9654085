"""Atomic, self-describing checkpoints shared by every trainer.

A checkpoint is one torch file holding the config (dumped yaml), the model / optimizer / scheduler
state dicts, the RNG states of python, numpy and torch, and the trainer's counters. It is written to a
temporary file in the same folder and renamed into place, so a crash never leaves a half-written
ckpt.<N>.pth behind (habitat naming: <model-dir>/data/ckpt.<N>.pth).
"""

from __future__ import annotations

import os
import random
import re
from typing import Any

import numpy as np
import torch

from audio_separation.common.errors import ProjectError

_CHECKPOINT_NAME = re.compile(r"^ckpt\.(\d+)\.pth$")


class CheckpointError(ProjectError, RuntimeError):
    """A checkpoint file is missing, corrupt, or does not fit the model it is loaded into."""


def rng_states() -> dict[str, Any]:
    """The current python, numpy and torch (CPU and, when present, CUDA) RNG states."""
    states: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["torch_cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    """Put back RNG states saved by rng_states()."""
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "torch_cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["torch_cuda"])


def save_checkpoint(
    path: str,
    *,
    config: Any = None,
    model: torch.nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    counters: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Write a checkpoint atomically (temp file + os.replace); returns the path."""
    payload: dict[str, Any] = {
        "config": config.dump() if hasattr(config, "dump") else config,
        "model": _unwrap(model).state_dict() if model is not None else None,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": rng_states(),
        "counters": dict(counters or {}),
        "extra": dict(extra or {}),
    }
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = f"{path}.tmp.{os.getpid()}"
    try:
        torch.save(payload, temporary)
        os.replace(temporary, path)
    except (OSError, RuntimeError) as error:  # disk full: torch reports "unexpected pos" or an OSError
        detail = " ".join(str(error).split())[:300]
        free = _free_bytes(folder)
        raise CheckpointError(
            f"cannot write checkpoint {path} ({type(error).__name__}: {detail}); free space in {folder}: "
            f"{'unknown' if free is None else f'{free / 2**20:.1f} MiB'} (disk full or quota?). The previous "
            "checkpoints are intact"
        ) from None
    finally:
        if os.path.exists(temporary):
            try:
                os.remove(temporary)
            except OSError:
                pass
    return path


def _free_bytes(folder: str) -> int | None:
    try:
        stats = os.statvfs(folder)
    except OSError:
        return None
    return stats.f_bavail * stats.f_frsize


def load_checkpoint(
    path: str,
    *,
    model: torch.nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    restore_rng: bool = False,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Read a checkpoint and load its states into the given objects; returns the whole payload.

    Raises CheckpointError naming the path for a missing or unreadable file and for state dicts that do
    not match the model / optimizer (wrong architecture or config).
    """
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:  # truncated zip, garbage bytes, pickle errors
        raise CheckpointError(f"{path}: cannot read checkpoint ({type(error).__name__}: {error})") from None
    if not isinstance(payload, dict) or "model" not in payload or "counters" not in payload:
        raise CheckpointError(f"{path}: not a checkpoint written by common/checkpoint.py (missing keys)")
    try:
        if model is not None:
            _unwrap(model).load_state_dict(payload["model"])
        if optimizer is not None and payload.get("optimizer") is not None:
            optimizer.load_state_dict(payload["optimizer"])
        if scheduler is not None and payload.get("scheduler") is not None:
            scheduler.load_state_dict(payload["scheduler"])
    except (RuntimeError, ValueError, KeyError) as error:
        raise CheckpointError(f"{path}: does not match the model/optimizer being restored: {error}") from None
    if restore_rng and payload.get("rng"):
        restore_rng_states(payload["rng"])
    return payload


def checkpoint_path(folder: str, index: int) -> str:
    """<folder>/ckpt.<index>.pth"""
    return os.path.join(folder, f"ckpt.{int(index)}.pth")


def list_checkpoints(folder: str) -> list[tuple[int, str]]:
    """(index, path) of every ckpt.<N>.pth in folder, sorted by index; [] when the folder is absent."""
    if not os.path.isdir(folder):
        return []
    found = []
    for name in os.listdir(folder):
        match = _CHECKPOINT_NAME.match(name)
        if match:
            found.append((int(match.group(1)), os.path.join(folder, name)))
    return sorted(found)


def latest_checkpoint(folder: str) -> str | None:
    """The ckpt.<N>.pth with the largest N in folder, or None."""
    found = list_checkpoints(folder)
    return found[-1][1] if found else None


def checkpoint_to_evaluate(requested: str, default_folder: str, preferred_name: str = "") -> str:
    """The checkpoint an eval run scores: `requested` itself if it is a file; otherwise, in the folder
    `requested` (or default_folder), `preferred_name` if present, else the latest ckpt.<N>.pth."""
    if requested and os.path.isfile(requested):
        return requested
    folder = requested or default_folder
    preferred = os.path.join(folder, preferred_name) if preferred_name else ""
    if preferred and os.path.isfile(preferred):
        return preferred
    path = latest_checkpoint(folder)
    if path is None:
        raise FileNotFoundError(
            f"no {preferred_name or 'checkpoint'} or ckpt.<N>.pth to evaluate in {folder!r} (train first, or set EVAL_CKPT_PATH_DIR)"
        )
    return path


def _unwrap(model: torch.nn.Module | None) -> torch.nn.Module | None:
    """The bare module inside a DistributedDataParallel / DataParallel wrapper."""
    return getattr(model, "module", model)
