"""The env settings RL runs on: whole episodes without autoreset; evaluation adds what it writes out."""

from __future__ import annotations

from yacs.config import CfgNode

REQUIRED_SENSORS = ("MIXED_BINAURAL_MAGNITUDE", "GT_MONO", "TARGET_CLASS")


def rl_env_config(config: CfgNode, evaluation: bool = False) -> CfgNode:
    """The env settings RL needs: whole episodes without autoreset; evaluation adds the mixture phase
    and views (wavs, videos) and visits episodes in split order."""
    missing = [name for name in REQUIRED_SENSORS if name not in config.TASK.SENSORS]
    if missing:
        raise ValueError(f"TASK.SENSORS lacks {missing}, which RL needs")
    derived = config.clone()
    derived.defrost()
    derived.ENV.AUTORESET_MODE = "disabled"
    if evaluation:
        derived.TASK.SENSORS = [
            *config.TASK.SENSORS,
            *[name for name in ("MIXED_BINAURAL_PHASE", "RGB") if name not in config.TASK.SENSORS],
        ]
        derived.ENV.SHUFFLE_EPISODES = False
    derived.freeze()
    return derived
