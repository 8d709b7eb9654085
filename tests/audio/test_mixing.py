"""Mixing maths: cursor arithmetic, the "same" crop, exact short FFTs, the int16 quirk, RMS normalisation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import fftconvolve

from audio_separation.audio.mixing import (
    chunk_spectrum,
    clip_chunk,
    clip_second,
    convolution_fft_length,
    convolve,
    convolve_from_spectra,
    crop_start,
    int16_roundtrip,
    rir_spectrum,
    rms_normalise,
)


def test_clip_second_wraps_at_the_last_whole_second() -> None:
    assert [clip_second(17, t, 20) for t in range(5)] == [17, 18, 19, 0, 1]
    assert clip_second(0, 19, 20) == 19
    assert clip_second(5, 40, 20) == 5
    with pytest.raises(ValueError):
        clip_second(0, 0, 0)


def test_clip_chunk_is_the_requested_second() -> None:
    clip = np.arange(16000 * 3 + 100, dtype=np.float32)
    chunk = clip_chunk(clip, 2, 16000)
    assert chunk.shape == (16000,) and chunk[0] == 32000 and chunk[-1] == 47999
    with pytest.raises(ValueError):
        clip_chunk(clip, 3, 16000)  # the trailing partial second is not a whole second


@pytest.mark.parametrize("crop", ["same", "causal"])
@pytest.mark.parametrize(
    "chunk_length, rir_length", [(16000, 16000), (16000, 8001), (16000, 1), (1000, 3000), (999, 64)]
)
def test_convolve_equals_direct_convolution(chunk_length: int, rir_length: int, crop: str) -> None:
    rng = np.random.default_rng(chunk_length + rir_length)
    chunks = rng.standard_normal((2, chunk_length)).astype(np.float32)
    rirs = (rng.standard_normal((2, rir_length, 2)) * np.exp(-np.arange(rir_length) / 500.0)[None, :, None]).astype(
        np.float32
    )
    rendered = convolve(chunks, rirs, crop)
    assert rendered.shape == (2, 2, chunk_length) and rendered.dtype == np.float32
    start = crop_start(chunk_length, rir_length, crop)
    assert start == ((rir_length - 1) // 2 if crop == "same" else 0)
    for source in range(2):
        for ear in range(2):
            chunk, rir = chunks[source].astype(np.float64), rirs[source, :, ear].astype(np.float64)
            # direct (time-domain) convolution where it is quick, float64 FFT convolution otherwise
            full = np.convolve(chunk, rir) if chunk_length * rir_length <= 5e7 else fftconvolve(chunk, rir)
            assert full.shape == (chunk_length + rir_length - 1,)
            np.testing.assert_allclose(
                rendered[source, ear], full[start : start + chunk_length], atol=2e-4 * np.abs(full).max()
            )
            if crop == "same":
                same = fftconvolve(chunks[source], rirs[source, :, ear], mode="same")
                np.testing.assert_allclose(rendered[source, ear], same, atol=2e-4 * np.abs(full).max())


def test_crop_alignment() -> None:
    """A delayed impulse response: "causal" keeps the chunk aligned, "same" advances it by (L_rir - 1) // 2."""
    chunk = np.zeros((1, 1000), np.float32)
    chunk[0, 700] = 1.0
    rir = np.zeros((1, 401, 2), np.float32)
    rir[0, 10, :] = 0.5  # direct sound 10 samples late
    assert np.argmax(convolve(chunk, rir, "causal")[0, 0]) == 710
    assert np.argmax(convolve(chunk, rir, "same")[0, 0]) == 710 - 200
    with pytest.raises(ValueError, match="CONVOLUTION_CROP"):
        crop_start(1000, 401, "valid")


def test_fft_length_is_short_but_exact() -> None:
    assert crop_start(16000, 16000, "same") == 7999
    assert convolution_fft_length(16000, 16000, "causal") >= 31999
    length = convolution_fft_length(16000, 16000, "same")
    assert 24000 <= length < 16000 + 16000 - 1
    rng = np.random.default_rng(0)
    chunk = rng.standard_normal(16000).astype(np.float32)
    rir = rng.standard_normal((16000, 2)).astype(np.float32)
    expected = fftconvolve(
        np.broadcast_to(chunk.astype(np.float64), (2, 16000)), rir.T.astype(np.float64), mode="same", axes=-1
    )
    exact = convolve_from_spectra(
        [chunk_spectrum(chunk, length)], [rir_spectrum(rir, length)], length, 16000, 16000, "same"
    )[0]
    np.testing.assert_allclose(exact, expected, atol=1e-6 * np.abs(expected).max() * 100)
    with pytest.raises(ValueError):
        convolve_from_spectra([chunk_spectrum(chunk, 20000)], [rir_spectrum(rir, 20000)], 20000, 16000, 16000, "same")
    # the checked length matters: a shorter circular convolution wraps the tail onto the crop
    too_short = 20000
    wrapped = np.fft.irfft(np.fft.rfft(chunk, too_short) * np.fft.rfft(rir[:, 0], too_short), too_short)[7999:23999]
    assert np.abs(wrapped - expected[0, : wrapped.shape[0]]).max() > 1e-2 * np.abs(expected).max()


def test_rir_longer_than_chunk() -> None:
    assert convolution_fft_length(1000, 3000) >= 3000


def test_int16_roundtrip_quantises_and_saturates() -> None:
    signal = np.array([0.0, 1e-6, 0.5, -0.25, 1.5, -2.0], dtype=np.float32)
    rounded = int16_roundtrip(signal)
    assert rounded.dtype == np.float32
    np.testing.assert_array_equal(rounded, np.array([0.0, 0.0, 0.5, -0.25, 32767 / 32768, -1.0], dtype=np.float32))
    noise = np.random.default_rng(1).uniform(-0.9, 0.9, 1000).astype(np.float32)
    assert np.abs(int16_roundtrip(noise) - noise).max() <= 0.5 / 32768 + 1e-9


def test_rms_normalise() -> None:
    magnitude = np.random.default_rng(2).random((512, 32)).astype(np.float32)
    scaled, factor = rms_normalise(magnitude, 1.2)
    assert np.sqrt(np.mean(scaled.astype(np.float64) ** 2)) == pytest.approx(1.2, rel=1e-5)
    np.testing.assert_allclose(scaled, magnitude * factor, rtol=1e-6)
    silent, _ = rms_normalise(np.zeros((4, 4), np.float32), 1.2)
    assert not silent.any()
