"""EnvSettings: read once from the config, frozen, picklable, shapes derived from the STFT."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from audio_separation.config import get_config
from audio_separation.env.settings import EnvSettings
from audio_separation.world.soundspaces import HEADINGS


def test_settings_from_the_default_config() -> None:
    config = get_config()
    settings = EnvSettings.from_config(config)
    assert settings.audio.num_freq_bins == 512 and not hasattr(config.AUDIO, "NUM_FREQ_BINS")
    assert settings.audio.num_frames == 32 and "NUM_FRAMES" not in config.AUDIO
    assert settings.audio.step_samples == 16000
    assert settings.world.headings == HEADINGS == (0, 90, 180, 270)
    assert settings.task.sensors == tuple(config.TASK.SENSORS)
    assert settings.num_envs == config.NUM_PROCESSES
    assert pickle.loads(pickle.dumps(settings)) == settings
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.seed = 1


def test_variants_are_derived_not_edited() -> None:
    settings = EnvSettings.from_config(get_config(opts=["TASK.SENSORS", "['GT_MONO', 'RGB']"]))
    evaluation = settings.with_sensors("MIXED_BINAURAL_PHASE", "RGB").replace(shuffle_episodes=False)
    assert evaluation.sensors == ("GT_MONO", "RGB", "MIXED_BINAURAL_PHASE")
    assert settings.sensors == ("GT_MONO", "RGB") and settings.shuffle_episodes and not evaluation.shuffle_episodes
    with pytest.raises(ValueError, match="AUTORESET_MODE"):
        settings.replace(autoreset_mode="sometimes")
