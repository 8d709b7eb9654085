"""The energy-decay-curve loss of the frame model (naf/batches.py): known values, gradients, guards."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from audio_separation.config import get_config
from audio_separation.naf.batches import (
    SceneTensors,
    decay_curve_db,
    decay_curve_loss,
    energy_envelope_db,
    frame_energy,
    frame_loss,
)
from audio_separation.naf.trainer import NafTrainer, model_for_scene
from tests.naf.conftest import naf_opts

EPS = 1e-3


def _exponential_logmag(frames: int, bins: int, db_per_frame: float) -> torch.Tensor:
    """(1, frames, 2 ears, bins) log(|X| + EPS) whose frame energy falls db_per_frame each frame."""
    energy = 10.0 ** (-db_per_frame * torch.arange(frames, dtype=torch.float64) / 10.0)  # per frame, summed over bins
    magnitude = torch.sqrt(energy / bins)[None, :, None, None].expand(1, frames, 2, bins)
    return torch.log(magnitude + EPS)


def test_decay_curve_of_an_exponential_decay_is_known() -> None:
    frames, rate = 40, 1.5  # dB per frame
    curve = decay_curve_db(_exponential_logmag(frames, 8, rate), EPS, floor_db=-1000.0)[0, :, 0]
    ratio = 10.0 ** (-rate / 10.0)
    t = np.arange(frames)
    expected = 10.0 * np.log10((ratio**t - ratio**frames) / (1.0 - ratio**frames))  # finite geometric tail
    np.testing.assert_allclose(curve.numpy(), expected, atol=1e-6)
    assert curve[0] == 0.0
    clamped = decay_curve_db(_exponential_logmag(frames, 8, rate), EPS, floor_db=-20.0)[0, :, 0]
    assert float(clamped.min()) == -20.0 and torch.equal(clamped[:10], curve[:10])


def test_energy_envelope_of_an_exponential_decay_is_known() -> None:
    logmag = _exponential_logmag(30, 8, 2.0)
    energy = frame_energy(logmag, EPS)
    np.testing.assert_allclose(energy[0, :, 0].numpy(), 10.0 ** (-0.2 * np.arange(30)), rtol=1e-9)
    reference = energy.amax(dim=1, keepdim=True)
    envelope = energy_envelope_db(logmag, EPS, reference, floor_db=-40.0)[0, :, 1].numpy()
    np.testing.assert_allclose(envelope, np.maximum(-2.0 * np.arange(30), -40.0), atol=1e-9)
    # 3 dB too quiet everywhere: the envelope loss sees (0.3)^2 above the floor; the Schroeder curve
    # (normalised to its own total) sees nothing
    quieter = torch.log((torch.exp(logmag) - EPS) * 10.0 ** (-3.0 / 20.0) + EPS)
    value = decay_curve_loss(quieter, logmag, EPS, floor_db=-40.0, curve="energy")
    above = np.sum(-2.0 * np.arange(30) > -40.0 + 3.0)  # frames where neither curve is clamped
    assert float(value) > 0.09 * above / 30 - 1e-9 and float(value) <= 0.09 + 1e-9
    assert float(decay_curve_loss(quieter, logmag, EPS, floor_db=-40.0, curve="schroeder")) < 1e-12
    with pytest.raises(ValueError, match="decay curve"):
        decay_curve_loss(quieter, logmag, EPS, curve="edc")


def test_mask_drops_frames_from_the_curve() -> None:
    logmag = _exponential_logmag(20, 4, 2.0)
    mask = torch.zeros(1, 20, dtype=torch.bool)
    mask[:, :10] = True
    curve = decay_curve_db(logmag, EPS, mask, floor_db=-1000.0)[0, :, 1]
    full = decay_curve_db(logmag[:, :10], EPS, floor_db=-1000.0)[0, :, 1]
    np.testing.assert_allclose(curve[:9].numpy(), full[:9].numpy(), atol=1e-9)


@pytest.mark.parametrize("curve", ["schroeder", "energy"])
def test_loss_value_of_a_slower_decay_and_its_gradient_lowers_it(curve) -> None:
    frames = 60
    target = _exponential_logmag(frames, 16, 1.0)
    assert float(decay_curve_loss(target, target, EPS, floor_db=-60.0, curve=curve)) == 0.0
    # a slower decay (0.8 instead of 1 dB per frame, same first frame): its curve lies 0.2 dB per frame
    # above the target's (exactly for "energy"; up to the finite-tail terms, tiny early on, for "schroeder")
    slower = _exponential_logmag(frames, 16, 0.8)
    value = float(decay_curve_loss(slower, target, EPS, floor_db=-60.0, curve=curve))
    if curve == "energy":
        expected = float(np.mean((0.02 * np.arange(frames)) ** 2))
    else:
        predicted_curve = decay_curve_db(slower, EPS, floor_db=-60.0)[0, :, 0].numpy()
        target_curve = decay_curve_db(target, EPS, floor_db=-60.0)[0, :, 0].numpy()
        np.testing.assert_allclose(predicted_curve[:30] - target_curve[:30], 0.2 * np.arange(30), atol=0.05)
        expected = float(np.mean(((predicted_curve - target_curve) / 10.0) ** 2))
    assert math.isclose(value, expected, rel_tol=1e-9) and expected > 0.05

    prediction = slower.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([prediction], lr=0.02)
    for _ in range(50):
        loss = decay_curve_loss(prediction, target, EPS, floor_db=-60.0, curve=curve)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(decay_curve_loss(prediction.detach(), target, EPS, floor_db=-60.0, curve=curve)) < 0.5 * value
    # the fix makes the late frames quieter relative to the early ones (a faster decay)
    change = (prediction - slower).detach()[0, :, 0].mean(dim=-1)
    assert float(change[40:].mean()) < float(change[:5].mean())


def _frame_setup(naf_config, naf_scene, count: int):
    """A freshly seeded frame model of the tiny scene, its tensors, and its first `count` train items."""
    config = get_config(opts=naf_opts(naf_config.WORLD.DATA_ROOT, naf_config.NAF.DATA_DIR))
    torch.manual_seed(0)
    return (
        model_for_scene(config, naf_scene),
        SceneTensors.from_data(naf_scene, config.NAF.STD_SCALE),
        torch.from_numpy(naf_scene.train_indices[:count]),
    )


def test_frame_loss_with_decay_term_trains_and_guards(naf_config, naf_scene) -> None:
    model, tensors, items = _frame_setup(naf_config, naf_scene, 16)
    # de-normalising the targets gives back the stored log-magnitudes
    item = int(items[0])
    np.testing.assert_allclose(
        (tensors.target[item] * tensors.scale + tensors.mean).permute(1, 2, 0).numpy(),
        naf_scene.logmag[item],
        atol=1e-4,
    )

    def losses(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        plain = frame_loss(model, tensors, items, 0, 0.0, 0.0, torch.Generator().manual_seed(seed))[0]
        total = frame_loss(model, tensors, items, 0, 0.0, 0.0, torch.Generator().manual_seed(seed), decay_weight=1.0)[0]
        return plain, total

    with torch.no_grad():
        plain, total = losses(123)
    assert float(total) > float(plain)  # the decay term is positive on an untrained model
    before = float(total - plain)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(25):
        loss = losses(step)[1]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        plain, total = losses(123)
    assert float(total - plain) < 0.8 * before

    with pytest.raises(ValueError, match="FRAMES_PER_RIR"):
        frame_loss(model, tensors, items, 4, 0.0, 0.0, torch.Generator().manual_seed(0), decay_weight=1.0)


def test_pixel_model_refuses_the_decay_term(naf_config, naf_scene, tmp_path) -> None:
    root, data_dir = naf_config.WORLD.DATA_ROOT, naf_config.NAF.DATA_DIR
    config = get_config(
        opts=naf_opts(root, data_dir, "NAF.MODEL", "pixel", "NAF.DECAY_LOSS_WEIGHT", "1.0"),
        model_dir=str(tmp_path / "pixel"),
    )
    with pytest.raises(ValueError, match="DECAY_LOSS_WEIGHT"):
        NafTrainer.from_config(config).train()


def test_edc_term_adds_the_clamped_schroeder_loss_and_guards(naf_config, naf_scene) -> None:
    model, tensors, items = _frame_setup(naf_config, naf_scene, 8)
    with torch.no_grad():
        plain = frame_loss(model, tensors, items, 0, 0.0, 0.0, torch.Generator().manual_seed(5))[0]
        energy = frame_loss(model, tensors, items, 0, 0.0, 0.0, torch.Generator().manual_seed(5), decay_weight=1.0)[0]
        both = frame_loss(
            model,
            tensors,
            items,
            0,
            0.0,
            0.0,
            torch.Generator().manual_seed(5),
            decay_weight=1.0,
            edc_weight=2.0,
            edc_floor_db=-40.0,
        )[0]
        # the EDC term alone, rebuilt by hand from the de-normalised prediction and target
        frames = torch.arange(tensors.target.shape[1])[None].expand(items.shape[0], -1)
        mask = frames < tensors.lengths[items][:, None]
        prediction = model(tensors.listener_xy[items], tensors.emitter_xy[items], tensors.heading[items], frames)
        target = tensors.target[items[:, None], frames]
        expected = decay_curve_loss(
            prediction * tensors.scale + tensors.mean,
            target * tensors.scale + tensors.mean,
            tensors.log_eps,
            mask,
            -40.0,
            "schroeder",
        )
    assert float(expected) > 0.0
    assert math.isclose(float(both - energy), 2.0 * float(expected), rel_tol=1e-4)
    assert float(energy) > float(plain)
    with pytest.raises(ValueError, match="EDC_LOSS_WEIGHT"):
        frame_loss(model, tensors, items, 4, 0.0, 0.0, torch.Generator().manual_seed(0), edc_weight=1.0)


def test_edc_floor_ignores_the_tail_below_it() -> None:
    # two decays equal down to -40 dB on the Schroeder curve, then one falls off faster: with a -40 dB
    # floor the EDC loss sees (almost) nothing, with a -60 dB floor it sees the difference
    target = _exponential_logmag(80, 8, 1.0)
    faster_tail = target.clone()
    magnitude = torch.exp(faster_tail[:, 50:]) - EPS
    faster_tail[:, 50:] = torch.log(magnitude * 10.0 ** (-10.0 / 20.0) + EPS)
    shallow = float(decay_curve_loss(faster_tail, target, EPS, floor_db=-40.0, curve="schroeder"))
    deep = float(decay_curve_loss(faster_tail, target, EPS, floor_db=-60.0, curve="schroeder"))
    assert deep > 10 * shallow and deep > 1e-3


def test_pixel_model_refuses_the_edc_term(naf_config, tmp_path) -> None:
    root, data_dir = naf_config.WORLD.DATA_ROOT, naf_config.NAF.DATA_DIR
    config = get_config(
        opts=naf_opts(root, data_dir, "NAF.MODEL", "pixel", "NAF.EDC_LOSS_WEIGHT", "1.0"),
        model_dir=str(tmp_path / "pixel"),
    )
    with pytest.raises(ValueError, match="EDC_LOSS_WEIGHT"):
        NafTrainer.from_config(config).train()


def test_random_phase_waveform_matches_the_eval_renderer_and_its_curve_loss_trains(naf_scene) -> None:
    from audio_separation.audio import metrics
    from audio_separation.naf.batches import random_phase_waveform, waveform_decay_curve_loss
    from audio_separation.naf.phase import shared_random_phase, waveform_of_logmag

    params = naf_scene.params.stft_params
    logmag = naf_scene.item_logmag(naf_scene.train_indices[0])  # (ears, F, T)
    expected = waveform_of_logmag(logmag, params, naf_scene.params.log_eps, "random", 3)
    phase = torch.from_numpy(shared_random_phase((logmag.shape[0], logmag.shape[1] + 1, logmag.shape[2]), 3))[None]
    batch = torch.from_numpy(np.asarray(logmag, dtype=np.float64)).permute(2, 0, 1)[None]  # (1, T, ears, F)
    rebuilt = random_phase_waveform(batch, naf_scene.params.log_eps, phase, params)[0].numpy()
    np.testing.assert_allclose(rebuilt, expected, atol=1e-8 * np.abs(expected).max())

    # a prediction with a slower decay: the waveform-curve loss is positive, zero against itself, and
    # gradient steps on it bring the prediction's T60 (as the eval measures it) towards the target's
    frames = batch.shape[1]
    slower = batch + torch.linspace(0.0, 1.5, frames, dtype=batch.dtype)[None, :, None, None]
    mask = torch.ones(1, frames, dtype=torch.bool)
    assert float(waveform_decay_curve_loss(batch, batch, naf_scene.params.log_eps, mask, phase, params)) == 0.0
    before = float(waveform_decay_curve_loss(slower, batch, naf_scene.params.log_eps, mask, phase, params))
    assert before > 1e-3
    prediction = slower.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([prediction], lr=0.02)
    for _ in range(40):
        loss = waveform_decay_curve_loss(prediction, batch, naf_scene.params.log_eps, mask, phase, params)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(loss.detach()) < 0.3 * before
    rate = naf_scene.params.sample_rate

    def t60_error(candidate: torch.Tensor) -> float:
        wave = waveform_of_logmag(
            candidate[0].permute(1, 2, 0).detach().numpy(), params, naf_scene.params.log_eps, "random", 3
        )
        return float(metrics.t60_error_percent(wave, expected, rate)[0])

    assert t60_error(prediction) < 0.5 * t60_error(slower)


def test_frame_loss_waveform_domain_adds_a_term_and_guards(naf_config, naf_scene) -> None:
    model, tensors, items = _frame_setup(naf_config, naf_scene, 4)
    params = naf_scene.params.stft_params
    with torch.no_grad():
        plain = frame_loss(model, tensors, items, 0, 0.0, 0.0, torch.Generator().manual_seed(1))[0]
        wave = frame_loss(
            model,
            tensors,
            items,
            0,
            0.0,
            0.0,
            torch.Generator().manual_seed(1),
            edc_weight=1.0,
            edc_domain="waveform",
            stft_params=params,
        )[0]
    assert float(wave) > float(plain)
    with pytest.raises(ValueError, match="stft_params"):
        frame_loss(
            model, tensors, items, 0, 0.0, 0.0, torch.Generator().manual_seed(1), edc_weight=1.0, edc_domain="waveform"
        )
    with pytest.raises(ValueError, match="EDC loss domain"):
        frame_loss(
            model, tensors, items, 0, 0.0, 0.0, torch.Generator().manual_seed(1), edc_weight=1.0, edc_domain="sample"
        )


def test_trainer_runs_with_the_waveform_edc_term(naf_config, tmp_path) -> None:
    root, data_dir = naf_config.WORLD.DATA_ROOT, naf_config.NAF.DATA_DIR
    opts = naf_opts(
        root,
        data_dir,
        "NAF.DECAY_LOSS_WEIGHT",
        "1.0",
        "NAF.EDC_LOSS_WEIGHT",
        "1.0",
        "NAF.EDC_LOSS_DOMAIN",
        "waveform",
        "NUM_EPOCHS",
        "1",
    )
    trainer = NafTrainer.from_config(get_config(opts=opts, model_dir=str(tmp_path / "edc")))
    trainer.train()
    assert trainer.final_counters["epoch"] == 1 and trainer.final_counters["step"] > 0
