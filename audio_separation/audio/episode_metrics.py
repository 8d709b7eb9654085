"""Scoring episodes with the metrics of audio/metrics.py: per step, per episode, and aggregated.

The input ("mixture") estimate of the target's mono magnitude is the mean of the two ears' linear
mixture magnitudes (expm1 of the mixed_binaural_magnitude observation) rescaled per step to the RMS
of the ground-truth target (AUDIO.TARGET_MONO_RMS): the STFT distance then compares spectral content,
not level (the mixture is a mean of reverberant sources and far quieter than the dry target).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from audio_separation.audio.metrics import separation_metrics_of
from audio_separation.audio.stft import StftParams

METRIC_NAMES = ("si_sdr", "si_sdr_improvement", "stft_distance", "input_si_sdr", "input_stft_distance")


def mixture_mono_estimate(mixed_binaural_magnitude: np.ndarray, target_rms: float) -> np.ndarray:
    """(..., F, T, 2) log1p mixture magnitude -> (..., F, T) mono magnitude with RMS target_rms per item."""
    linear = np.expm1(np.asarray(mixed_binaural_magnitude, dtype=np.float64)).mean(axis=-1)
    rms = np.sqrt(np.mean(linear**2, axis=(-2, -1), keepdims=True))
    return (linear * (target_rms / np.maximum(rms, 1e-8))).astype(np.float32)


def step_metrics(
    predicted: np.ndarray,
    target: np.ndarray,
    target_phase: np.ndarray,
    mixture: np.ndarray,
    params: StftParams,
    length: int,
    quirk_n_fft_1022: bool = False,
) -> dict[str, list[float]]:
    """Metrics of every step of an episode: inputs are (steps, F, T); returns name -> list over steps."""
    return step_metrics_of({"prediction": predicted}, target, target_phase, mixture, params, length, quirk_n_fft_1022)[
        "prediction"
    ]


def step_metrics_of(
    predictions: dict[str, np.ndarray],
    target: np.ndarray,
    target_phase: np.ndarray,
    mixture: np.ndarray,
    params: StftParams,
    length: int,
    quirk_n_fft_1022: bool = False,
) -> dict[str, dict[str, list[float]]]:
    """step_metrics of several estimates of the same episode (name -> (steps, F, T)), sharing the target's
    and the mixture's reconstructions; returns name -> metric name -> list over steps."""
    values = separation_metrics_of(
        predictions, target, target_phase, mixture, params, length=length, quirk_n_fft_1022=quirk_n_fft_1022
    )
    return {
        kind: {name: [float(v) for v in np.atleast_1d(metrics[name])] for name in METRIC_NAMES}
        for kind, metrics in values.items()
    }


def summarise(values: list[float]) -> dict[str, Any]:
    """Mean, standard deviation and the 95 % Student-t interval of the mean (None where undefined)."""
    array = np.asarray(values, dtype=np.float64)
    count = int(array.size)
    mean = float(array.mean()) if count else math.nan
    if count < 2:
        return {"mean": _finite(mean), "std": None, "ci95_low": None, "ci95_high": None, "count": count}
    std = float(array.std(ddof=1))
    half_width = float(stats.t.ppf(0.975, count - 1) * std / math.sqrt(count))
    return {"mean": mean, "std": std, "ci95_low": mean - half_width, "ci95_high": mean + half_width, "count": count}


def aggregate(episodes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per metric: summary over episodes of each episode's mean over its steps."""
    return {name: summarise([episode["mean"][name] for episode in episodes]) for name in METRIC_NAMES}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
