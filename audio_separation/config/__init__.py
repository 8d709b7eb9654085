"""Configuration: yacs defaults plus get_config (experiment yaml + KEY VALUE overrides)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from yacs.config import CfgNode

from audio_separation.config.default import get_default_config


class ConfigError(ValueError):
    """A config file or override names an unknown key or gives an ill-typed value."""


def get_config(
    exp_config: str | None = None,
    opts: Sequence[str] | None = None,
    model_dir: str | None = None,
    run_type: str | None = None,
) -> CfgNode:
    """Defaults <- exp_config yaml <- opts (flat KEY VALUE list) <- model_dir / run_type.

    Raises ConfigError naming the offending key for unknown keys and type mismatches.
    """
    config = get_default_config()
    if exp_config:
        if not os.path.isfile(exp_config):
            raise ConfigError(f"config file not found: {exp_config}")
        try:
            config.merge_from_file(exp_config)
        except (KeyError, ValueError, AssertionError) as error:
            raise ConfigError(f"{exp_config}: {error}") from None
    if opts:
        if len(opts) % 2:
            raise ConfigError(f"overrides must be KEY VALUE pairs, got an odd count: {list(opts)}")
        try:
            config.merge_from_list(list(opts))
        except (KeyError, ValueError, AssertionError) as error:
            raise ConfigError(f"override: {error}") from None
    if model_dir is not None:
        config.MODEL_DIR = model_dir
    if run_type is not None:
        config.RUN_TYPE = run_type
    _check(config)
    config.freeze()
    return config


def _check(config: CfgNode) -> None:
    """Cross-key consistency that yacs' per-key type check cannot see."""
    audio = config.AUDIO
    # the fast option runs a 1024-point STFT and drops the Nyquist bin, keeping n_fft // 2 bins
    expected_bins = 1024 // 2 if audio.FAST_STFT else audio.N_FFT // 2 + 1
    if expected_bins != audio.NUM_FREQ_BINS:
        raise ConfigError(
            f"AUDIO.NUM_FREQ_BINS={audio.NUM_FREQ_BINS} does not match AUDIO.N_FFT={audio.N_FFT} "
            f"(FAST_STFT={audio.FAST_STFT}; expected {expected_bins})"
        )
    step_samples = audio.SAMPLE_RATE * audio.STEP_SECONDS
    if audio.CENTER and 1 + step_samples // audio.HOP_LENGTH != audio.NUM_FRAMES:
        raise ConfigError(
            f"AUDIO.NUM_FRAMES={audio.NUM_FRAMES} does not match {step_samples} samples with hop "
            f"{audio.HOP_LENGTH} (expected {1 + step_samples // audio.HOP_LENGTH})"
        )
    if config.TASK.NUM_SOUNDS_IN_MIX < 2:
        raise ConfigError(
            f"TASK.NUM_SOUNDS_IN_MIX must be >= 2 (target + distractor), got {config.TASK.NUM_SOUNDS_IN_MIX}"
        )
    if config.RUN_TYPE not in ("train", "eval"):
        raise ConfigError(f"RUN_TYPE must be 'train' or 'eval', got {config.RUN_TYPE!r}")


__all__ = ["get_config", "get_default_config", "ConfigError"]
