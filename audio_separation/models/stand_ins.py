"""Stand-ins with no learned weights for the separator and the memory, so that agents can be scored
through the one rollout loop (rl/rollout.run_episodes) before anything is trained.

MixtureSeparator's estimate of the target is the mixture itself: binaural = the linear mixture, mono =
the mean of the two ears rescaled per item to AUDIO.TARGET_MONO_RMS (the "input" baseline of the
metrics, audio/episode_metrics.mixture_mono_estimate). IdentityMemory refines nothing: the refined
estimate of a step is its passive estimate.
"""

from __future__ import annotations

import torch
from torch import nn

from audio_separation.models.separators import SeparatorOutput


class MixtureSeparator(nn.Module):
    """(B, F, T, 2) log1p mixture -> the mixture as the target's estimate (see the module docstring)."""

    def __init__(self, target_rms: float) -> None:
        super().__init__()
        self.target_rms = float(target_rms)

    def forward(self, log_mixture: torch.Tensor, target_class: torch.Tensor) -> SeparatorOutput:
        linear = torch.expm1(log_mixture.to(torch.float64))
        mono = linear.mean(dim=-1)
        rms = mono.pow(2).mean(dim=(-2, -1), keepdim=True).sqrt()
        mono = (mono * (self.target_rms / rms.clamp(min=1e-8))).to(torch.float32)
        binaural = linear.to(torch.float32)
        return SeparatorOutput(mask=torch.ones_like(binaural), binaural=binaural, mono=mono[..., None])


class IdentityMemory(nn.Module):
    """TransformerMemory.refine's interface, returning the decoded positions' entries unchanged."""

    mixture_input = False  # its entries are the passive estimates alone, as TransformerMemory's default

    def encode(self, entries: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """No encoding: empty tokens and skips (M, 0), so callers that cache encodings work unchanged."""
        empty = entries.new_zeros(entries.shape[0], 0)
        return empty, empty

    def refine(
        self,
        entries: torch.Tensor,
        window_index: torch.Tensor,
        window_step: torch.Tensor,
        decode: torch.Tensor,
        encoded: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        valid = window_step >= 0
        index = torch.where(valid, window_index, torch.zeros_like(window_index))
        return entries[index[decode & valid]]
