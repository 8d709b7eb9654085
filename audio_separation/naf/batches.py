"""Training tensors of a scene and the random batches both NAF models train on (paper recipe)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from audio_separation.naf.data import NafSceneData


@dataclass
class SceneTensors:
    """Normalised targets (N, max_len, 2, F), positions, headings and lengths as torch tensors."""

    target: torch.Tensor
    listener_xy: torch.Tensor
    emitter_xy: torch.Tensor
    heading: torch.Tensor
    lengths: torch.Tensor
    mean: torch.Tensor  # (max_len, 1, F): logmag = target * scale + mean (broadcasts over ears)
    scale: torch.Tensor  # (max_len, 1, F): STD_SCALE x std
    log_eps: float  # feature = log(|X| + log_eps)

    @classmethod
    def from_data(cls, data: NafSceneData, std_scale: float, device: torch.device | str = "cpu") -> SceneTensors:
        normalised = (data.logmag - data.mean) / (std_scale * data.std)  # (N, 2, F, T)

        def per_frame(stat: np.ndarray) -> torch.Tensor:  # (F, T) -> (T, 1, F)
            return torch.from_numpy(np.ascontiguousarray(stat.T[:, None, :])).float().to(device)

        return cls(
            target=torch.from_numpy(np.ascontiguousarray(normalised.transpose(0, 3, 1, 2))).float().to(device),
            listener_xy=torch.from_numpy(data.listener_xy).float().to(device),
            emitter_xy=torch.from_numpy(data.emitter_xy).float().to(device),
            heading=torch.from_numpy(data.heading_index).long().to(device),
            lengths=torch.from_numpy(data.lengths).long().to(device),
            mean=per_frame(data.mean),
            scale=per_frame(std_scale * data.std),
            log_eps=float(data.params.log_eps),
        )


def denormalise(prediction: np.ndarray, data: NafSceneData, std_scale: float) -> np.ndarray:
    """Normalised (..., F, T) -> log-magnitudes with the scene's mean/std (T <= max_len)."""
    frames = prediction.shape[-1]
    return prediction * (std_scale * data.std[:, :frames]) + data.mean[:, :frames]


def _frame_limits(
    tensors: SceneTensors, items: torch.Tensor, pad_fraction: float, generator: torch.Generator
) -> torch.Tensor:
    """Per item, frames may be drawn below its own length, or below max_len for a pad_fraction share."""
    max_len = tensors.target.shape[1]
    padded = torch.rand(items.shape[0], generator=generator) < pad_fraction
    return torch.where(
        padded.to(items.device), torch.full_like(tensors.lengths[items], max_len), tensors.lengths[items]
    )


def jittered_positions(
    tensors: SceneTensors, items: torch.Tensor, jitter: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    noise = torch.randn(2, items.shape[0], 2, generator=generator).to(tensors.listener_xy.device) * jitter
    return tensors.listener_xy[items] + noise[0], tensors.emitter_xy[items] + noise[1]


def pixel_loss(
    model,
    tensors: SceneTensors,
    items: torch.Tensor,
    pixels: int,
    jitter: float,
    pad_fraction: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, int]:
    """MSE of the pixel model at `pixels` random (t, f) per item, both ears; returns (loss, queries)."""
    limits = _frame_limits(tensors, items, pad_fraction, generator)
    frames = (torch.rand(items.shape[0], pixels, generator=generator).to(limits.device) * limits[:, None]).long()
    bins = torch.randint(0, tensors.target.shape[-1], (items.shape[0], pixels), generator=generator).to(limits.device)
    listener, emitter = jittered_positions(tensors, items, jitter, generator)
    prediction = model(listener, emitter, tensors.heading[items], frames, bins)  # (B, P, 2)
    target = tensors.target[items[:, None], frames, :, bins]  # (B, P, 2)
    return F.mse_loss(prediction, target), int(prediction.numel())


DECAY_CURVES = ("energy", "schroeder")


def frame_energy(logmag: torch.Tensor, log_eps: float, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Energy per frame and ear of (B, T, ears, F) log-magnitudes: (B, T, ears).

    Sum over bins of (exp(logmag) - log_eps)^2, the magnitude the waveform is rebuilt from (see
    phase.magnitude_of_logmag); mask (B, T) zeroes frames.
    """
    magnitude = (torch.exp(logmag) - log_eps).clamp_min(0.0)
    energy = (magnitude**2).sum(dim=-1)
    return energy if mask is None else energy * mask[..., None].to(energy.dtype)


def decay_curve_db(
    logmag: torch.Tensor, log_eps: float, mask: torch.Tensor | None = None, floor_db: float = -60.0
) -> torch.Tensor:
    """Frame-rate Schroeder energy decay curve of (B, T, ears, F) log-magnitudes: (B, T, ears) in dB.

    Backward-integrated frame_energy, 0 dB at the first frame, clamped below at floor_db.
    """
    energy = frame_energy(logmag, log_eps, mask)
    remaining = torch.flip(torch.cumsum(torch.flip(energy, dims=[1]), dim=1), dims=[1])
    tiny = torch.finfo(remaining.dtype).tiny
    decay = 10.0 * (torch.log10(remaining.clamp_min(tiny)) - torch.log10(remaining[:, :1].clamp_min(tiny)))
    return decay.clamp_min(floor_db)


def energy_envelope_db(
    logmag: torch.Tensor,
    log_eps: float,
    reference: torch.Tensor,
    mask: torch.Tensor | None = None,
    floor_db: float = -60.0,
) -> torch.Tensor:
    """frame_energy in dB relative to reference (B, 1, ears), clamped below at floor_db: (B, T, ears)."""
    energy = frame_energy(logmag, log_eps, mask)
    tiny = torch.finfo(energy.dtype).tiny
    return (10.0 * (torch.log10(energy.clamp_min(tiny)) - torch.log10(reference.clamp_min(tiny)))).clamp_min(floor_db)


def decay_curve_loss(
    pred_logmag: torch.Tensor,
    target_logmag: torch.Tensor,
    log_eps: float,
    mask: torch.Tensor | None = None,
    floor_db: float = -60.0,
    curve: str = "energy",
) -> torch.Tensor:
    """Mean squared difference, in units of 10 dB, of the decay curves of (B, T, ears, F) log-magnitudes.

    curve "schroeder": decay_curve_db (scale-free: only the shape of the decay counts);
    curve "energy": energy_envelope_db, both relative to the target's loudest frame (the absolute
    per-frame energy counts, which pins the level as well as the decay).
    Why: MSE on log-magnitudes regresses to E[log |X|], whose energy exp(2 E[log |X|]) falls short of
    E[|X|^2] by ~8.7 sigma^2 dB (sigma = the residual std). The residual shrinks along the decay, so
    early frames come out too quiet relative to the tail and the rebuilt decay is too slow (T60 too
    long). This term scores the frame energies that T60, EDT and C50 read.
    """
    if curve == "schroeder":
        predicted, target = (
            decay_curve_db(pred_logmag, log_eps, mask, floor_db),
            decay_curve_db(target_logmag, log_eps, mask, floor_db),
        )
    elif curve == "energy":
        reference = frame_energy(target_logmag, log_eps, mask).amax(dim=1, keepdim=True).detach()
        predicted = energy_envelope_db(pred_logmag, log_eps, reference, mask, floor_db)
        target = energy_envelope_db(target_logmag, log_eps, reference, mask, floor_db)
    else:
        raise ValueError(f"unknown decay curve {curve!r}; choose one of {DECAY_CURVES}")
    difference = predicted - target
    weights = (
        torch.ones_like(difference) if mask is None else mask[..., None].to(difference.dtype).expand_as(difference)
    )
    return ((difference / 10.0) ** 2 * weights).sum() / weights.sum().clamp_min(1.0)


EDC_DOMAINS = ("frames", "waveform")


def random_phase_waveform(logmag: torch.Tensor, log_eps: float, phase: torch.Tensor, stft_params) -> torch.Tensor:
    """(B, T, ears, F) log-magnitudes -> (B, ears, (T - 1) * hop) waveforms rebuilt as the eval renders them
    (phase.waveform_of_logmag "random": zero Nyquist row, the given phase, centred inverse STFT), in torch.

    phase: (B or 1, ears, F + 1, T) radians.
    """
    from audio_separation.audio.stft import istft_torch

    magnitude = (torch.exp(logmag) - log_eps).clamp_min(0.0).permute(0, 2, 3, 1)  # (B, ears, F, T)
    magnitude = torch.cat([magnitude, magnitude.new_zeros(*magnitude.shape[:-2], 1, magnitude.shape[-1])], dim=-2)
    spectrum = torch.polar(magnitude, phase.to(magnitude.dtype).expand_as(magnitude))
    return istft_torch(spectrum, stft_params, length=(magnitude.shape[-1] - 1) * stft_params.hop_length)


def waveform_decay_curve_loss(
    pred_logmag: torch.Tensor,
    target_logmag: torch.Tensor,
    log_eps: float,
    mask: torch.Tensor,
    phase: torch.Tensor,
    stft_params,
    floor_db: float = -40.0,
) -> torch.Tensor:
    """Mean squared difference, in units of 10 dB, of the sample-rate Schroeder curves (clamped at floor_db)
    of the waveforms both (B, T, ears, F) log-magnitudes give with the same phase (random_phase_waveform).

    T60, EDT and C50 are read off exactly this kind of waveform; the frame-rate curves (decay_curve_db)
    miss how the overlap-add of a random-phase spectrogram spreads and mixes neighbouring frames. Frames
    past each item's mask are silenced in both before the inverse STFT; samples past the last kept frame
    centre are left out of the mean.
    """
    keep = mask[:, :, None, None].to(pred_logmag.dtype)
    silence = torch.full_like(pred_logmag, float(np.log(log_eps)))
    pred_logmag, target_logmag = (
        torch.where(keep > 0, pred_logmag, silence),
        torch.where(keep > 0, target_logmag, silence),
    )
    curves = []
    for logmag in (pred_logmag, target_logmag):
        energy = random_phase_waveform(logmag, log_eps, phase, stft_params) ** 2  # (B, ears, S)
        remaining = torch.flip(torch.cumsum(torch.flip(energy, dims=[-1]), dim=-1), dims=[-1])
        tiny = torch.finfo(remaining.dtype).tiny
        curves.append(
            (
                10.0 * (torch.log10(remaining.clamp_min(tiny)) - torch.log10(remaining[..., :1].clamp_min(tiny)))
            ).clamp_min(floor_db)
        )
    samples = torch.arange(curves[0].shape[-1], device=mask.device)
    valid = (
        (samples[None] < ((mask.sum(dim=1) - 1).clamp_min(0) * stft_params.hop_length)[:, None])
        .to(curves[0].dtype)[:, None, :]
        .expand_as(curves[0])
    )
    return ((((curves[0] - curves[1]) / 10.0) ** 2) * valid).sum() / valid.sum().clamp_min(1.0)


def frame_loss(
    model,
    tensors: SceneTensors,
    items: torch.Tensor,
    frames_per_item: int,
    jitter: float,
    pad_fraction: float,
    generator: torch.Generator,
    decay_weight: float = 0.0,
    decay_floor_db: float = -60.0,
    decay_curve: str = "energy",
    edc_weight: float = 0.0,
    edc_floor_db: float = -40.0,
    edc_domain: str = "frames",
    stft_params=None,
) -> tuple[torch.Tensor, int]:
    """MSE of the frame model over all bins and ears of its frames (+ decay_weight x decay_curve_loss on
    the de-normalised log-magnitudes, + edc_weight x the "schroeder" decay_curve_loss clamped at
    edc_floor_db, i.e. the part of the Schroeder curve T60 (-5..-35 dB) and EDT read); returns (loss,
    pixel queries). edc_domain "waveform" takes that Schroeder term on the random-phase waveforms instead
    (waveform_decay_curve_loss; a fresh uniform phase per step from `generator`, shared by prediction and
    target; needs stft_params).

    frames_per_item 0: every frame below max_len, with frames past each item's limit masked out. The
    decay terms need every frame of the item, so they require frames_per_item 0.
    """
    if edc_domain not in EDC_DOMAINS:
        raise ValueError(f"unknown EDC loss domain {edc_domain!r}; choose one of {EDC_DOMAINS}")
    if edc_weight > 0 and edc_domain == "waveform" and stft_params is None:
        raise ValueError("the waveform EDC loss needs the scene's stft_params")
    for name, weight in (("NAF.DECAY_LOSS_WEIGHT", decay_weight), ("NAF.EDC_LOSS_WEIGHT", edc_weight)):
        if weight > 0 and frames_per_item > 0:
            raise ValueError(
                f"the decay-curve loss ({name} {weight}) needs whole RIRs: set NAF.FRAMES_PER_RIR 0, got {frames_per_item}"
            )
    max_len = tensors.target.shape[1]
    limits = _frame_limits(tensors, items, pad_fraction, generator)
    if frames_per_item > 0:
        frames = (
            torch.rand(items.shape[0], frames_per_item, generator=generator).to(limits.device) * limits[:, None]
        ).long()
        mask = torch.ones_like(frames, dtype=torch.bool)
    else:
        frames = torch.arange(max_len, device=limits.device)[None].expand(items.shape[0], -1)
        mask = frames < limits[:, None]
    listener, emitter = jittered_positions(tensors, items, jitter, generator)
    prediction = model(listener, emitter, tensors.heading[items], frames)  # (B, T, 2, F)
    target = tensors.target[items[:, None], frames]  # (B, T, 2, F)
    squared = ((prediction - target) ** 2).mean(dim=(-2, -1))
    weights = mask.float()
    loss = (squared * weights).sum() / weights.sum().clamp_min(1.0)
    if decay_weight > 0 or edc_weight > 0:
        pred_logmag, target_logmag = prediction * tensors.scale + tensors.mean, target * tensors.scale + tensors.mean
        if decay_weight > 0:
            loss = loss + decay_weight * decay_curve_loss(
                pred_logmag, target_logmag, tensors.log_eps, mask, decay_floor_db, decay_curve
            )
        if edc_weight > 0 and edc_domain == "waveform":
            shape = (
                items.shape[0],
                prediction.shape[2],
                prediction.shape[3] + 1,
                prediction.shape[1],
            )  # (B, ears, F + 1, T)
            phase = ((torch.rand(shape, generator=generator) * 2.0 - 1.0) * np.pi).to(prediction.device)
            loss = loss + edc_weight * waveform_decay_curve_loss(
                pred_logmag, target_logmag, tensors.log_eps, mask, phase, stft_params, edc_floor_db
            )
        elif edc_weight > 0:
            loss = loss + edc_weight * decay_curve_loss(
                pred_logmag, target_logmag, tensors.log_eps, mask, edc_floor_db, "schroeder"
            )
    return loss, int(weights.sum().item()) * prediction.shape[-1] * 2
