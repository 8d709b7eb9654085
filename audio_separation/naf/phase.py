"""Waveforms from NAF log-magnitudes: the paper's shared random phase and phase-aware alternatives.

All take (..., ears, n_fft // 2, frames) log-magnitudes log(|X| + eps) and return (..., ears, samples)
float64 waveforms of (frames - 1) * hop samples (what a centred inverse STFT of that many frames gives).
A zero Nyquist bin is put back before inverting.

- "random": uniform random phase from a fixed seed (the original); prediction and ground truth share it.
- "minimum": per-frame minimum phase from the real cepstrum of the frame's log-magnitude, so each
  frame's energy is front-loaded like a causal decaying response.
- "griffin_lim": Griffin-Lim iterations started from the shared random phase.
"""

from __future__ import annotations

import numpy as np

from audio_separation.audio.stft import StftParams, istft, stft

PHASE_METHODS = ("random", "minimum", "griffin_lim")


def magnitude_of_logmag(logmag: np.ndarray, log_eps: float) -> np.ndarray:
    """log(|X| + eps) -> |X| >= 0 with the zero Nyquist row appended: (..., n_fft // 2 + 1, frames)."""
    magnitude = np.clip(np.exp(np.asarray(logmag, dtype=np.float64)) - log_eps, 0.0, None)
    nyquist = np.zeros(magnitude.shape[:-2] + (1, magnitude.shape[-1]))
    return np.concatenate([magnitude, nyquist], axis=-2)


def shared_random_phase(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Uniform phase in [-pi, pi) of the given (..., bins, frames) shape from a fixed seed."""
    return np.random.default_rng(seed).uniform(-np.pi, np.pi, size=shape)


def minimum_phase(magnitude: np.ndarray, n_fft: int) -> np.ndarray:
    """Per-frame minimum phase of (..., n_fft // 2 + 1, frames) magnitudes (real-cepstrum folding)."""
    log_magnitude = np.log(np.maximum(np.swapaxes(magnitude, -1, -2), 1e-8))  # (..., frames, bins)
    cepstrum = np.fft.irfft(log_magnitude, n=n_fft, axis=-1)
    fold = np.zeros(n_fft)
    fold[0] = 1.0
    fold[1 : (n_fft + 1) // 2] = 2.0
    if n_fft % 2 == 0:
        fold[n_fft // 2] = 1.0
    phase = np.imag(np.fft.rfft(cepstrum * fold, n=n_fft, axis=-1))
    return np.swapaxes(phase, -1, -2)


def griffin_lim(magnitude: np.ndarray, params: StftParams, initial_phase: np.ndarray, iterations: int) -> np.ndarray:
    """Phase after `iterations` Griffin-Lim projections of (..., bins, frames) magnitudes."""
    frames = magnitude.shape[-1]
    length = (frames - 1) * params.hop_length
    phase = initial_phase
    for _ in range(int(iterations)):
        waveform = istft(magnitude * np.exp(1j * phase), params, length=length)
        rebuilt = stft(waveform.astype(np.float64), params)
        if rebuilt.shape[-1] < frames:  # pad a short re-analysis (should not happen with centring)
            rebuilt = np.pad(rebuilt, [(0, 0)] * (rebuilt.ndim - 1) + [(0, frames - rebuilt.shape[-1])])
        phase = np.angle(rebuilt[..., :frames])
    return phase


def waveform_of_logmag(
    logmag: np.ndarray,
    params: StftParams,
    log_eps: float,
    method: str = "random",
    phase_seed: int = 0,
    griffin_lim_iterations: int = 32,
) -> np.ndarray:
    """A waveform for log-magnitudes with the named phase method (see the module docstring)."""
    if method not in PHASE_METHODS:
        raise ValueError(f"unknown phase method {method!r}; choose one of {PHASE_METHODS}")
    magnitude = magnitude_of_logmag(logmag, log_eps)
    random_phase = shared_random_phase(magnitude.shape, phase_seed)
    if method == "random":
        phase = random_phase
    elif method == "minimum":
        phase = minimum_phase(magnitude, params.fft_size)
    else:
        phase = griffin_lim(magnitude, params, random_phase, griffin_lim_iterations)
    length = (magnitude.shape[-1] - 1) * params.hop_length
    return istft(magnitude * np.exp(1j * phase), params, length=length).astype(np.float64)
