"""Resuming with changed hyper-parameters: refused for the keys that would make the resumed run a
different experiment (seed, batch size, data, model shapes), a warning per key for the rest.

Which keys refuse is each trainer's choice (its RESUME_REFUSED_KEYS); the keys below never matter to a
resume (budgets, logging, evaluation, paths) and are compared silently. docs/reliability.md lists them.
"""

from __future__ import annotations

import logging
from fnmatch import fnmatchcase
from typing import Any

from yacs.config import CfgNode

from audio_separation.common.errors import ResumeMismatchError

logger = logging.getLogger("audio_separation")

# changing these never changes what a resumed run computes up to where it stops
RESUME_IGNORED_KEYS = (
    "MODEL_DIR",
    "RUN_TYPE",
    "CHECKPOINT_INTERVAL",
    "LOG_INTERVAL",
    "TORCH_GPU_ID",
    "DISTRIBUTED_BACKEND",
    "EVAL_CKPT_PATH_DIR",
    "EVAL.*",
    "WORLD.DATA_ROOT",
    "NAF.DATA_DIR",
    "*.MAX_TRAIN_SECONDS",
    "*.NUM_THREADS",
    "PASSIVE.EVAL_*",
    "NAF.EVAL_*",
    "NAF.VIS_*",
    "NAF.PHASE_*",
    "NAF.GRIFFIN_LIM_ITERATIONS",
    "ENV.VECTOR_ENV_TYPE",
    "ENV.NUM_WORKERS",
    "ENV.STEP_IN_MAIN_PROCESS",
    "ENV.MULTIPROCESSING_CONTEXT",
    "ENV.COPY_OBSERVATIONS",
    "ENV.KEEP_FREED_MEMORY",
    "ENV.*_CACHE_SIZE",
)


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        flat: dict[str, Any] = {}
        for key, value in node.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: node}


def _matches(key: str, patterns) -> bool:
    return any(fnmatchcase(key, pattern) for pattern in patterns)


def check_resume_config(path: str, saved_config: Any, config: CfgNode, refused: tuple[str, ...]) -> list[str]:
    """Compare the config a checkpoint was written with to the current one: raise ResumeMismatchError
    listing every changed key matching `refused` (glob patterns), log a warning for every other changed
    key (not in RESUME_IGNORED_KEYS); returns the warned keys. Keys absent from either side are skipped."""
    if not isinstance(saved_config, str):
        return []
    try:
        saved = _flatten(CfgNode.load_cfg(saved_config))
    except Exception:  # an unreadable config in a checkpoint: nothing to compare
        return []
    current = _flatten(config)
    changed = {
        key: (saved[key], current[key])
        for key in sorted(set(saved) & set(current))
        if saved[key] != current[key] and not _matches(key, RESUME_IGNORED_KEYS)
    }
    refusals = [key for key in changed if _matches(key, refused)]
    if refusals:
        listed = "; ".join(f"{key}: checkpoint {changed[key][0]!r}, now {changed[key][1]!r}" for key in refusals)
        raise ResumeMismatchError(
            f"{path}: cannot resume with changed {', '.join(refusals)} ({listed}): the resumed run would be a "
            "different experiment; restore the values, or train in another --model-dir"
        )
    for key, (before, now) in changed.items():
        logger.warning("resuming %s with %s changed: checkpoint %r, now %r", path, key, before, now)
    return list(changed)
