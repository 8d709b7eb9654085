"""NAF scoring on synthetic exponential decays with known T60 / C50 / EDT, and the phase options."""

from __future__ import annotations

import numpy as np
import pytest

from audio_separation.audio import metrics
from audio_separation.naf.data import NafAudioParams, logmag_of_waveform
from audio_separation.naf.evaluate import acoustic_errors, score_paper_protocol
from audio_separation.naf.phase import PHASE_METHODS, waveform_of_logmag

RATE = 16000
PARAMS = NafAudioParams(
    sample_rate=RATE, n_fft=512, hop_length=128, pad_mode="reflect", append_zeros=256, min_samples=3200, log_eps=1e-3
)


def decay(t60: float, seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """(2, samples) noise with an exponential energy decay of 60 dB in t60 seconds."""
    time = np.arange(int(seconds * RATE)) / RATE
    noise = np.random.default_rng(seed).standard_normal((2, time.size))
    return noise * 10 ** (-3.0 * time / t60)


def test_known_decays_give_known_errors() -> None:
    reference = decay(0.5)
    assert metrics.t60(reference, RATE) == pytest.approx([0.5, 0.5], rel=0.05)
    assert metrics.edt(reference, RATE) == pytest.approx([0.5, 0.5], rel=0.08)
    # C50 of a pure exponential energy decay: 10 log10((1 - r) / r) with r = 10^(-6 * 0.05 / T60)
    ratio = 10 ** (-6 * 0.05 / 0.5)
    assert np.mean(metrics.c50(reference, RATE)) == pytest.approx(10 * np.log10((1 - ratio) / ratio), abs=0.3)
    scores = acoustic_errors([decay(0.4, seed=1)], [reference], RATE)
    assert scores["t60_error_percent"] == pytest.approx(20.0, abs=4.0)
    assert scores["edt_error_seconds"] == pytest.approx(0.1, abs=0.04)
    assert scores["t60_failures"] == 0


def test_failed_t60_counts_as_100_percent_and_is_counted() -> None:
    never = np.ones((2, 100))  # flat: its last sample alone holds 1 % (-20 dB) of the energy, never -35 dB
    scores = acoustic_errors([never, decay(0.5)], [decay(0.5), decay(0.5)], RATE)
    assert scores["t60_failures"] == 1
    assert scores["t60_error_percent"] == pytest.approx(50.0, abs=2.0)


def test_paper_protocol_of_the_truth_is_perfect() -> None:
    logmag = logmag_of_waveform(decay(0.6).astype(np.float32), PARAMS)
    scores = score_paper_protocol([logmag], [logmag], PARAMS, phase_seed=0)
    assert scores["spectral_error"] == 0.0 and scores["t60_error_percent"] == 0.0 and scores["c50_error_db"] == 0.0


@pytest.mark.parametrize("method", PHASE_METHODS)
def test_every_phase_method_keeps_the_decay(method: str) -> None:
    truth = decay(0.5)
    logmag = logmag_of_waveform(truth.astype(np.float32), PARAMS)
    waveform = waveform_of_logmag(logmag, PARAMS.stft_params, PARAMS.log_eps, method, 0, griffin_lim_iterations=8)
    assert waveform.shape == (2, (logmag.shape[-1] - 1) * 128)
    assert np.all(np.isfinite(waveform))
    assert acoustic_errors([waveform], [truth], RATE)["t60_error_percent"] < 10.0
