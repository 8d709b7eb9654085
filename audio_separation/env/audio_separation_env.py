"""The gymnasium environment of active audio-visual separation of dynamic sources.

Episode timing: reset returns observation t = 0 (seconds [start_idx, start_idx + 1) of every clip); step
k (k = 1..MAX_EPISODE_STEPS - 1) applies an action and returns observation t = k. The step that returns
t = MAX_EPISODE_STEPS - 1 ends the episode with terminated=True (time is observed through pose.t, so the
horizon is part of the task, not a truncation). An episode thus has exactly MAX_EPISODE_STEPS (20)
observations = 20 s of audio, and MAX_EPISODE_STEPS - 1 actions.

Infos: episode_id, scene, step, node, heading, target_node, and geodesic_distance (metres along the
graph from the agent's node to the target's; the far-target reward's navigation term, rl/reward.py).

The reward is 0: the separation reward needs the separator's estimate and is computed by the RL trainer
from gt_mono_magnitude. Actions: 0 MOVE_FORWARD, 1 TURN_LEFT, 2 TURN_RIGHT (env/navigation.py).
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from audio_separation.common.registry import registry
from audio_separation.common.seeding import derive_seed
from audio_separation.env.episode_set import (
    EpisodeIterator,
    episodes_for_env,
    load_split,
    resolve_all,
    split_uses_heard_clips,
)
from audio_separation.env.navigation import ACTION_NAMES
from audio_separation.env.sensors import Sensor, SensorContext, SensorStep, make_sensors, observation_space
from audio_separation.env.settings import EnvSettings
from audio_separation.env.simulator import Simulator
from audio_separation.world.open import open_world
from audio_separation.world.soundspaces import read_sound_classes


@registry.register_env(name="AudioSeparationEnv")
class AudioSeparationEnv(gym.Env):
    """One agent, one scene at a time; see the module docstring for timing and spaces in env/sensors.py."""

    metadata = {"render_modes": []}

    def __init__(
        self,
        settings: EnvSettings,
        env_index: int = 0,
        num_envs: int = 1,
        rank: int = 0,
        world_size: int = 1,
        episodes: list[dict] | None = None,
        seed: int | None = None,
    ) -> None:
        """The env's episodes are its share (episode_set.episodes_for_env) of TASK.SPLIT over
        world_size x num_envs envs, unless `episodes` is given. seed defaults to
        derive_seed(SEED, rank, env_index) and is used at the first reset without a seed. The world at
        settings.world.data_root must exist (world/open.py: opened, never built)."""
        self.settings = settings
        world, task = settings.world, settings.task
        self.layout = open_world(world.data_root, world.dataset)
        self.num_sources = task.num_sounds_in_mix
        self.max_steps = task.max_episode_steps
        if self.max_steps < 1:
            raise ValueError(f"TASK.MAX_EPISODE_STEPS must be >= 1, got {self.max_steps}")
        self.simulator = Simulator(settings, self.layout)

        if episodes is None:
            split = load_split(self.layout, world.episode_version, task.split)
            episodes = episodes_for_env(split, rank * num_envs + env_index, world_size * num_envs)
        if settings.max_episodes_per_env > 0:
            episodes = episodes[: settings.max_episodes_per_env]
        classes = read_sound_classes(self.layout, world.sounds_dir)["classes"]
        resolved = resolve_all(
            episodes,
            self.simulator.navigation,
            layout=self.layout,
            heard=split_uses_heard_clips(task.split),
            num_sources=self.num_sources,
            position_tolerance=settings.position_tolerance,
            sounds_folder=world.sounds_dir,
            labels={int(entry["label"]) for entry in classes},
            min_clip_seconds=0
            if world.loop_short_clips
            else -(-self.max_steps * settings.audio.step_samples // settings.audio.sample_rate),
        )
        self.episodes = EpisodeIterator(resolved, shuffle=settings.shuffle_episodes)

        context = SensorContext(settings, num_classes=max(int(entry["label"]) for entry in classes) + 1)
        self.sensors: list[Sensor] = make_sensors(task.sensors, context)  # registered classes (env/sensors.py)
        self.observation_space = observation_space(self.sensors)
        self.action_space = spaces.Discrete(len(ACTION_NAMES))
        self._initial_seed = derive_seed(settings.seed, rank, env_index) if seed is None else int(seed)
        self._seeded = False
        self._needs_reset = True
        self._with_source_binaural = any(sensor.needs_source_binaural for sensor in self.sensors)
        # sensors by what they read, so the env renders only what is read and times audio and views apart
        self._view_sensors = [sensor for sensor in self.sensors if sensor.needs_views]
        self._audio_sensors = [sensor for sensor in self.sensors if sensor.needs_audio and not sensor.needs_views]
        self._other_sensors = [sensor for sensor in self.sensors if not (sensor.needs_audio or sensor.needs_views)]
        self._with_audio = any(sensor.needs_audio for sensor in self.sensors)
        self.timings = {"audio": 0.0, "views": 0.0, "step_total": 0.0}  # cumulative seconds (benchmarks)
        self._buffers: dict[str, np.ndarray] | None = None

    def set_observation_buffers(self, buffers: dict[str, np.ndarray] | None) -> None:
        """Write every later observation into these arrays (one per observation key, of the declared
        shape and dtype; e.g. a vector env's shared-memory rows) and return them instead of fresh
        arrays, so each step's observation overwrites the previous one. None: fresh arrays again."""
        if buffers is not None:
            for key, space in self.observation_space.spaces.items():
                buffer = buffers.get(key)
                if buffer is None or buffer.shape != space.shape or buffer.dtype != space.dtype:
                    found = None if buffer is None else (buffer.shape, buffer.dtype)
                    raise ValueError(f"observation buffer {key!r} must be {space.shape} {space.dtype}, got {found}")
        self._buffers = buffers

    # ---------------------------------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Start the next episode (options={'episode_id': id} picks one of this env's episodes).
        A seed restarts the episode order from a fresh seeded pass."""
        started = time.perf_counter()
        if seed is None and not self._seeded:
            seed = self._initial_seed
        if seed is not None:
            self._seeded = True
            self.episodes.restart()
        super().reset(seed=seed)
        if options and "episode_id" in options:
            episode = self.episodes.by_id(str(options["episode_id"]))
        else:
            episode = self.episodes.next(self.np_random)
        self.simulator.start(episode)
        self._needs_reset = False
        observation = self._observe()
        self.timings["step_total"] += time.perf_counter() - started
        return observation, self._info()

    def step(self, action: int) -> tuple[dict, float, bool, bool, dict]:
        if self._needs_reset:
            raise RuntimeError("step() called before reset() or after the episode ended; call reset()")
        started = time.perf_counter()
        self.simulator.act(int(action))
        observation = self._observe()
        terminated = self.simulator.step_index >= self.max_steps - 1
        self._needs_reset = terminated
        info = self._info()
        info["action"] = int(action)
        self.timings["step_total"] += time.perf_counter() - started
        return observation, 0.0, terminated, False, info

    # ---------------------------------------------------------------------------------------- helpers
    def _observe(self) -> dict[str, np.ndarray]:
        """Every sensor's keys at this step (into the observation buffers when set), in the space's key order."""
        simulator = self.simulator
        out = self._buffers if self._buffers is not None else {}
        step = SensorStep(simulator)
        observation: dict[str, np.ndarray] = {}
        audio_started = time.perf_counter()
        if self._with_audio:
            step.audio = simulator.render_audio(self._with_source_binaural)
            for sensor in self._audio_sensors:
                observation.update(sensor.observe(step, out))
        views_started = time.perf_counter()
        if self._view_sensors:
            step.rgb, step.depth = simulator.render_views()
            for sensor in self._view_sensors:
                observation.update(sensor.observe(step, out))
        views_done = time.perf_counter()
        self.timings["audio"] += views_started - audio_started
        self.timings["views"] += views_done - views_started
        for sensor in self._other_sensors:
            observation.update(sensor.observe(step, out))
        return {key: observation[key] for key in self.observation_space.spaces}

    def _info(self) -> dict[str, Any]:
        simulator = self.simulator
        episode = simulator.episode
        return {
            "episode_id": episode.episode_id,
            "scene": episode.scene,
            "step": simulator.step_index,
            "node": simulator.node,
            "heading": simulator.heading,
            "target_node": episode.source_nodes[0],
            "geodesic_distance": simulator.navigation(episode.scene).geodesic_distance(
                simulator.node, episode.source_nodes[0]
            ),
        }
