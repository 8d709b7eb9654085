"""The project STFT: paper shapes, equality with librosa and torch, inverses and the n_fft 1022 quirk."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from audio_separation.audio.stft import (
    StftParams,
    _rfft,
    _windowed_frames_numpy,
    _windowed_frames_torch,
    istft,
    istft_torch,
    magnitude_phase,
    reconstruct_waveform,
    stft,
    stft_torch,
)
from audio_separation.config.default import get_default_config

SAMPLES = 16000


@pytest.fixture(scope="module")
def params() -> StftParams:
    return StftParams.from_config(get_default_config().AUDIO)


@pytest.fixture(scope="module")
def fast_params() -> StftParams:
    config = get_default_config()
    config.AUDIO.FAST_STFT = True
    return StftParams.from_config(config)


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((3, 2, SAMPLES)).astype(np.float32)


def _relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def test_params_from_config_are_the_paper_ones(params: StftParams) -> None:
    assert params == StftParams(1023, 512, 1023, True, "constant", False)
    assert params.num_freq_bins == 512
    assert params.num_frames(SAMPLES) == 32
    assert params.fft_size == 1023
    # The whole config is accepted as well as its AUDIO node.
    assert StftParams.from_config(get_default_config()) == params


def test_config_inconsistency_fails_loudly() -> None:
    config = get_default_config()
    config.AUDIO.N_FFT = 511
    config.AUDIO.WIN_LENGTH = 511
    config.AUDIO.HOP_LENGTH = 256
    derived = StftParams.from_config(config.AUDIO)  # the shapes follow the STFT keys: nothing to keep in step
    assert derived.num_freq_bins == 256 and derived.num_frames(SAMPLES) == 63
    with pytest.raises(ValueError, match="odd n_fft"):
        StftParams(n_fft=1024, win_length=1024, fast=True)
    with pytest.raises(ValueError, match="pad_mode"):
        StftParams(pad_mode="wrap")


def test_window_is_periodic_hann(params: StftParams) -> None:
    from scipy.signal import get_window

    np.testing.assert_allclose(params.window(), get_window("hann", 1023, fftbins=True), atol=1e-12)


def test_shapes_and_batching(params: StftParams, noise: np.ndarray) -> None:
    spectrum = stft(noise, params)
    assert spectrum.shape == (3, 2, 512, 32)
    assert spectrum.dtype == np.complex64
    np.testing.assert_array_equal(spectrum[1, 0], stft(noise[1, 0], params))
    magnitude, phase = magnitude_phase(noise[0, 0], params)
    assert magnitude.shape == phase.shape == (512, 32)
    assert magnitude.dtype == phase.dtype == np.float32
    np.testing.assert_allclose(magnitude * np.exp(1j * phase), spectrum[0, 0], atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stft_equals_librosa(params: StftParams, noise: np.ndarray, dtype: type) -> None:
    signal = noise[0, 0].astype(dtype)
    expected = librosa.stft(signal, n_fft=1023, hop_length=512, win_length=1023, center=True, pad_mode="constant")
    assert expected.shape == (512, 32)
    assert _relative_error(stft(signal, params), expected) < 1e-5


@pytest.mark.parametrize("center,pad_mode", [(True, "reflect"), (False, "constant")])
def test_stft_equals_librosa_other_modes(noise: np.ndarray, center: bool, pad_mode: str) -> None:
    params = StftParams(n_fft=1023, hop_length=512, win_length=1023, center=center, pad_mode=pad_mode)
    expected = librosa.stft(noise[0, 1], n_fft=1023, hop_length=512, win_length=1023, center=center, pad_mode=pad_mode)
    assert _relative_error(stft(noise[0, 1], params), expected) < 1e-5


def test_short_window_is_centred_like_librosa(noise: np.ndarray) -> None:
    params = StftParams(n_fft=1023, hop_length=256, win_length=800)
    expected = librosa.stft(noise[2, 0], n_fft=1023, hop_length=256, win_length=800, pad_mode="constant")
    assert _relative_error(stft(noise[2, 0], params), expected) < 1e-5


def test_istft_round_trip_and_librosa(params: StftParams, noise: np.ndarray) -> None:
    spectrum = stft(noise, params)
    restored = istft(spectrum, params, length=SAMPLES)
    assert restored.shape == noise.shape
    assert restored.dtype == np.float32
    np.testing.assert_allclose(restored, noise, atol=1e-5)
    expected = librosa.istft(spectrum[0, 0], n_fft=1023, hop_length=512, win_length=1023, length=SAMPLES)
    np.testing.assert_allclose(restored[0, 0], expected, atol=1e-5)
    # Default length as librosa: fft_size + (frames - 1) * hop - 2 * (n_fft // 2) when centred.
    default_length = librosa.istft(spectrum[0, 0], n_fft=1023, hop_length=512).shape
    assert istft(spectrum[0, 0], params).shape == default_length == (1023 + 31 * 512 - 2 * 511,)


def test_istft_rejects_wrong_bin_count(params: StftParams) -> None:
    with pytest.raises(ValueError, match="frequency bins"):
        istft(np.zeros((513, 32), dtype=np.complex64), params)


def test_torch_equals_numpy(params: StftParams, fast_params: StftParams, noise: np.ndarray) -> None:
    for stft_params in (params, fast_params):
        expected = stft(noise, stft_params)
        spectrum = stft_torch(torch.from_numpy(noise), stft_params)
        assert tuple(spectrum.shape) == (3, 2, 512, 32)
        assert _relative_error(spectrum.numpy(), expected) < 1e-5
        restored = istft_torch(spectrum, stft_params, length=SAMPLES)
        assert tuple(restored.shape) == noise.shape
        np.testing.assert_allclose(restored.numpy(), istft(expected, stft_params, length=SAMPLES), atol=1e-5)
    single = stft_torch(torch.from_numpy(noise[0, 0]), params)
    assert tuple(single.shape) == (512, 32)


def test_fast_stft_shape_and_definition(fast_params: StftParams, params: StftParams, noise: np.ndarray) -> None:
    assert fast_params.fast and fast_params.fft_size == 1024 and fast_params.window_length == 1024
    spectrum = stft(noise[0, 0], fast_params)
    assert spectrum.shape == (512, 32)
    expected = librosa.stft(noise[0, 0], n_fft=1024, hop_length=512, center=True, pad_mode="constant")
    assert _relative_error(spectrum, expected[:512]) < 1e-5
    # Documented: NOT numerically identical to the paper STFT.
    assert _relative_error(spectrum, stft(noise[0, 0], params)) > 1e-2


@pytest.mark.parametrize("threads", [1, 2])
def test_fast_stft_same_with_either_fft_backend(fast_params: StftParams, noise: np.ndarray, threads: int) -> None:
    # single-threaded torch takes the 1024-point FFT (stft._rfft); the result must not depend on it
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        spectrum = stft(noise[0].astype(np.float32), fast_params)
    finally:
        torch.set_num_threads(before)
    expected = librosa.stft(noise[0].astype(np.float64), n_fft=1024, hop_length=512, center=True, pad_mode="constant")[
        :, :512
    ]
    assert spectrum.dtype == np.complex64 and spectrum.shape == (noise.shape[1], 512, 32)
    assert _relative_error(spectrum, expected) < 1e-5


@pytest.mark.parametrize("fast", [False, True])
def test_torch_framing_gives_the_numpy_framing_bit_for_bit(
    params: StftParams, fast_params: StftParams, noise: np.ndarray, fast: bool
) -> None:
    # single-threaded torch pads, frames and windows the fast STFT's frames (stft._windowed_frames_torch):
    # the same multiplications as the numpy code, so the same bits (float32 and float64, strided input
    # too), and the STFT is what numpy framing + the same FFT gives
    chosen = fast_params if fast else params
    for signal in (noise[:, :, 100:].astype(np.float32)[:, ::2], noise[0, 0].astype(np.float64)):
        np.testing.assert_array_equal(_windowed_frames_torch(signal, chosen), _windowed_frames_numpy(signal, chosen))
    signal = noise[:, :, 100:].astype(np.float32)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        spectrum = stft(signal, chosen)
        expected = np.swapaxes(_rfft(_windowed_frames_numpy(signal, chosen))[..., : chosen.num_freq_bins], -1, -2)
    finally:
        torch.set_num_threads(before)
    np.testing.assert_array_equal(spectrum, expected)


def test_fast_round_trip_of_band_limited_signal(fast_params: StftParams) -> None:
    time = np.arange(SAMPLES) / 16000.0
    signal = (np.sin(2 * np.pi * 440 * time) + 0.5 * np.sin(2 * np.pi * 2500 * time + 1.0)).astype(np.float32)
    restored = istft(stft(signal, fast_params), fast_params, length=SAMPLES)
    # Only the dropped Nyquist bin is lost: nothing inside, a trace of the zero-padded onset at the edges.
    np.testing.assert_allclose(restored[1024:-1024], signal[1024:-1024], atol=1e-5)
    np.testing.assert_allclose(restored, signal, atol=1e-3)


def test_reconstruct_waveform_and_quirk(params: StftParams, noise: np.ndarray) -> None:
    spectrum = stft(noise[0, 0], params)
    magnitude, phase = np.abs(spectrum), np.angle(spectrum)
    correct = reconstruct_waveform(magnitude, phase, params)
    assert correct.shape == (SAMPLES,)
    np.testing.assert_allclose(correct, noise[0, 0], atol=1e-4)
    quirk = reconstruct_waveform(magnitude, phase, params, quirk_n_fft_1022=True)
    # The original: librosa.istft infers n_fft = 2 * (512 - 1) = 1022 from the bin count.
    expected = librosa.istft(magnitude * np.exp(1j * phase), hop_length=512, length=SAMPLES)
    np.testing.assert_allclose(quirk, expected, atol=1e-4)
    assert np.max(np.abs(quirk - noise[0, 0])) > 0.1
