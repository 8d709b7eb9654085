"""Metric definitions: SI-SDR against fast_bss_eval and hand cases, STFT distance, separation metrics of
one step, and the room-acoustics metrics on synthetic exponential decays with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from audio_separation.audio.metrics import (
    c50,
    c50_error_db,
    edt,
    edt_error_seconds,
    schroeder_decay_db,
    separation_metrics,
    si_sdr,
    si_sdr_improvement,
    spectral_error,
    stft_distance,
    t60,
    t60_error_percent,
)
from audio_separation.audio.stft import StftParams, reconstruct_waveform, stft

SAMPLE_RATE = 16000
LN_1000 = np.log(1000.0)  # amplitude exp(-ln(1000) t / T60) decays 60 dB in T60


def _orthogonal_noise(reference: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean noise orthogonal to the zero-mean reference with ||s||^2 / ||n||^2 = snr."""
    noise = rng.standard_normal(reference.shape)
    noise -= noise.mean()
    noise -= (noise @ reference) / (reference @ reference) * reference
    return noise * np.sqrt((reference @ reference) / (noise @ noise) / 10 ** (snr_db / 10))


def _exponential_ir(t60_seconds: float, duration: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Exponentially decaying IR (amplitude e^{-ln(1000) t / T60}); Gaussian noise carrier if rng."""
    time = np.arange(int(duration * SAMPLE_RATE)) / SAMPLE_RATE
    envelope = np.exp(-LN_1000 * time / t60_seconds)
    return envelope if rng is None else envelope * rng.standard_normal(time.shape)


# ---------------------------------------------------------------------------------------------------
# Separation
# ---------------------------------------------------------------------------------------------------
def test_si_sdr_matches_fast_bss_eval() -> None:
    fast_bss_eval = pytest.importorskip("fast_bss_eval")
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((6, 16000)) + 0.3
    noise_scale = np.array([0.01, 0.1, 0.5, 1.0, 3.0, 10.0])[:, None]
    estimate = 0.7 * reference + noise_scale * rng.standard_normal((6, 16000)) - 0.2
    expected = fast_bss_eval.si_sdr(reference[:, None, :], estimate[:, None, :], zero_mean=True)[:, 0]
    actual = si_sdr(estimate, reference)
    assert actual.shape == (6,)
    np.testing.assert_allclose(actual, expected, atol=1e-4)


def test_si_sdr_hand_cases() -> None:
    rng = np.random.default_rng(1)
    reference = rng.standard_normal(16000)
    reference -= reference.mean()
    assert si_sdr(2.0 * reference, reference) > 100.0  # perfect up to scale: eps-limited, finite
    assert si_sdr(-reference, reference) > 100.0
    for snr_db in (-5.0, 0.0, 10.0, 25.0):
        estimate = reference + _orthogonal_noise(reference, snr_db, rng)
        assert si_sdr(estimate, reference) == pytest.approx(snr_db, abs=1e-6)
        # Scale and offset invariant (zero-mean first).
        assert si_sdr(0.3 * estimate + 2.0, reference - 1.0) == pytest.approx(snr_db, abs=1e-6)
    orthogonal = _orthogonal_noise(reference, 0.0, rng)
    assert si_sdr(orthogonal, reference) < -100.0
    assert isinstance(si_sdr(reference, reference), float)


def test_si_sdr_improvement_and_shape_check() -> None:
    rng = np.random.default_rng(2)
    reference = rng.standard_normal(16000)
    reference -= reference.mean()
    mixture = reference + _orthogonal_noise(reference, 0.0, rng)
    estimate = reference + _orthogonal_noise(reference, 12.0, rng)
    assert si_sdr_improvement(estimate, mixture, reference) == pytest.approx(12.0, abs=1e-6)
    with pytest.raises(ValueError, match="shape"):
        si_sdr(estimate[:100], reference)


def test_stft_distance_of_zero_estimate_is_0_72() -> None:
    rng = np.random.default_rng(3)
    target = np.abs(rng.standard_normal((512, 32)))
    target *= 1.2 / np.sqrt(np.mean(target**2))  # RMS 1.2, as the GT mono magnitude
    phase = rng.uniform(-np.pi, np.pi, target.shape)
    assert stft_distance(np.zeros_like(target), target, phase) == pytest.approx(0.72, rel=1e-9)
    assert stft_distance(target, target, phase) == 0.0
    predicted = target + rng.standard_normal(target.shape)
    assert stft_distance(predicted, target, phase) == pytest.approx(0.5 * np.mean((predicted - target) ** 2), rel=1e-9)
    batch = stft_distance(np.stack([predicted, 0 * target]), np.stack([target, target]), np.stack([phase, phase]))
    assert batch.shape == (2,) and batch[1] == pytest.approx(0.72)


def test_separation_metrics_of_one_step() -> None:
    params = StftParams()
    rng = np.random.default_rng(4)
    target_wave = rng.standard_normal(16000).astype(np.float32)
    distractor_wave = rng.standard_normal(16000).astype(np.float32)
    target = stft(target_wave, params)
    mixture = stft((target_wave + distractor_wave) / 2, params)
    gt_magnitude, gt_phase = np.abs(target), np.angle(target)
    mixture_magnitude = np.abs(mixture)
    predicted = gt_magnitude + 0.1 * np.abs(rng.standard_normal(gt_magnitude.shape)).astype(np.float32)

    metrics = separation_metrics(predicted, gt_magnitude, gt_phase, mixture_magnitude, params)
    assert set(metrics) == {"si_sdr", "si_sdr_improvement", "stft_distance", "input_si_sdr", "input_stft_distance"}
    gt_wave = reconstruct_waveform(gt_magnitude, gt_phase, params)
    assert metrics["si_sdr"] == pytest.approx(si_sdr(reconstruct_waveform(predicted, gt_phase, params), gt_wave))
    assert metrics["input_si_sdr"] == pytest.approx(
        si_sdr(reconstruct_waveform(mixture_magnitude, gt_phase, params), gt_wave)
    )
    assert metrics["si_sdr_improvement"] == pytest.approx(metrics["si_sdr"] - metrics["input_si_sdr"])
    assert metrics["si_sdr"] > metrics["input_si_sdr"]
    assert metrics["stft_distance"] == pytest.approx(stft_distance(predicted, gt_magnitude, gt_phase))
    assert metrics["input_stft_distance"] == pytest.approx(stft_distance(mixture_magnitude, gt_magnitude, gt_phase))
    perfect = separation_metrics(gt_magnitude, gt_magnitude, gt_phase, mixture_magnitude, params)
    assert perfect["stft_distance"] == 0.0 and perfect["si_sdr"] > 60.0

    quirk = separation_metrics(predicted, gt_magnitude, gt_phase, mixture_magnitude, params, quirk_n_fft_1022=True)
    assert quirk["stft_distance"] == metrics["stft_distance"]
    assert quirk["si_sdr"] != pytest.approx(metrics["si_sdr"], abs=1e-3)

    batch = separation_metrics(
        np.stack([predicted, gt_magnitude]),
        np.stack([gt_magnitude] * 2),
        np.stack([gt_phase] * 2),
        np.stack([mixture_magnitude] * 2),
        params,
    )
    assert batch["si_sdr"].shape == (2,)
    assert batch["si_sdr"][0] == pytest.approx(metrics["si_sdr"], abs=1e-4)


# ---------------------------------------------------------------------------------------------------
# Room acoustics
# ---------------------------------------------------------------------------------------------------
def test_schroeder_decay_curve() -> None:
    decay = schroeder_decay_db(_exponential_ir(0.5, 0.75))
    assert decay[0] == 0.0
    assert np.all(np.diff(decay) <= 0)
    # Energy decays 60 dB per T60: -12 dB at T60 / 5 (the truncated tail is ~-90 dB, negligible).
    assert decay[int(0.1 * SAMPLE_RATE)] == pytest.approx(-12.0, abs=0.01)
    assert np.all(np.isnan(schroeder_decay_db(np.zeros(100))))
    assert schroeder_decay_db(np.ones((3, 2, 50))).shape == (3, 2, 50)


@pytest.mark.parametrize("true_t60", [0.3, 0.6, 1.2])
def test_t60_and_edt_of_noise_with_exponential_decay(true_t60: float) -> None:
    rng = np.random.default_rng(int(true_t60 * 10))
    ir = _exponential_ir(true_t60, 1.5 * true_t60, rng)
    assert t60(ir, SAMPLE_RATE) == pytest.approx(true_t60, rel=0.03)
    assert edt(ir, SAMPLE_RATE) == pytest.approx(true_t60, rel=0.05)


def test_t60_and_edt_of_pure_exponential_are_exact_to_a_sample() -> None:
    ir = _exponential_ir(0.5, 0.75)
    assert t60(ir, SAMPLE_RATE) == pytest.approx(0.5, abs=2 * 2 / SAMPLE_RATE)
    assert edt(ir, SAMPLE_RATE) == pytest.approx(0.5, abs=6 * 2 / SAMPLE_RATE)
    batch = t60(np.stack([ir, _exponential_ir(0.25, 0.75)]), SAMPLE_RATE)
    np.testing.assert_allclose(batch, [0.5, 0.25], atol=1e-3)


def test_c50_of_exponential_energy_decay_is_analytic() -> None:
    true_t60, duration = 0.4, 1.0
    ir = _exponential_ir(true_t60, duration)
    decay_rate = 2 * LN_1000 / true_t60  # energy e^{-k t}
    # Energy before / after 50 ms of e^{-k t} on [0, duration): the discrete sums have the same ratio.
    early = 1 - np.exp(-decay_rate * 0.05)
    late = np.exp(-decay_rate * 0.05) - np.exp(-decay_rate * duration)
    assert c50(ir, SAMPLE_RATE) == pytest.approx(10 * np.log10(early / late), abs=1e-6)
    # A noise carrier gives the same clarity up to its fluctuation.
    noisy = _exponential_ir(true_t60, duration, np.random.default_rng(5))
    infinite_tail = 10 * np.log10(np.exp(decay_rate * 0.05) - 1)
    assert c50(noisy, SAMPLE_RATE) == pytest.approx(infinite_tail, abs=0.5)


def test_decay_never_reaching_minus_35_db_fails() -> None:
    # A flat 1000-sample burst: its last sample still holds 1/1000 of the energy (-30 dB).
    flat = np.ones(1000)
    assert np.isnan(t60(flat, SAMPLE_RATE))
    gt = _exponential_ir(0.5, 0.75)
    assert t60_error_percent(flat, gt, SAMPLE_RATE) == (100.0, True)
    # Two ears, one failed: (0 % + 100 %) / 2. A time-reversed decay keeps its loudest sample last.
    reversed_decay = gt[::-1]
    assert np.isnan(t60(reversed_decay, SAMPLE_RATE))
    error, failed = t60_error_percent(np.stack([gt, reversed_decay]), np.stack([gt, gt]), SAMPLE_RATE)
    assert (error, failed) == (50.0, True)


def test_t60_error_percent() -> None:
    gt = np.stack([_exponential_ir(0.5, 0.9), _exponential_ir(0.4, 0.9)])  # (ears, samples)
    assert t60_error_percent(gt, gt, SAMPLE_RATE) == (0.0, False)
    pred = np.stack([_exponential_ir(0.55, 0.9), _exponential_ir(0.38, 0.9)])
    error, failed = t60_error_percent(pred, gt, SAMPLE_RATE)
    assert error == pytest.approx((10.0 + 5.0) / 2, abs=0.2) and failed is False
    # Batch of items (items, ears, samples); the prediction may have another length than the GT.
    errors, failures = t60_error_percent(np.stack([pred[:, :12000], gt[:, :12000]]), np.stack([gt, gt]), SAMPLE_RATE)
    assert errors.shape == failures.shape == (2,)
    assert errors[1] == pytest.approx(0.0, abs=0.1) and not failures.any()
    # A ground truth without a T60 cannot be scored: NaN, not a failure.
    error, failed = t60_error_percent(gt[0], np.ones(1000), SAMPLE_RATE)
    assert np.isnan(error) and failed is False
    with pytest.raises(ValueError, match="channels"):
        t60_error_percent(gt, gt[:1], SAMPLE_RATE)


def test_c50_and_edt_errors_average_over_ears() -> None:
    gt = np.stack([_exponential_ir(0.5, 0.9), _exponential_ir(0.4, 0.9)])
    pred = np.stack([_exponential_ir(0.6, 0.9), _exponential_ir(0.4, 0.9)])
    expected_c50 = abs(c50(pred[0], SAMPLE_RATE) - c50(gt[0], SAMPLE_RATE)) / 2
    assert c50_error_db(pred, gt, SAMPLE_RATE) == pytest.approx(expected_c50)
    assert edt_error_seconds(pred, gt, SAMPLE_RATE) == pytest.approx(0.1 / 2, abs=1e-3)


def test_spectral_error() -> None:
    rng = np.random.default_rng(6)
    gt = rng.standard_normal((2, 256, 40))
    assert spectral_error(gt + 0.25, gt) == pytest.approx(0.25)
    assert spectral_error(gt, gt) == 0.0
    with pytest.raises(ValueError, match="shape"):
        spectral_error(gt[:, :, :39], gt)
