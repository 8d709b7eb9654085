"""NAF log-magnitudes -> RIR waveforms for many queries at once, as torch operations on any device.

The maths of naf/phase.py (numpy, one item at a time), batched over (B, ears): log(|X| + eps) -> |X|
with a zero Nyquist row -> phase -> inverse STFT of (frames - 1) * hop samples. Everything is float64.

- "minimum": the real-cepstrum minimum phase of each frame (naf/phase.py's). Each frame's energy then
  sits at the frame's first sample, where the synthesis window is ~0: the rebuilt RIR keeps ~8 % of the
  true energy (measured on the tiny world with TRUE magnitudes), so it is no renderer default.
- "centred_minimum": that phase delayed by half a frame (n_fft / 2 samples: a linear phase of -pi k for
  bin k), so each frame's front-loaded energy sits under the window's peak: ~55 % of the energy.
- "griffin_lim_minimum" (the renderer's default, WORLD.NAF_PHASE): Griffin-Lim iterations (the
  checkpoint's NAF.GRIFFIN_LIM_ITERATIONS) started from "centred_minimum", batched on the device: a
  consistent STFT, ~99 % of the energy (16 iterations, tiny world, true magnitudes).
- "random": each item's uniform phase from its own seed, drawn with numpy (naf/phase.shared_random_phase:
  the same seed gives the same phase as the numpy path) and moved to the device.
- "griffin_lim": naf/phase.py's Griffin-Lim from that random phase, item by item in numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from audio_separation.audio.stft import StftParams, istft_torch, stft_torch
from audio_separation.naf.phase import PHASE_METHODS, shared_random_phase, waveform_of_logmag

RENDER_PHASE_METHODS = (*PHASE_METHODS, "centred_minimum", "griffin_lim_minimum")  # WORLD.NAF_PHASE


def magnitude_of_logmag_torch(logmag: torch.Tensor, log_eps: float) -> torch.Tensor:
    """(..., n_fft // 2, frames) log(|X| + eps) -> |X| >= 0 with a zero Nyquist row appended."""
    magnitude = torch.clamp(torch.exp(logmag) - log_eps, min=0.0)
    return torch.cat([magnitude, magnitude.new_zeros(*magnitude.shape[:-2], 1, magnitude.shape[-1])], dim=-2)


def minimum_phase_torch(magnitude: torch.Tensor, n_fft: int) -> torch.Tensor:
    """Per-frame minimum phase of (..., n_fft // 2 + 1, frames) magnitudes (naf/phase.minimum_phase)."""
    log_magnitude = torch.log(torch.clamp(magnitude.transpose(-1, -2), min=1e-8))  # (..., frames, bins)
    cepstrum = torch.fft.irfft(log_magnitude, n=n_fft, dim=-1)
    fold = torch.zeros(n_fft, dtype=cepstrum.dtype, device=cepstrum.device)
    fold[0] = 1.0
    fold[1 : (n_fft + 1) // 2] = 2.0
    if n_fft % 2 == 0:
        fold[n_fft // 2] = 1.0
    return torch.fft.rfft(cepstrum * fold, n=n_fft, dim=-1).imag.transpose(-1, -2)


def centred_minimum_phase_torch(magnitude: torch.Tensor, n_fft: int) -> torch.Tensor:
    """minimum_phase_torch delayed by n_fft / 2 samples (module docstring)."""
    bins = torch.arange(magnitude.shape[-2], dtype=magnitude.dtype, device=magnitude.device)[:, None]
    return minimum_phase_torch(magnitude, n_fft) - 2.0 * torch.pi * bins * (n_fft // 2) / n_fft


def griffin_lim_torch(
    magnitude: torch.Tensor, params: StftParams, phase: torch.Tensor, iterations: int, length: int
) -> torch.Tensor:
    """Phase after `iterations` Griffin-Lim projections of (..., bins, frames) magnitudes."""
    frames = magnitude.shape[-1]
    for _ in range(int(iterations)):
        rebuilt = stft_torch(istft_torch(torch.polar(magnitude, phase), params, length=length), params)
        phase = torch.angle(rebuilt[..., :frames])
    return phase


def waveforms_of_logmag(
    logmag: torch.Tensor,
    params: StftParams,
    log_eps: float,
    method: str,
    seeds: Sequence[int],
    griffin_lim_iterations: int = 32,
) -> torch.Tensor:
    """(B, ears, n_fft // 2, frames) float64 log-magnitudes -> (B, ears, (frames - 1) * hop) float64 waveforms
    on logmag's device; seeds[b] seeds item b's random phase ("random", and the start of "griffin_lim")."""
    if method not in RENDER_PHASE_METHODS:
        raise ValueError(f"unknown phase method {method!r}; choose one of {RENDER_PHASE_METHODS}")
    if len(seeds) != logmag.shape[0]:
        raise ValueError(f"{logmag.shape[0]} log-magnitudes but {len(seeds)} seeds")
    length = (logmag.shape[-1] - 1) * params.hop_length
    if method == "griffin_lim":
        items = [
            waveform_of_logmag(item, params, log_eps, method, int(seed), griffin_lim_iterations)
            for item, seed in zip(logmag.detach().cpu().numpy(), seeds)
        ]
        return torch.from_numpy(np.stack(items)).to(logmag.device)
    magnitude = magnitude_of_logmag_torch(logmag, log_eps)
    if method == "minimum":
        phase = minimum_phase_torch(magnitude, params.fft_size)
    elif method in ("centred_minimum", "griffin_lim_minimum"):
        phase = centred_minimum_phase_torch(magnitude, params.fft_size)
        if method == "griffin_lim_minimum":
            phase = griffin_lim_torch(magnitude, params, phase, griffin_lim_iterations, length)
    else:
        phase = torch.from_numpy(np.stack([shared_random_phase(tuple(magnitude.shape[1:]), int(s)) for s in seeds]))
        phase = phase.to(magnitude.device)
    return istft_torch(torch.polar(magnitude, phase), params, length=length)
