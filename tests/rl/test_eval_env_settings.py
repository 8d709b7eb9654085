"""rl_env_settings: evaluation adds the mixture phase only when it writes media (the metrics use the
target's phase), the views always; training adds neither."""

from __future__ import annotations

import pytest

from audio_separation.config import get_config
from audio_separation.rl.environment import rl_env_settings

SENSORS = "['MIXED_BINAURAL_MAGNITUDE', 'GT_MONO', 'TARGET_CLASS', 'POSE']"


@pytest.mark.parametrize("media, with_phase", [(0, False), (3, True), (-1, True)])
def test_evaluation_adds_the_phase_only_for_media(media: int, with_phase: bool) -> None:
    config = get_config(opts=["TASK.SENSORS", SENSORS, "EVAL.MEDIA_EPISODES", str(media)])
    settings = rl_env_settings(config, evaluation=True)
    assert ("MIXED_BINAURAL_PHASE" in settings.sensors) is with_phase
    assert "RGB" in settings.sensors and not settings.shuffle_episodes
    assert settings.autoreset_mode == "disabled"
    training = rl_env_settings(config)
    assert training.sensors == ("MIXED_BINAURAL_MAGNITUDE", "GT_MONO", "TARGET_CLASS", "POSE")


def test_a_phase_the_config_asks_for_is_kept() -> None:
    config = get_config(opts=["TASK.SENSORS", SENSORS[:-1] + ", 'MIXED_BINAURAL_PHASE']", "EVAL.MEDIA_EPISODES", "0"])
    assert "MIXED_BINAURAL_PHASE" in rl_env_settings(config, evaluation=True).sensors
