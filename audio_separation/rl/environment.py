"""The env settings RL runs on: whole episodes without autoreset; evaluation adds what it writes out."""

from __future__ import annotations

from yacs.config import CfgNode

from audio_separation.env.settings import EnvSettings

REQUIRED_SENSORS = ("MIXED_BINAURAL_MAGNITUDE", "GT_MONO", "TARGET_CLASS")


def rl_env_settings(config: CfgNode, evaluation: bool = False) -> EnvSettings:
    """The env settings RL needs: whole episodes without autoreset; evaluation adds the mixture phase
    and views (wavs, videos) and visits episodes in split order."""
    missing = [name for name in REQUIRED_SENSORS if name not in config.TASK.SENSORS]
    if missing:
        raise ValueError(f"TASK.SENSORS lacks {missing}, which RL needs")
    settings = EnvSettings.from_config(config).replace(autoreset_mode="disabled")
    if evaluation:
        settings = settings.with_sensors("MIXED_BINAURAL_PHASE", "RGB").replace(shuffle_episodes=False)
    return settings
