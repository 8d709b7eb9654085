"""What the env layer needs from the config, as small frozen (picklable) values: the task, the world,
the audio and the ENV knobs. `EnvSettings.from_config(config)` is the one place that reads the config;
variants are derived with dataclasses.replace (or with_sensors)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from audio_separation.audio.settings import AudioSettings
from audio_separation.env.source_motion import MotionSettings
from audio_separation.world.settings import WorldSettings

AUTORESET_MODES = ("same_step", "next_step", "disabled")
VECTOR_ENV_TYPES = ("sync", "async", "grouped", "batched")


@dataclass(frozen=True)
class TaskSettings:
    """Episode rules (config TASK)."""

    split: str = "train"  # TASK.SPLIT: train, val, valUnheard, test, testUnheard
    max_episode_steps: int = 20  # TASK.MAX_EPISODE_STEPS: observations per episode
    num_sounds_in_mix: int = 2  # TASK.NUM_SOUNDS_IN_MIX: 1 target + distractors
    sensors: tuple[str, ...] = (
        "MIXED_BINAURAL_MAGNITUDE",
        "GT_MONO",
        "GT_BINAURAL",
        "TARGET_CLASS",
        "POSE",
        "RGB",
        "DEPTH",
    )  # TASK.SENSORS: registered sensor names (env/sensors.py)
    motion: MotionSettings = MotionSettings()  # TASK.SOURCE_MOTION: moving sources (env/source_motion.py)

    @classmethod
    def from_config(cls, config) -> TaskSettings:
        task = config.TASK
        return cls(
            split=str(task.SPLIT),
            max_episode_steps=int(task.MAX_EPISODE_STEPS),
            num_sounds_in_mix=int(task.NUM_SOUNDS_IN_MIX),
            sensors=tuple(str(name) for name in task.SENSORS),
            motion=MotionSettings.from_config(config),
        )


@dataclass(frozen=True)
class EnvSettings:
    """Everything an env and a vector env of envs are built from (config/default.py documents the keys)."""

    task: TaskSettings
    world: WorldSettings
    audio: AudioSettings
    env_name: str = "AudioSeparationEnv"  # ENV_NAME: the registered env class
    seed: int = 0  # SEED: each (rank, env index) derives its own
    num_envs: int = 2  # NUM_PROCESSES: envs per worker process
    vector_env_type: str = "async"  # ENV.VECTOR_ENV_TYPE: sync, async, grouped or batched
    num_workers: int = 0  # ENV.NUM_WORKERS: grouped only (0 = one per core)
    step_in_main_process: bool = True  # ENV.STEP_IN_MAIN_PROCESS: grouped only
    multiprocessing_context: str = "spawn"  # ENV.MULTIPROCESSING_CONTEXT
    autoreset_mode: str = "same_step"  # ENV.AUTORESET_MODE: same_step, next_step or disabled
    copy_observations: bool = True  # ENV.COPY_OBSERVATIONS
    shuffle_episodes: bool = True  # ENV.SHUFFLE_EPISODES
    max_episodes_per_env: int = 0  # ENV.MAX_EPISODES_PER_ENV (0 = all)
    clip_second_cache_size: int = 1024  # ENV.CLIP_SECOND_CACHE_SIZE
    keep_freed_memory: bool = True  # ENV.KEEP_FREED_MEMORY
    position_tolerance: float = 0.1  # ENV.POSITION_TOLERANCE, metres
    device: str = "cpu"  # ENV.DEVICE: batched only (cpu, cuda, cuda:N)
    batched_cache_mb: int = 4096  # ENV.BATCHED_CACHE_MB: batched only, device caches' bound

    def __post_init__(self) -> None:
        if self.autoreset_mode not in AUTORESET_MODES:
            raise ValueError(f"ENV.AUTORESET_MODE must be one of {list(AUTORESET_MODES)}, got {self.autoreset_mode!r}")
        if self.task.motion.enabled and self.world.rir_source != "naf":
            raise ValueError(
                "TASK.SOURCE_MOTION.ENABLED True needs RIRs at continuous positions: set WORLD.RIR_SOURCE naf "
                f"(and WORLD.NAF_CHECKPOINTS), got WORLD.RIR_SOURCE {self.world.rir_source!r}"
            )

    @classmethod
    def from_config(cls, config) -> EnvSettings:
        """The env settings of a (whole) config: TASK, WORLD, AUDIO, ENV, ENV_NAME, SEED, NUM_PROCESSES."""
        env = config.ENV
        return cls(
            task=TaskSettings.from_config(config),
            world=WorldSettings.from_config(config),
            audio=AudioSettings.from_config(config),
            env_name=str(config.ENV_NAME),
            seed=int(config.SEED),
            num_envs=int(config.NUM_PROCESSES),
            vector_env_type=str(env.VECTOR_ENV_TYPE),
            num_workers=int(env.NUM_WORKERS),
            step_in_main_process=bool(env.STEP_IN_MAIN_PROCESS),
            multiprocessing_context=str(env.MULTIPROCESSING_CONTEXT),
            autoreset_mode=str(env.AUTORESET_MODE).lower(),
            copy_observations=bool(env.COPY_OBSERVATIONS),
            shuffle_episodes=bool(env.SHUFFLE_EPISODES),
            max_episodes_per_env=int(env.MAX_EPISODES_PER_ENV),
            clip_second_cache_size=int(env.CLIP_SECOND_CACHE_SIZE),
            keep_freed_memory=bool(env.KEEP_FREED_MEMORY),
            position_tolerance=float(env.POSITION_TOLERANCE),
            device=str(env.DEVICE),
            batched_cache_mb=int(env.BATCHED_CACHE_MB),
        )

    @property
    def sensors(self) -> tuple[str, ...]:
        return self.task.sensors

    def with_sensors(self, *names: str) -> EnvSettings:
        """These settings with `names` appended to the sensors (those already there are kept in place)."""
        added = tuple(name for name in names if name not in self.task.sensors)
        return dataclasses.replace(self, task=dataclasses.replace(self.task, sensors=self.task.sensors + added))

    def replace(self, **changes) -> EnvSettings:
        """dataclasses.replace of these settings (e.g. settings.replace(autoreset_mode="disabled"))."""
        return dataclasses.replace(self, **changes)
