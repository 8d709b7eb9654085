"""Building envs from EnvSettings (env/settings.py): one env, or NUM_PROCESSES of them vectorised with
gymnasium. The world must exist: envs open it, they never build it.

Every env gets its share of the split's scenes (episode_set.episodes_for_env over world_size x
NUM_PROCESSES envs) and its own seed derive_seed(SEED, rank, env_index), so a given (settings, rank,
env index) always sees the same episodes in the same order, whichever vectorisation runs it.
"""

from __future__ import annotations

import functools

import gymnasium as gym
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv

from audio_separation.common.allocator import keep_freed_memory
from audio_separation.common.registry import registry
from audio_separation.env.async_guard import GuardedAsyncVectorEnv
from audio_separation.env.grouped_vector import GroupedVectorEnv
from audio_separation.env.settings import EnvSettings

_AUTORESET_MODES = {
    "same_step": AutoresetMode.SAME_STEP,
    "next_step": AutoresetMode.NEXT_STEP,
    "disabled": AutoresetMode.DISABLED,
}


def make_env(
    settings: EnvSettings, env_index: int = 0, num_envs: int = 1, rank: int = 0, world_size: int = 1, **env_arguments
) -> gym.Env:
    """The registered env named by settings.env_name, for env `env_index` of `num_envs` on process `rank`
    (env_arguments, e.g. episodes= or seed=, go to the env class)."""
    env_class = registry.get_env(settings.env_name)
    return env_class(
        settings, env_index=env_index, num_envs=num_envs, rank=rank, world_size=world_size, **env_arguments
    )


def make_vector_env(
    settings: EnvSettings,
    vector_env_type: str | None = None,
    num_envs: int | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> VectorEnv:
    """settings.num_envs envs (NUM_PROCESSES; or num_envs) as a gymnasium vector env.

    vector_env_type: "sync" (all envs in this process; for debugging), "async" (one process per env,
    started with ENV.MULTIPROCESSING_CONTEXT) or "grouped" (ENV.NUM_WORKERS processes stepping several
    envs each, env/grouped_vector.py); default ENV.VECTOR_ENV_TYPE. Autoreset follows
    ENV.AUTORESET_MODE ("same_step": the returned observation after an episode's last step is the next
    episode's first one, the last one is in info["final_obs"]). With ENV.COPY_OBSERVATIONS False the
    returned arrays are buffers the next step overwrites (copy what you keep).
    """
    kind = vector_env_type or settings.vector_env_type
    count = int(num_envs if num_envs is not None else settings.num_envs)
    if count < 1:
        raise ValueError(f"need at least one env, got NUM_PROCESSES={count}")
    if settings.keep_freed_memory:  # this process batches (and copies) every env's observations
        keep_freed_memory()
    if kind == "batched":
        from audio_separation.env.batched_vector import BatchedVectorEnv  # torch on ENV.DEVICE: imported when used

        return BatchedVectorEnv(settings, num_envs=count, rank=rank, world_size=world_size)
    factories = [functools.partial(make_env, settings, index, count, rank, world_size) for index in range(count)]
    mode = _AUTORESET_MODES[settings.autoreset_mode]
    copy = settings.copy_observations
    if kind == "sync":
        return SyncVectorEnv(factories, copy=copy, autoreset_mode=mode)
    if kind == "async":
        return GuardedAsyncVectorEnv(
            factories, context=settings.multiprocessing_context, copy=copy, autoreset_mode=mode
        )
    if kind == "grouped":
        workers = settings.num_workers
        if workers < 0:
            raise ValueError(f"ENV.NUM_WORKERS must be >= 0 (0 = one per core), got {workers}")
        return GroupedVectorEnv(
            factories,
            num_workers=workers,
            context=settings.multiprocessing_context,
            copy=copy,
            autoreset_mode=mode,
            keep_freed=settings.keep_freed_memory,
            step_in_main_process=settings.step_in_main_process,
        )
    raise ValueError(
        f"vector env type must be 'sync', 'async', 'grouped' or 'batched', got {kind!r} (ENV.VECTOR_ENV_TYPE)"
    )
