"""Every metric definition of the project (separation and room acoustics) lives here, nowhere else.

Conventions: numpy in, numpy out, computed in float64; time on the LAST axis; leading axes are a batch.
A function whose result is a single number returns a Python float (bool for flags), otherwise an array.

Separation (spec "Evaluation and metrics"): SI-SDR on zero-mean 1-s waveforms obtained from the inverse
STFT of a magnitude with the ground-truth phase (stft.reconstruct_waveform), and the STFT distance
0.5 * mean((M_hat - M)^2).

Room acoustics (NAF "Testing"), pinned here because library versions differ:
- Schroeder decay: backward-integrated energy in dB, 0 dB at the first stored sample.
- T60 = 2 x (first time below -35 dB - first time below -5 dB) on that curve, from first crossings at
  sample resolution; NaN when the curve never gets below -35 dB (a failed estimate).
- EDT = 6 x (first time below -10 dB); NaN when never below -10 dB.
- C50 = 10 log10(energy of the first 50 ms / energy after), counted from t = 0 of the IR AS STORED (no
  onset detection: SoundSpaces-style IRs keep their propagation delay, and so do predictions).
Impulse responses are (..., samples): one channel per row; the error functions read (..., channels,
samples) with channels = ears, or a single (samples,) channel.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from audio_separation.audio.stft import StftParams, reconstruct_waveform


def _as_result(value: np.ndarray) -> Any:
    """A Python scalar for 0-d results, the array otherwise."""
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else value


def _same_shape(first: np.ndarray, second: np.ndarray, first_name: str, second_name: str) -> None:
    if first.shape != second.shape:
        raise ValueError(f"{first_name} shape {first.shape} != {second_name} shape {second.shape}")


# ---------------------------------------------------------------------------------------------------
# Separation
# ---------------------------------------------------------------------------------------------------
def si_sdr(estimate: np.ndarray, reference: np.ndarray, eps: float = 1e-8) -> Any:
    """Scale-invariant SDR in dB over the last axis (batched over the others).

    Both signals are made zero-mean, then a = <s, s_hat> / ||s||^2 and
    SI-SDR = 10 log10(||a s||^2 / ||s_hat - a s||^2); eps keeps silent inputs finite
    (a perfect estimate gives a large finite value instead of +inf).
    """
    estimate = np.asarray(estimate, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    _same_shape(estimate, reference, "estimate", "reference")
    if estimate.ndim == 0 or estimate.shape[-1] == 0:
        raise ValueError(f"si_sdr needs signals with samples on the last axis, got shape {estimate.shape}")
    estimate = estimate - estimate.mean(axis=-1, keepdims=True)
    reference = reference - reference.mean(axis=-1, keepdims=True)
    scale = np.sum(reference * estimate, axis=-1, keepdims=True) / (np.sum(reference**2, axis=-1, keepdims=True) + eps)
    target = scale * reference
    distortion = estimate - target
    ratio = (np.sum(target**2, axis=-1) + eps) / (np.sum(distortion**2, axis=-1) + eps)
    return _as_result(10.0 * np.log10(ratio))


def si_sdr_improvement(estimate: np.ndarray, mixture: np.ndarray, reference: np.ndarray) -> Any:
    """SI-SDR of the estimate minus SI-SDR of the mixture, both against the reference (dB)."""
    return _as_result(np.asarray(si_sdr(estimate, reference)) - np.asarray(si_sdr(mixture, reference)))


def stft_distance(predicted_magnitude: np.ndarray, target_magnitude: np.ndarray, phase: np.ndarray) -> Any:
    """Mean over real and imaginary parts of the squared STFT difference, both with the GT phase.

    Equals 0.5 * mean((M_hat - M)^2) (no square root): an all-zero estimate of a target with RMS 1.2
    scores 0.72. Averaged over the last two axes (freq, frames); leading axes are a batch.
    """
    predicted = np.asarray(predicted_magnitude, dtype=np.float64)
    target = np.asarray(target_magnitude, dtype=np.float64)
    phase = np.asarray(phase, dtype=np.float64)
    _same_shape(predicted, target, "predicted_magnitude", "target_magnitude")
    _same_shape(phase, target, "phase", "target_magnitude")
    if target.ndim < 2:
        raise ValueError(f"stft_distance needs (..., freq, frames) magnitudes, got shape {target.shape}")
    difference = predicted - target
    # the mean of (d cos p)^2 and (d sin p)^2 over (..., freq, frames, 2) is 0.5 d^2 whatever the phase
    # (cos^2 + sin^2 = 1; equal to float64 rounding), so the phase's cos and sin are never computed
    return _as_result(0.5 * np.mean(difference**2, axis=(-2, -1)))


def separation_metrics(
    pred_mono_magnitude: np.ndarray,
    gt_mono_magnitude: np.ndarray,
    gt_phase: np.ndarray,
    mixture_mono_magnitude: np.ndarray,
    params: StftParams,
    *,
    length: int = 16000,
    quirk_n_fft_1022: bool = False,
) -> dict[str, Any]:
    """The separation metrics of one (or a batch of) 1-s step(s), with the mixture as input baseline.

    Every magnitude is (..., freq, frames) on the scale of the GT target (the caller rescales the
    mixture if the target was rescaled). Waveforms are reconstructed with the GT phase for the
    prediction, the target and the mixture alike (stft.reconstruct_waveform; quirk_n_fft_1022 selects
    the original's 1022-point inverse), so the "input_" numbers isolate what the magnitude changed.
    length: samples per step (cfg.AUDIO.SAMPLE_RATE * cfg.AUDIO.STEP_SECONDS).
    Returns si_sdr, si_sdr_improvement, stft_distance, input_si_sdr, input_stft_distance.
    """
    return separation_metrics_of(
        {"prediction": pred_mono_magnitude},
        gt_mono_magnitude,
        gt_phase,
        mixture_mono_magnitude,
        params,
        length=length,
        quirk_n_fft_1022=quirk_n_fft_1022,
    )["prediction"]


def separation_metrics_of(
    predictions: dict[str, np.ndarray],
    gt_mono_magnitude: np.ndarray,
    gt_phase: np.ndarray,
    mixture_mono_magnitude: np.ndarray,
    params: StftParams,
    *,
    length: int = 16000,
    quirk_n_fft_1022: bool = False,
) -> dict[str, dict[str, Any]]:
    """separation_metrics of several predictions of the same steps (name -> magnitude, each shaped like
    the target): the target's and the mixture's waveforms are reconstructed once for all of them, and
    every waveform in one inverse STFT. Returns name -> the metrics separation_metrics returns."""
    target = np.asarray(gt_mono_magnitude)
    mixture = np.asarray(mixture_mono_magnitude)
    phase = np.asarray(gt_phase)
    if not predictions:
        raise ValueError("separation_metrics_of needs at least one prediction")
    predicted = {name: np.asarray(value) for name, value in predictions.items()}
    for name, value in predicted.items():
        _same_shape(
            value, target, f"prediction {name!r}" if len(predicted) > 1 else "pred_mono_magnitude", "gt_mono_magnitude"
        )
    _same_shape(mixture, target, "mixture_mono_magnitude", "gt_mono_magnitude")
    _same_shape(phase, target, "gt_phase", "gt_mono_magnitude")

    magnitudes = np.stack([*predicted.values(), target, mixture])
    waves = reconstruct_waveform(magnitudes, phase, params, length=length, quirk_n_fft_1022=quirk_n_fft_1022)
    target_wave, mixture_wave = waves[-2], waves[-1]
    input_si_sdr = np.asarray(si_sdr(mixture_wave, target_wave))
    input_stft_distance = stft_distance(mixture, target, phase)
    results: dict[str, dict[str, Any]] = {}
    for index, (name, value) in enumerate(predicted.items()):
        output_si_sdr = np.asarray(si_sdr(waves[index], target_wave))
        results[name] = {
            "si_sdr": _as_result(output_si_sdr),
            "si_sdr_improvement": _as_result(output_si_sdr - input_si_sdr),
            "stft_distance": stft_distance(value, target, phase),
            "input_si_sdr": _as_result(input_si_sdr),
            "input_stft_distance": input_stft_distance,
        }
    return results


# ---------------------------------------------------------------------------------------------------
# Room acoustics (NAF evaluation)
# ---------------------------------------------------------------------------------------------------
def _as_impulse_response(ir: np.ndarray, name: str = "ir") -> np.ndarray:
    ir = np.asarray(ir, dtype=np.float64)
    if ir.ndim == 0 or ir.shape[-1] == 0:
        raise ValueError(f"{name} must be (..., samples) with samples on the last axis, got {ir.shape}")
    return ir


def _check_sample_rate(sample_rate: float) -> None:
    if not sample_rate > 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")


def schroeder_decay_db(ir: np.ndarray) -> np.ndarray:
    """Schroeder energy decay curve in dB, (..., samples): 10 log10(sum_{u>=t} h(u)^2 / sum_u h(u)^2).

    0 dB at the first stored sample; -inf after the last non-zero sample; NaN for an all-zero IR.
    """
    ir = _as_impulse_response(ir)
    remaining = np.cumsum((ir**2)[..., ::-1], axis=-1)[..., ::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return 10.0 * np.log10(remaining / remaining[..., :1])


def _first_time_below(decay_db: np.ndarray, level_db: float, sample_rate: float) -> np.ndarray:
    """Seconds until the decay curve first drops below level_db; NaN where it never does."""
    below = decay_db < level_db
    reached = below.any(axis=-1)
    first_index = below.argmax(axis=-1)
    return np.where(reached, first_index / float(sample_rate), np.nan)


def t60(ir: np.ndarray, sample_rate: float) -> Any:
    """Reverberation time in seconds: 2 x (first time below -35 dB - first time below -5 dB).

    Over the last axis (batched). NaN when the decay never gets below -35 dB (the estimate failed).
    """
    _check_sample_rate(sample_rate)
    decay = schroeder_decay_db(ir)
    return _as_result(
        2.0 * (_first_time_below(decay, -35.0, sample_rate) - _first_time_below(decay, -5.0, sample_rate))
    )


def edt(ir: np.ndarray, sample_rate: float) -> Any:
    """Early decay time in seconds: 6 x the first time the decay curve is below -10 dB (NaN if never)."""
    _check_sample_rate(sample_rate)
    return _as_result(6.0 * _first_time_below(schroeder_decay_db(ir), -10.0, sample_rate))


def c50(ir: np.ndarray, sample_rate: float, early_seconds: float = 0.05) -> Any:
    """Clarity in dB: 10 log10(energy of the first 50 ms / energy after), from t = 0 of the IR as stored.

    The first round(early_seconds * sample_rate) samples are "early". +inf when nothing is late,
    NaN for an all-zero IR.
    """
    _check_sample_rate(sample_rate)
    ir = _as_impulse_response(ir)
    boundary = int(round(early_seconds * sample_rate))
    energy = ir**2
    early = energy[..., :boundary].sum(axis=-1)
    late = energy[..., boundary:].sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _as_result(10.0 * np.log10(early / late))


def _per_channel(pred_ir: np.ndarray, gt_ir: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., channels, samples) views of a prediction/ground-truth pair; sample counts may differ."""
    pred = _as_impulse_response(pred_ir, "pred_ir")
    gt = _as_impulse_response(gt_ir, "gt_ir")
    if pred.ndim == 1:
        pred = pred[None]
    if gt.ndim == 1:
        gt = gt[None]
    if pred.shape[:-1] != gt.shape[:-1]:
        raise ValueError(f"pred_ir and gt_ir must have the same (..., channels) shape, got {pred.shape} and {gt.shape}")
    return pred, gt


def t60_error_percent(pred_ir: np.ndarray, gt_ir: np.ndarray, sample_rate: float) -> tuple[Any, Any]:
    """T60 error in percent per item, averaged over channels (ears), and whether the estimate failed.

    Inputs are (..., channels, samples) or one (samples,) channel. Per channel
    100 * |T60_pred - T60_gt| / T60_gt; a channel whose predicted T60 is undefined (NaN) counts as
    100 % and sets the failed flag. Channels whose ground-truth T60 is undefined or zero cannot be
    scored and are left out of the average (an item with no scorable channel gives NaN, not failed).
    Returns (error, failed): floats/bools for one item, arrays of the leading shape for a batch.
    """
    pred, gt = _per_channel(pred_ir, gt_ir)
    pred_t60 = np.asarray(t60(pred, sample_rate), dtype=np.float64)
    gt_t60 = np.asarray(t60(gt, sample_rate), dtype=np.float64)
    scorable = np.isfinite(gt_t60) & (gt_t60 > 0)
    failed_channel = ~np.isfinite(pred_t60) & scorable
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = 100.0 * np.abs(pred_t60 - gt_t60) / gt_t60
    relative = np.where(failed_channel, 100.0, relative)
    relative = np.where(scorable, relative, 0.0)
    count = scorable.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.where(count > 0, relative.sum(axis=-1) / count, np.nan)
    return _as_result(error), _as_result(failed_channel.any(axis=-1))


def c50_error_db(pred_ir: np.ndarray, gt_ir: np.ndarray, sample_rate: float) -> Any:
    """|C50_pred - C50_gt| in dB per item, averaged over channels ((..., channels, samples) inputs)."""
    pred, gt = _per_channel(pred_ir, gt_ir)
    difference = np.abs(np.asarray(c50(pred, sample_rate)) - np.asarray(c50(gt, sample_rate)))
    return _as_result(difference.mean(axis=-1))


def edt_error_seconds(pred_ir: np.ndarray, gt_ir: np.ndarray, sample_rate: float) -> Any:
    """|EDT_pred - EDT_gt| in seconds per item, averaged over channels ((..., channels, samples))."""
    pred, gt = _per_channel(pred_ir, gt_ir)
    difference = np.abs(np.asarray(edt(pred, sample_rate)) - np.asarray(edt(gt, sample_rate)))
    return _as_result(difference.mean(axis=-1))


def spectral_error(pred_logmag: np.ndarray, gt_logmag: np.ndarray) -> float:
    """Mean |pred - gt| over every element of the log-magnitudes (NAF: over 2 ears x 256 bins x T)."""
    predicted = np.asarray(pred_logmag, dtype=np.float64)
    target = np.asarray(gt_logmag, dtype=np.float64)
    _same_shape(predicted, target, "pred_logmag", "gt_logmag")
    if target.size == 0:
        raise ValueError("spectral_error got empty log-magnitudes")
    return float(np.mean(np.abs(predicted - target)))


# ---------------------------------------------------------------------------------------------------
# Direct sound and binaural cues (world physics checks, HRTF tests)
# ---------------------------------------------------------------------------------------------------
# Pinned here:
# - First arrival (the direct sound, for binaural cues): the samples from 0.5 ms before to 1 ms after an
#   IR's onset, the first sample whose magnitude (in any channel) reaches FIRST_ARRIVAL_THRESHOLD = 30 %
#   (-10.5 dB) of the IR's largest magnitude; one window for all channels, so interaural delays (<= 0.8 ms)
#   stay inside. Onset rather than strongest sample: in small rooms a lateral wall reflection can be
#   stronger at the near ear than a frontal direct sound, and would otherwise be taken for it.
# - DRR (direct-to-reverberant ratio) = 10 log10(energy within +-2.5 ms of the channel's strongest sample /
#   energy of every other sample), per channel.
# - ILD = 10 log10(energy of ear 0 / energy of ear 1) (ear 0 = left: positive = left louder), optionally
#   within a frequency band (energy of the rfft bins in [low, high] Hz).
# - ITD = the lag that maximises the interaural cross-correlation within +-1 ms, interpolated by
#   zero-padding the cross-spectrum (16 x finer than a sample); positive = the left ear leads.
# - Interaural coherence = real part of the complex coherency S_LR / sqrt(S_LL S_RR) from Welch averages
#   (Hann segments, half overlap); 1 = identical ears, 0 = unrelated, negative = opposite phase.
DIRECT_HALF_WINDOW_SECONDS = 0.0025
FIRST_ARRIVAL_THRESHOLD = 0.3


def _binaural(ir: np.ndarray, name: str = "ir") -> np.ndarray:
    ir = _as_impulse_response(ir, name)
    if ir.ndim < 2 or ir.shape[-2] != 2:
        raise ValueError(f"{name} must be (..., 2 ears, samples) with ear 0 = left, got {ir.shape}")
    return ir


def first_arrival(
    ir: np.ndarray, sample_rate: float, before_seconds: float = 0.0005, after_seconds: float = 0.001
) -> Any:
    """(..., channels, window) first-arrival segments of (..., channels, samples) IRs: from before_seconds
    before to after_seconds after the onset (see the definitions above); zeros where it leaves the IR."""
    _check_sample_rate(sample_rate)
    ir = _as_impulse_response(ir)
    if ir.ndim == 1:
        ir = ir[None]
    before, after = int(round(before_seconds * sample_rate)), int(round(after_seconds * sample_rate))
    magnitude = np.abs(ir).max(axis=-2)  # (..., samples)
    onset = np.argmax(magnitude >= FIRST_ARRIVAL_THRESHOLD * magnitude.max(axis=-1, keepdims=True), axis=-1)
    padded = np.pad(ir, [(0, 0)] * (ir.ndim - 1) + [(before, after)])
    offsets = onset[..., None] + np.arange(before + after + 1)  # indices into the padded IR
    offsets = np.broadcast_to(offsets[..., None, :], (*ir.shape[:-1], before + after + 1))
    return np.take_along_axis(padded, offsets, axis=-1)


def direct_to_reverberant_ratio(
    ir: np.ndarray, sample_rate: float, half_window_seconds: float = DIRECT_HALF_WINDOW_SECONDS
) -> Any:
    """DRR in dB per channel of (..., samples) IRs: energy within +-half_window of the channel's strongest
    sample over the energy of every other sample (+inf when nothing else, NaN for an all-zero IR)."""
    _check_sample_rate(sample_rate)
    ir = _as_impulse_response(ir)
    half = int(round(half_window_seconds * sample_rate))
    energy = ir**2
    peak = np.argmax(energy, axis=-1)
    index = np.arange(ir.shape[-1])
    inside = np.abs(index - peak[..., None]) <= half
    direct = np.where(inside, energy, 0.0).sum(axis=-1)
    rest = energy.sum(axis=-1) - direct
    with np.errstate(divide="ignore", invalid="ignore"):
        return _as_result(10.0 * np.log10(direct / np.maximum(rest, 0.0)))


def interaural_level_difference(
    ir: np.ndarray, sample_rate: float | None = None, band_hz: tuple[float, float] | None = None
) -> Any:
    """ILD in dB of (..., 2, samples) binaural signals: 10 log10(E_left / E_right), ear 0 = left;
    band_hz=(low, high) restricts the energies to those rfft bins (needs sample_rate)."""
    ir = _binaural(ir)
    if band_hz is None:
        energy = (ir**2).sum(axis=-1)
    else:
        if sample_rate is None:
            raise ValueError("interaural_level_difference with band_hz needs sample_rate")
        _check_sample_rate(sample_rate)
        frequencies = np.fft.rfftfreq(ir.shape[-1], 1.0 / sample_rate)
        inside = (frequencies >= band_hz[0]) & (frequencies <= band_hz[1])
        if not inside.any():
            raise ValueError(f"band {band_hz} Hz holds no rfft bin of a {ir.shape[-1]}-sample signal")
        energy = (np.abs(np.fft.rfft(ir, axis=-1)[..., inside]) ** 2).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _as_result(10.0 * np.log10(energy[..., 0] / energy[..., 1]))


def interaural_time_difference(
    ir: np.ndarray, sample_rate: float, max_lag_seconds: float = 0.001, upsample: int = 16
) -> Any:
    """ITD in seconds of (..., 2, samples) binaural signals: the lag of the interaural cross-correlation
    maximum within +-max_lag, on a grid `upsample` times finer than a sample; positive = left ear leads."""
    _check_sample_rate(sample_rate)
    ir = _binaural(ir)
    n_fft = 1 << int(np.ceil(np.log2(2 * ir.shape[-1])))
    spectra = np.fft.rfft(ir, n_fft, axis=-1)
    # correlation[m] = sum_t right[t + m] left[t]: peaks at m > 0 when the right ear hears it later
    correlation = np.fft.irfft(spectra[..., 1, :] * np.conj(spectra[..., 0, :]), n_fft * upsample, axis=-1)
    max_lag = int(np.floor(max_lag_seconds * sample_rate * upsample))
    lags = np.arange(-max_lag, max_lag + 1)
    window = np.take(correlation, lags % (n_fft * upsample), axis=-1)
    best = lags[np.argmax(window, axis=-1)]
    return _as_result(best / (upsample * float(sample_rate)))


def interaural_coherence(
    left: np.ndarray, right: np.ndarray, sample_rate: float, segment: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in Hz, real part of the complex coherency) of two signals (last axis time, batched
    axes averaged as more Welch segments): Re S_LR / sqrt(S_LL S_RR)."""
    from scipy.signal import csd, welch

    _check_sample_rate(sample_rate)
    left = np.asarray(left, dtype=np.float64)
    right = np.asarray(right, dtype=np.float64)
    _same_shape(left, right, "left", "right")
    frequencies, cross = csd(left, right, fs=sample_rate, nperseg=segment, axis=-1)
    _, power_left = welch(left, fs=sample_rate, nperseg=segment, axis=-1)
    _, power_right = welch(right, fs=sample_rate, nperseg=segment, axis=-1)
    batch = tuple(range(cross.ndim - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        coherence = np.real(cross.sum(axis=batch)) / np.sqrt(power_left.sum(axis=batch) * power_right.sum(axis=batch))
    return frequencies, coherence
