"""First arrival, DRR, ILD, ITD and interaural coherence (audio/metrics.py) on signals with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from audio_separation.audio.metrics import (
    direct_to_reverberant_ratio,
    first_arrival,
    interaural_coherence,
    interaural_level_difference,
    interaural_time_difference,
)

SAMPLE_RATE = 16000


def _impulses(length, left, right):
    """(2, length) with (index, amplitude) impulses per ear."""
    out = np.zeros((2, length))
    for ear, impulses in enumerate((left, right)):
        for index, amplitude in impulses:
            out[ear, index] = amplitude
    return out


def test_itd_sign_and_subsample_value():
    ir = _impulses(400, [(100, 1.0)], [(110, 0.5)])  # left first: the source is on the left
    assert interaural_time_difference(ir, SAMPLE_RATE) == pytest.approx(10 / SAMPLE_RATE)
    assert interaural_time_difference(ir[::-1], SAMPLE_RATE) == pytest.approx(-10 / SAMPLE_RATE)
    # a band-limited fractional delay of 4.5 samples is found to 1/16 sample
    frequencies = np.fft.rfftfreq(512)
    pulse = np.fft.irfft(np.exp(-2j * np.pi * frequencies * 100.0) * (frequencies < 0.4), 512)
    late = np.fft.irfft(np.exp(-2j * np.pi * frequencies * 104.5) * (frequencies < 0.4), 512)
    assert interaural_time_difference(np.stack([pulse, late]), SAMPLE_RATE) * SAMPLE_RATE == pytest.approx(
        4.5, abs=1 / 16
    )
    batch = np.stack([ir, ir[::-1]])
    np.testing.assert_allclose(interaural_time_difference(batch, SAMPLE_RATE), [10 / SAMPLE_RATE, -10 / SAMPLE_RATE])


def test_ild_broadband_and_in_a_band():
    ir = _impulses(256, [(10, 1.0)], [(10, 0.5)])
    assert interaural_level_difference(ir) == pytest.approx(20 * np.log10(2))
    assert interaural_level_difference(ir, SAMPLE_RATE, (4000, 8000)) == pytest.approx(20 * np.log10(2))
    with pytest.raises(ValueError, match="sample_rate"):
        interaural_level_difference(ir, band_hz=(100, 200))
    with pytest.raises(ValueError, match="2 ears"):
        interaural_level_difference(np.zeros((3, 10)))


def test_drr_counts_the_window_around_the_strongest_sample():
    ir = np.zeros(1600)
    ir[100] = 1.0  # direct
    ir[120] = 0.5  # inside +-2.5 ms (40 samples)
    ir[800] = 0.5  # reverberant
    assert direct_to_reverberant_ratio(ir, SAMPLE_RATE) == pytest.approx(10 * np.log10(1.25 / 0.25))


def test_first_arrival_starts_at_the_onset_not_at_the_strongest_sample():
    # a frontal direct sound (both ears) followed 1.5 ms later by a stronger reflection at the left ear
    ir = _impulses(800, [(200, 0.6), (224, 1.0)], [(200, 0.6)])
    window = first_arrival(ir, SAMPLE_RATE)
    assert window.shape == (2, 8 + 16 + 1)
    assert window[0, 8] == 0.6 and window[1, 8] == 0.6 and window[0].max() == 0.6  # the reflection is outside
    assert interaural_time_difference(window, SAMPLE_RATE) == 0.0


def test_coherence_of_identical_independent_and_opposite_signals():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((2, 32000))
    frequencies, same = interaural_coherence(noise[0], noise[0], SAMPLE_RATE)
    _, independent = interaural_coherence(noise[0], noise[1], SAMPLE_RATE)
    _, opposite = interaural_coherence(noise[0], -noise[0], SAMPLE_RATE)
    assert frequencies[-1] == SAMPLE_RATE / 2
    np.testing.assert_allclose(same, 1.0)
    np.testing.assert_allclose(opposite, -1.0)
    assert np.abs(independent).mean() < 0.15
