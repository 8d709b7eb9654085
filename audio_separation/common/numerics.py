"""Non-finite guard of the training loops: a NaN / Inf loss stops training at once, before the optimizer
step and before any checkpoint is written, so the last good checkpoint stays the newest one."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from audio_separation.common.checkpoint import latest_checkpoint
from audio_separation.common.errors import NonFiniteError


def _as_float(value) -> float:
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


def is_finite(value) -> bool:
    return math.isfinite(_as_float(value))


def non_finite_loss(
    trainer: str,
    where: str,
    losses: Mapping[str, object],
    likely_causes: str,
    checkpoint_dir: str = "",
) -> NonFiniteError:
    """The error to raise when a loss went NaN / Inf: names the trainer, the step, every loss term and
    the likely causes, and which checkpoint a rerun would resume from."""
    terms = ", ".join(f"{name} {_as_float(value):.6g}" for name, value in losses.items())
    latest = latest_checkpoint(checkpoint_dir) if checkpoint_dir else None
    kept = (
        f"The last good checkpoint {latest} is intact (nothing was saved after it)"
        if latest
        else "No checkpoint was written by this run"
    )
    return NonFiniteError(
        f"{trainer}: non-finite loss at {where} ({terms}); training stopped before the optimizer step. "
        f"Likely causes: {likely_causes}. {kept}; set AUDIO_SEPARATION_DEBUG=1 for the traceback"
    )


def check_losses(
    trainer: str,
    where: str,
    losses: Mapping[str, object],
    likely_causes: str,
    checkpoint_dir: str = "",
    check: tuple[str, ...] | None = None,
) -> None:
    """Raise non_finite_loss(...) when any loss (or those named in `check`) is NaN / Inf."""
    names = check if check is not None else tuple(losses)
    if not all(is_finite(losses[name]) for name in names):
        raise non_finite_loss(trainer, where, losses, likely_causes, checkpoint_dir)
