"""The env settings RL runs on: whole episodes without autoreset; evaluation adds what it writes out."""

from __future__ import annotations

from yacs.config import CfgNode

from audio_separation.env.settings import EnvSettings

REQUIRED_SENSORS = ("MIXED_BINAURAL_MAGNITUDE", "GT_MONO", "TARGET_CLASS")


def rl_env_settings(config: CfgNode, evaluation: bool = False) -> EnvSettings:
    """The env settings RL needs: whole episodes without autoreset; evaluation adds the views (videos)
    and, when it writes media (EVAL.MEDIA_EPISODES not 0), the mixture phase (mixture.wav; the metrics
    use the target's phase), and visits episodes in split order."""
    missing = [name for name in REQUIRED_SENSORS if name not in config.TASK.SENSORS]
    if missing:
        raise ValueError(f"TASK.SENSORS lacks {missing}, which RL needs")
    settings = EnvSettings.from_config(config).replace(autoreset_mode="disabled")
    if evaluation:
        media = ("MIXED_BINAURAL_PHASE",) if int(config.EVAL.MEDIA_EPISODES) != 0 else ()
        settings = settings.with_sensors(*media, "RGB").replace(shuffle_episodes=False)
    return settings
