"""Configuration: yacs defaults plus get_config (experiment yaml + KEY VALUE overrides)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import yaml
from yacs.config import CfgNode

from audio_separation.common.errors import ProjectError
from audio_separation.config.default import get_default_config


class ConfigError(ProjectError, ValueError):
    """A config file or override names an unknown key or gives an ill-typed or out-of-range value."""

    exit_code = 2


def get_config(
    exp_config: str | None = None,
    opts: Sequence[str] | None = None,
    model_dir: str | None = None,
    run_type: str | None = None,
) -> CfgNode:
    """Defaults <- exp_config yaml (after the yamls its _BASE_ chain names) <- opts (flat KEY VALUE list)
    <- model_dir / run_type. An integer is accepted wherever the default is a float.

    Raises ConfigError naming the offending key for unknown keys and type mismatches.
    """
    config = get_default_config()
    if exp_config:
        for path, data in _yaml_chain(exp_config, ()):
            try:
                config.merge_from_other_cfg(CfgNode(_floats_where_expected(data, config)))
            except (KeyError, ValueError, AssertionError, TypeError, AttributeError) as error:
                raise ConfigError(f"{path}: {error}") from None
    if opts:
        if len(opts) % 2:
            raise ConfigError(f"overrides must be KEY VALUE pairs, got an odd count: {list(opts)}")
        try:
            config.merge_from_list(_float_overrides(list(opts), config))
        except (KeyError, ValueError, AssertionError) as error:
            raise ConfigError(f"override: {error}") from None
    if model_dir is not None:
        config.MODEL_DIR = model_dir
    if run_type is not None:
        config.RUN_TYPE = run_type
    _check(config)
    config.freeze()
    return config


def _load_yaml(path: str) -> dict:
    """One yaml file as a mapping; every way it can be malformed is a ConfigError naming the file."""
    try:
        with open(path) as handle:
            loaded = yaml.safe_load(handle)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" line {where.line + 1}, column {where.column + 1}:" if where is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{path}:{line} not valid YAML ({problem})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the config file ({error})") from None
    if loaded is None:
        return {}  # an empty file changes nothing
    if not isinstance(loaded, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of KEY: value (e.g. 'SEED: 0'), got a {type(loaded).__name__}"
        )
    return loaded


BASE_KEY = "_BASE_"  # a yaml's parent, relative to the yaml's folder; merged first (one level of keys per file)


def _yaml_chain(path: str, seen: tuple[str, ...]) -> list[tuple[str, dict]]:
    """[(path, mapping)] from the root ancestor down to `path` itself."""
    if not os.path.isfile(path):
        where = f" (the {BASE_KEY} of {seen[-1]})" if seen else ""
        raise ConfigError(f"config file not found: {path}{where}")
    if os.path.abspath(path) in seen:
        raise ConfigError(f"{path}: {BASE_KEY} chain loops back to itself: {' -> '.join(seen)}")
    data = _load_yaml(path)
    base = data.pop(BASE_KEY, None)
    chain = []
    if base is not None:
        chain = _yaml_chain(os.path.join(os.path.dirname(path), str(base)), (*seen, os.path.abspath(path)))
    return [*chain, (path, data)]


def _floats_where_expected(data: dict, defaults: CfgNode) -> dict:
    """The yaml mapping with each integer turned into a float where the default value is a float."""
    converted = {}
    for key, value in data.items():
        default = defaults.get(key) if isinstance(defaults, CfgNode) else None
        if isinstance(value, dict) and isinstance(default, CfgNode):
            value = _floats_where_expected(value, default)
        elif isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        converted[key] = value
    return converted


def _float_overrides(opts: list[str], defaults: CfgNode) -> list[str]:
    """KEY VALUE overrides with an integer VALUE written as a float where the default value is a float."""
    converted = list(opts)
    for index in range(0, len(opts), 2):
        node: object = defaults
        for part in str(opts[index]).split("."):
            node = node.get(part) if isinstance(node, CfgNode) else None
        if isinstance(node, float):
            try:
                converted[index + 1] = repr(float(int(str(opts[index + 1]))))
            except ValueError:
                pass  # not an integer: yacs checks it
    return converted


# key -> (smallest allowed value, what it means); checked for every run whatever the trainer
_MINIMUM = {
    "SEED": (0, "a non-negative integer seed"),
    "NUM_UPDATES": (1, "at least one update"),
    "NUM_EPOCHS": (1, "at least one epoch"),
    "CHECKPOINT_INTERVAL": (1, "updates (or epochs) between checkpoints, at least 1"),
    "LOG_INTERVAL": (1, "updates between log lines, at least 1"),
    "NUM_PROCESSES": (0, "envs per worker (RL, at least 1) or DataLoader workers (passive, 0 = none)"),
    "PASSIVE.BATCH_SIZE": (1, "items per step, at least 1"),
    "PASSIVE.EVAL_BATCH_SIZE": (1, "items per forward pass, at least 1"),
    "PASSIVE.ITEMS_PER_EPOCH": (0, "items per epoch (0 = one per datapoint)"),
    "PASSIVE.EVAL_DRAWS_PER_DATAPOINT": (1, "draws per datapoint, at least 1"),
    "PASSIVE.MAX_TRAIN_SECONDS": (0, "seconds (0 = no budget)"),
    "NAF.BATCH_RIRS": (1, "RIRs per step, at least 1"),
    "NAF.EVAL_BATCH_RIRS": (1, "RIRs per forward pass, at least 1"),
    "NAF.MAX_TRAIN_SECONDS": (0, "seconds (0 = no budget)"),
    "TASK.MAX_EPISODE_STEPS": (2, "steps per episode, at least 2"),
    "RL.PPO.PPO_EPOCH": (1, "passes per update, at least 1"),
    "RL.PPO.NUM_MINI_BATCH": (1, "mini-batches per pass, at least 1"),
    "RL.MEMORY.REPLAY_EPISODES": (0, "episodes kept for the memory (0 = no replay)"),
    "RL.MEMORY.BATCH_EPISODES": (1, "episodes per memory step, at least 1"),
    "EVAL.MEMORY_CAPACITY": (0, "memory entries at evaluation (0 = the checkpoint's)"),
    "AUDIO.SAMPLE_RATE": (1, "a positive sample rate in Hz"),
}
RL_TRAINERS = ("ddppo", "ppo")
SCORED_STEPS = ("all", "last")  # EVAL.SCORED_STEPS: every step's estimate or the final one
# RL.REWARD -> the sensor rendering its counterfactual mixture (the same second heard from another pose)
COUNTERFACTUAL_SENSORS = {"pose_gain": "MIXED_BINAURAL_STAY", "still_gain": "MIXED_BINAURAL_START"}


def _value(config: CfgNode, key: str):
    node = config
    for part in key.split("."):
        node = node[part]
    return node


def _check_ranges(config: CfgNode) -> None:
    for key, (minimum, meaning) in _MINIMUM.items():
        value = _value(config, key)
        if value < minimum:
            raise ConfigError(f"{key}={value!r} is out of range: expected {meaning} (>= {minimum})")
    if config.TRAINER_NAME in RL_TRAINERS and config.NUM_PROCESSES < 1:
        raise ConfigError(f"NUM_PROCESSES={config.NUM_PROCESSES} is out of range: RL needs at least 1 env per worker")
    if config.TRAINER_NAME in RL_TRAINERS and config.NUM_PROCESSES % config.RL.PPO.NUM_MINI_BATCH:
        raise ConfigError(  # checked at the first PPO update too (rl/ppo.py); here it fails before the envs load
            f"RL.PPO.NUM_MINI_BATCH={config.RL.PPO.NUM_MINI_BATCH} must divide NUM_PROCESSES={config.NUM_PROCESSES} "
            "(the envs of a worker; mini-batches hold whole env sequences)"
        )
    if config.TRAINER_NAME in RL_TRAINERS and config.RL.MEMORY.REPLAY_EPISODES > 0:
        if config.RL.MEMORY.BATCH_EPISODES <= config.NUM_PROCESSES:
            raise ConfigError(
                f"RL.MEMORY.BATCH_EPISODES={config.RL.MEMORY.BATCH_EPISODES} must exceed NUM_PROCESSES="
                f"{config.NUM_PROCESSES} (the rollout's episodes) for RL.MEMORY.REPLAY_EPISODES to add any"
            )
    for key in ("PASSIVE.LR", "NAF.LR", "NAF.LR_END", "RL.PPO.LR", "RL.MEMORY.LR"):
        value = _value(config, key)
        if not (0 < value < float("inf")):
            raise ConfigError(f"{key}={value!r} is out of range: expected a positive, finite learning rate")


def _check(config: CfgNode) -> None:
    """Cross-key consistency and value ranges that yacs' per-key type check cannot see."""
    _check_ranges(config)
    if config.TASK.NUM_SOUNDS_IN_MIX < 2:
        raise ConfigError(
            f"TASK.NUM_SOUNDS_IN_MIX must be >= 2 (target + distractor), got {config.TASK.NUM_SOUNDS_IN_MIX}"
        )
    sensor = COUNTERFACTUAL_SENSORS.get(config.RL.REWARD)
    if sensor and sensor not in config.TASK.SENSORS:
        raise ConfigError(
            f"RL.REWARD {config.RL.REWARD} compares with the same second heard from another pose: add {sensor} to TASK.SENSORS (got {list(config.TASK.SENSORS)})"
        )
    if config.EVAL.SCORED_STEPS not in SCORED_STEPS:
        raise ConfigError(f"EVAL.SCORED_STEPS must be one of {SCORED_STEPS}, got {config.EVAL.SCORED_STEPS!r}")
    if config.RUN_TYPE not in ("train", "eval"):
        raise ConfigError(f"RUN_TYPE must be 'train' or 'eval', got {config.RUN_TYPE!r}")


__all__ = ["get_config", "get_default_config", "ConfigError"]
