"""The evaluation's fast paths give the plain computations' numbers: the vectorised overlap-add of the
inverse STFT against a frame-by-frame loop, one phase broadcast over a stack of magnitudes, and several
predictions scored with one shared reconstruction of the target and the mixture."""

from __future__ import annotations

import numpy as np
import pytest

from audio_separation.audio.episode_metrics import step_metrics, step_metrics_of
from audio_separation.audio.metrics import separation_metrics, separation_metrics_of
from audio_separation.audio.stft import StftParams, istft, reconstruct_waveform, stft


def _loop_istft(spectrum: np.ndarray, params: StftParams, length: int) -> np.ndarray:
    """Weighted overlap-add one frame at a time (the textbook inverse)."""
    frames = np.fft.irfft(spectrum, n=params.fft_size, axis=-2) * params.window()[:, None]
    count = spectrum.shape[-1]
    total = params.fft_size + params.hop_length * (count - 1)
    signal = np.zeros(spectrum.shape[:-2] + (total,))
    envelope = np.zeros(total)
    for frame in range(count):
        start = frame * params.hop_length
        signal[..., start : start + params.fft_size] += frames[..., frame]
        envelope[start : start + params.fft_size] += params.window() ** 2
    covered = envelope > np.finfo(np.float64).tiny
    signal[..., covered] /= envelope[covered]
    return signal[..., params.pad_amount : params.pad_amount + length]


@pytest.mark.parametrize(
    "params",
    [
        StftParams(),  # the paper's: 2 hops per frame
        StftParams(fast=True),
        StftParams(n_fft=512, hop_length=128, win_length=512),  # NAF's: 4 hops per frame
        StftParams(n_fft=300, hop_length=100, win_length=200),  # a window shorter than the frame, 3 hops
    ],
)
def test_vectorised_istft_equals_a_frame_loop(params: StftParams) -> None:
    rng = np.random.default_rng(0)
    signal = rng.standard_normal((3, 2, 4000))
    spectrum = stft(signal, params)
    expected = _loop_istft(spectrum.astype(np.complex128), params, 4000)
    result = istft(spectrum, params, length=4000)
    np.testing.assert_allclose(result, expected, atol=1e-5 * np.abs(expected).max())
    if not params.fast:  # the fast STFT drops the Nyquist bin, which white noise has
        np.testing.assert_allclose(result, signal, atol=1e-4 * np.abs(signal).max())  # and it inverts the STFT


def test_one_phase_broadcasts_over_a_stack_of_magnitudes() -> None:
    params = StftParams()
    rng = np.random.default_rng(1)
    magnitudes = rng.random((3, 4, 512, 32)).astype(np.float32)
    phase = rng.uniform(-np.pi, np.pi, (4, 512, 32)).astype(np.float32)
    stacked = reconstruct_waveform(magnitudes, phase, params)
    for index in range(3):
        np.testing.assert_array_equal(stacked[index], reconstruct_waveform(magnitudes[index], phase, params))
    with pytest.raises(ValueError, match="phase shape"):
        reconstruct_waveform(magnitudes, phase[:2], params)


def test_several_predictions_share_the_target_and_mixture() -> None:
    params = StftParams()
    rng = np.random.default_rng(2)
    target_wave, other = rng.standard_normal((2, 5, 16000)).astype(np.float32)
    target, mixture = stft(target_wave, params), stft((target_wave + other) / 2, params)
    magnitude, phase, mixture_magnitude = np.abs(target), np.angle(target), np.abs(mixture)
    predictions = {
        "close": magnitude + 0.1 * rng.random(magnitude.shape).astype(np.float32),
        "far": magnitude + rng.random(magnitude.shape).astype(np.float32),
    }
    shared = separation_metrics_of(predictions, magnitude, phase, mixture_magnitude, params)
    assert list(shared) == ["close", "far"]
    for name, prediction in predictions.items():
        alone = separation_metrics(prediction, magnitude, phase, mixture_magnitude, params)
        for metric, value in alone.items():
            np.testing.assert_allclose(shared[name][metric], value, rtol=1e-6, atol=1e-6)
    assert np.all(shared["close"]["si_sdr"] > shared["far"]["si_sdr"])
    per_step = step_metrics_of(predictions, magnitude, phase, mixture_magnitude, params, 16000)
    assert per_step["far"] == step_metrics(predictions["far"], magnitude, phase, mixture_magnitude, params, 16000)
    with pytest.raises(ValueError, match="prediction 'far'"):
        separation_metrics_of({**predictions, "far": magnitude[:2]}, magnitude, phase, mixture_magnitude, params)
