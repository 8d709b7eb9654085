"""Training tensors of a scene and the random batches both NAF models train on (paper recipe)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from audio_separation.naf.data import NafSceneData


@dataclass
class SceneTensors:
    """Normalised targets (N, max_len, 2, F), positions, headings and lengths as torch tensors."""

    target: torch.Tensor
    listener_xy: torch.Tensor
    emitter_xy: torch.Tensor
    heading: torch.Tensor
    lengths: torch.Tensor

    @classmethod
    def from_data(cls, data: NafSceneData, std_scale: float, device: torch.device | str = "cpu") -> "SceneTensors":
        normalised = (data.logmag - data.mean) / (std_scale * data.std)  # (N, 2, F, T)
        return cls(
            target=torch.from_numpy(np.ascontiguousarray(normalised.transpose(0, 3, 1, 2))).float().to(device),
            listener_xy=torch.from_numpy(data.listener_xy).float().to(device),
            emitter_xy=torch.from_numpy(data.emitter_xy).float().to(device),
            heading=torch.from_numpy(data.heading_index).long().to(device),
            lengths=torch.from_numpy(data.lengths).long().to(device),
        )


def denormalise(prediction: np.ndarray, data: NafSceneData, std_scale: float) -> np.ndarray:
    """Normalised (..., F, T) -> log-magnitudes with the scene's mean/std (T <= max_len)."""
    frames = prediction.shape[-1]
    return prediction * (std_scale * data.std[:, :frames]) + data.mean[:, :frames]


def _frame_limits(tensors: SceneTensors, items: torch.Tensor, pad_fraction: float, generator: torch.Generator) -> torch.Tensor:
    """Per item, frames may be drawn below its own length, or below max_len for a pad_fraction share."""
    max_len = tensors.target.shape[1]
    padded = torch.rand(items.shape[0], generator=generator) < pad_fraction
    return torch.where(padded.to(items.device), torch.full_like(tensors.lengths[items], max_len), tensors.lengths[items])


def jittered_positions(tensors: SceneTensors, items: torch.Tensor, jitter: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    noise = torch.randn(2, items.shape[0], 2, generator=generator).to(tensors.listener_xy.device) * jitter
    return tensors.listener_xy[items] + noise[0], tensors.emitter_xy[items] + noise[1]


def pixel_loss(model, tensors: SceneTensors, items: torch.Tensor, pixels: int, jitter: float, pad_fraction: float, generator: torch.Generator) -> tuple[torch.Tensor, int]:
    """MSE of the pixel model at `pixels` random (t, f) per item, both ears; returns (loss, queries)."""
    limits = _frame_limits(tensors, items, pad_fraction, generator)
    frames = (torch.rand(items.shape[0], pixels, generator=generator).to(limits.device) * limits[:, None]).long()
    bins = torch.randint(0, tensors.target.shape[-1], (items.shape[0], pixels), generator=generator).to(limits.device)
    listener, emitter = jittered_positions(tensors, items, jitter, generator)
    prediction = model(listener, emitter, tensors.heading[items], frames, bins)  # (B, P, 2)
    target = tensors.target[items[:, None], frames, :, bins]  # (B, P, 2)
    return F.mse_loss(prediction, target), int(prediction.numel())


def frame_loss(model, tensors: SceneTensors, items: torch.Tensor, frames_per_item: int, jitter: float, pad_fraction: float, generator: torch.Generator) -> tuple[torch.Tensor, int]:
    """MSE of the frame model over all bins and ears of its frames; returns (loss, pixel queries).

    frames_per_item 0: every frame below max_len, with frames past each item's limit masked out.
    """
    max_len = tensors.target.shape[1]
    limits = _frame_limits(tensors, items, pad_fraction, generator)
    if frames_per_item > 0:
        frames = (torch.rand(items.shape[0], frames_per_item, generator=generator).to(limits.device) * limits[:, None]).long()
        mask = torch.ones_like(frames, dtype=torch.bool)
    else:
        frames = torch.arange(max_len, device=limits.device)[None].expand(items.shape[0], -1)
        mask = frames < limits[:, None]
    listener, emitter = jittered_positions(tensors, items, jitter, generator)
    prediction = model(listener, emitter, tensors.heading[items], frames)  # (B, T, 2, F)
    target = tensors.target[items[:, None], frames]  # (B, T, 2, F)
    squared = ((prediction - target) ** 2).mean(dim=(-2, -1))
    weights = mask.float()
    return (squared * weights).sum() / weights.sum().clamp_min(1.0), int(weights.sum().item()) * prediction.shape[-1] * 2
