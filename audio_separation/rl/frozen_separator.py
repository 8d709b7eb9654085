"""The frozen passive separators of RL: loaded from a checkpoint of trainer "passive" and checked
against the RL config, then run without gradients on every step's observation.

A missing RL.SEPARATOR_CHECKPOINT, a file that is not a passive checkpoint, or one trained for other
spectrogram shapes, another number of sources or another STFT is a CheckpointError that says which.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import torch
from yacs.config import CfgNode

from audio_separation.audio.settings import AudioSettings
from audio_separation.common.checkpoint import CheckpointError
from audio_separation.models.separators import PassiveSeparator
from audio_separation.pretrain.separator_checkpoint import load_passive_separator

# AUDIO keys that must agree between pretraining and RL (the separator's inputs depend on them)
MATCHING_AUDIO_KEYS = (
    "SAMPLE_RATE",
    "STEP_SECONDS",
    "N_FFT",
    "HOP_LENGTH",
    "WIN_LENGTH",
    "CENTER",
    "PAD_MODE",
    "FAST_STFT",
    "TARGET_MONO_RMS",
    "INT16_ROUNDTRIP",
    "CONVOLUTION_CROP",
)
# what a key absent from an older checkpoint's config meant when it was written
BEFORE_KEY_EXISTED = {"CONVOLUTION_CROP": "same"}


def fingerprint(module: torch.nn.Module) -> str:
    """A short hash of a module's weights (detects a separator file replaced after RL training)."""
    digest = hashlib.sha1()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def load_frozen_separator(
    config: CfgNode, device: torch.device | str = "cpu", path: str | None = None
) -> tuple[PassiveSeparator, dict[str, Any]]:
    """(separator in eval mode without gradients, description {path, settings, fingerprint, epoch})."""
    path = path or str(config.RL.SEPARATOR_CHECKPOINT)
    if not path:
        raise CheckpointError(
            "RL.SEPARATOR_CHECKPOINT is empty: set it to a checkpoint of trainer 'passive' (e.g. <passive model dir>/data/best_ckpt_nonoverlapping_val.pth)"
        )
    if not os.path.isfile(path):
        raise CheckpointError(
            f"RL.SEPARATOR_CHECKPOINT {path} does not exist: pretrain the separators first (python main.py --exp-config configs/quickstart/pretrain_passive.yaml --run-type train --model-dir ...)"
        )
    separator, payload = load_passive_separator(path, device)
    settings = dict(payload["extra"]["separator"])
    wanted = {
        "num_freq_bins": AudioSettings.from_config(config).num_freq_bins,
        "num_frames": AudioSettings.from_config(config).num_frames,
        "num_sources": int(config.TASK.NUM_SOUNDS_IN_MIX),
    }
    differences = [
        f"{key}: checkpoint {settings.get(key)!r}, RL config {value!r}"
        for key, value in wanted.items()
        if settings.get(key) != value
    ]
    saved_config = payload.get("config")
    if isinstance(saved_config, str):
        saved_audio = CfgNode.load_cfg(saved_config).get("AUDIO", {})
        for key in MATCHING_AUDIO_KEYS:
            if key not in config.AUDIO:
                continue
            saved = saved_audio.get(key, BEFORE_KEY_EXISTED.get(key, config.AUDIO[key]))
            if saved != config.AUDIO[key]:
                differences.append(f"AUDIO.{key}: checkpoint {saved!r}, RL config {config.AUDIO[key]!r}")
    if differences:
        raise CheckpointError(f"{path}: the separator does not match the RL config ({'; '.join(differences)})")
    separator.requires_grad_(False)
    separator.eval()
    description = {
        "path": path,
        "settings": settings,
        "fingerprint": fingerprint(separator),
        "epoch": payload.get("counters", {}).get("epoch"),
    }
    return separator, description


@torch.no_grad()
def separate(
    separator: PassiveSeparator, mixed_binaural_magnitude: torch.Tensor, target_class: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, F, T, 2) log1p mixture and (N, 1) classes -> target binaural (N, F, T, 2) and passive mono
    estimate (N, F, T), both linear magnitudes (the estimate clamped at 0)."""
    output = separator(mixed_binaural_magnitude, target_class)
    return output.binaural, output.mono_estimate()
