"""Scoring the passive separator on a validation split: the loss terms (checkpoint selection uses the
mono L1) and the separation metrics of the mono estimate beside the mixture baseline.

The mono estimate is the binaural_to_mono output clamped at 0 (a magnitude); the mixture baseline is
the env's (audio/episode_metrics.mixture_mono_estimate: the ears' mean linear mixture magnitude rescaled
to the target's RMS). Waveforms for SI-SDR use the ground-truth phase (audio/metrics.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from audio_separation.audio.episode_metrics import METRIC_NAMES, mixture_mono_estimate, summarise
from audio_separation.audio.metrics import separation_metrics
from audio_separation.audio.stft import StftParams
from audio_separation.models.separators import PassiveSeparator, SeparatorOutput


def separation_losses(output: SeparatorOutput, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The pretraining loss (spec): L1(predicted binaural, GT binaural) + L1(predicted mono, GT mono)."""
    binaural = torch.nn.functional.l1_loss(output.binaural, batch["gt_binaural_magnitude"])
    mono = torch.nn.functional.l1_loss(output.mono, batch["gt_mono_magnitude"])
    return {"binaural_l1": binaural, "mono_l1": mono, "total": binaural + mono}


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {key: value.to(device, non_blocking=True) for key, value in batch.items()}


@torch.no_grad()
def score_split(
    model: PassiveSeparator,
    batches: Iterable[dict[str, torch.Tensor]],
    params: StftParams,
    target_rms: float,
    step_samples: int,
    device: torch.device,
) -> dict[str, Any]:
    """Per-item losses and metrics over a loader of one split: {"per_item": {name: [..]}, "summary":
    {name: mean/std/95 % interval}}; names are binaural_l1, mono_l1 and METRIC_NAMES."""
    was_training = model.training
    model.eval()
    per_item: dict[str, list[float]] = {name: [] for name in ("binaural_l1", "mono_l1", *METRIC_NAMES)}
    try:
        for batch in batches:
            batch = to_device(batch, device)
            output = model(batch["mixed_binaural_magnitude"], batch["target_class"])
            per_item["binaural_l1"] += (
                (output.binaural - batch["gt_binaural_magnitude"]).abs().mean(dim=(1, 2, 3)).tolist()
            )
            per_item["mono_l1"] += (output.mono - batch["gt_mono_magnitude"]).abs().mean(dim=(1, 2, 3)).tolist()
            mixture = mixture_mono_estimate(batch["mixed_binaural_magnitude"].cpu().numpy(), target_rms)
            metrics = separation_metrics(
                output.mono_estimate().float().cpu().numpy(),
                batch["gt_mono_magnitude"][..., 0].cpu().numpy(),
                batch["gt_mono_phase"][..., 0].cpu().numpy(),
                mixture,
                params,
                length=step_samples,
            )
            for name in METRIC_NAMES:
                per_item[name] += [float(v) for v in np.atleast_1d(metrics[name])]
    finally:
        model.train(was_training)
    return {"per_item": per_item, "summary": {name: summarise(values) for name, values in per_item.items()}}
