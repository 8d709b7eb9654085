"""Build the passive separator from the config, and load it back from a checkpoint of trainer "passive".

A checkpoint carries the separator's settings in extra["separator"]; resuming training checks them
against the config (a mismatch is a CheckpointError naming each differing setting), and
load_passive_separator builds the model from the checkpoint's own settings (eval, and the frozen
separator of RL).
"""

from __future__ import annotations

from typing import Any

import torch
from yacs.config import CfgNode

from audio_separation.audio.settings import AudioSettings
from audio_separation.common.checkpoint import CheckpointError, load_checkpoint
from audio_separation.models.separators import PassiveSeparator


def separator_settings(config: CfgNode) -> dict[str, Any]:
    """The constructor arguments of PassiveSeparator the config asks for."""
    return {
        "num_freq_bins": AudioSettings.from_config(config).num_freq_bins,
        "num_frames": AudioSettings.from_config(config).num_frames,
        "width": float(config.MODEL.SEPARATOR_WIDTH),
        "mask_activation": str(config.MODEL.SEPARATOR_MASK_ACTIVATION),
        "num_sources": int(config.TASK.NUM_SOUNDS_IN_MIX),
    }


# the constructor arguments a passive checkpoint's extra["separator"] may hold
SEPARATOR_SETTINGS_KEYS = ("num_freq_bins", "num_frames", "width", "mask_activation", "num_sources")


def build_passive_separator(settings: dict[str, Any], device: torch.device | str = "cpu") -> PassiveSeparator:
    """A fresh separator in channels-last memory (what the CPU convolutions run fastest on)."""
    return PassiveSeparator(**settings).to(device=device, memory_format=torch.channels_last)


def check_settings(path: str, saved: dict[str, Any] | None, wanted: dict[str, Any]) -> None:
    """Raise CheckpointError listing every setting where a checkpoint differs from the config."""
    if not saved:
        raise CheckpointError(f"{path}: not a passive separator checkpoint (no extra['separator'] settings)")
    differences = [
        f"{key}: checkpoint {saved.get(key)!r}, config {value!r}"
        for key, value in wanted.items()
        if saved.get(key) != value
    ]
    if differences:
        raise CheckpointError(
            f"{path}: was trained with other separator settings ({'; '.join(differences)}); use a matching config or another --model-dir"
        )


def load_passive_separator(path: str, device: torch.device | str = "cpu") -> tuple[PassiveSeparator, dict[str, Any]]:
    """(separator in eval mode with the checkpoint's weights, checkpoint payload); built from the
    settings saved in the checkpoint, so no config needs to match."""
    payload = load_checkpoint(path, map_location=device)
    extra = payload.get("extra") or {}
    if "agent_settings" in extra:
        raise CheckpointError(
            f"{path}: is a checkpoint of the RL trainer ('ddppo'/'ppo'), not of trainer 'passive'; give a passive "
            "checkpoint (e.g. <passive model dir>/data/best_ckpt_nonoverlapping_val.pth)"
        )
    settings = extra.get("separator")
    if not isinstance(settings, dict) or set(settings) - set(SEPARATOR_SETTINGS_KEYS):
        raise CheckpointError(
            f"{path}: not a passive separator checkpoint (extra['separator'] is {settings!r:.200}; expected the "
            f"settings {sorted(SEPARATOR_SETTINGS_KEYS)})"
        )
    model = build_passive_separator(dict(settings), device)
    try:
        model.load_state_dict(payload["model"])
    except (RuntimeError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path}: its weights do not fit the separator its settings describe: {error}") from None
    model.eval()
    return model, payload
