"""Score predicted NAF log-magnitudes against the ground truth with the metrics of audio/metrics.py.

Paper protocol (every method, NAF and baselines alike): spectral error on the log-magnitudes; T60, C50
and EDT errors on waveforms rebuilt from prediction and ground-truth magnitudes with the SAME uniform
random phase (fixed seed). A failed T60 estimate counts as 100 % and is counted in t60_failures.

Phase options (phase_scores): the prediction rebuilt with each phase method against the TRUE recorded
ground-truth waveform, which is what a user who renders audio from a NAF gets.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from audio_separation.audio import metrics
from audio_separation.naf.data import NafAudioParams
from audio_separation.naf.phase import waveform_of_logmag


def _summary(values: Sequence[float]) -> tuple[float, int]:
    """nan-mean of values and how many were NaN (undefined)."""
    array = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(array)
    return (float(array[finite].mean()) if finite.any() else float("nan")), int((~finite).sum())


def acoustic_errors(pred_waves: Sequence[np.ndarray], gt_waves: Sequence[np.ndarray], sample_rate: int) -> dict:
    """Mean T60 error (%), failures, C50 error (dB) and EDT error (s) over items of (2, samples) pairs."""
    t60_errors, failures, c50_errors, edt_errors = [], 0, [], []
    for pred, gt in zip(pred_waves, gt_waves):
        error, failed = metrics.t60_error_percent(pred, gt, sample_rate)
        t60_errors.append(error)
        failures += int(failed)
        c50_errors.append(metrics.c50_error_db(pred, gt, sample_rate))
        edt_errors.append(metrics.edt_error_seconds(pred, gt, sample_rate))
    t60_mean, t60_unscorable = _summary(t60_errors)
    c50_mean, c50_undefined = _summary(c50_errors)
    edt_mean, edt_undefined = _summary(edt_errors)
    return {
        "t60_error_percent": t60_mean,
        "t60_failures": failures,
        "t60_unscorable_items": t60_unscorable,
        "c50_error_db": c50_mean,
        "c50_undefined_items": c50_undefined,
        "edt_error_seconds": edt_mean,
        "edt_undefined_items": edt_undefined,
        "items": len(t60_errors),
    }


def score_paper_protocol(
    pred_logmags: Sequence[np.ndarray], gt_logmags: Sequence[np.ndarray], params: NafAudioParams, phase_seed: int
) -> dict:
    """Spectral error + T60/C50/EDT errors with the shared random phase (see module docstring)."""
    if len(pred_logmags) != len(gt_logmags) or not gt_logmags:
        raise ValueError(
            f"need equal, non-zero counts of predictions and ground truths, got {len(pred_logmags)} and {len(gt_logmags)}"
        )
    stft_params = params.stft_params
    spectral = [metrics.spectral_error(p, g) for p, g in zip(pred_logmags, gt_logmags)]
    pred_waves = [waveform_of_logmag(p, stft_params, params.log_eps, "random", phase_seed) for p in pred_logmags]
    gt_waves = [waveform_of_logmag(g, stft_params, params.log_eps, "random", phase_seed) for g in gt_logmags]
    return {"spectral_error": float(np.mean(spectral)), **acoustic_errors(pred_waves, gt_waves, params.sample_rate)}


def score_phase_methods(
    pred_logmags: Sequence[np.ndarray],
    true_waveforms: Sequence[np.ndarray],
    params: NafAudioParams,
    methods: Sequence[str],
    phase_seed: int,
    griffin_lim_iterations: int,
) -> dict:
    """T60/C50/EDT errors of each phase method's waveform against the recorded ground-truth waveform."""
    scores = {}
    for method in methods:
        waves = [
            waveform_of_logmag(p, params.stft_params, params.log_eps, method, phase_seed, griffin_lim_iterations)
            for p in pred_logmags
        ]
        scores[method] = acoustic_errors(waves, true_waveforms, params.sample_rate)
    return scores
