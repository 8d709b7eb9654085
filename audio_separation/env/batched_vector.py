"""A vector env that steps N envs in one process as tensor operations on one device (ENV.DEVICE).

ENV.VECTOR_ENV_TYPE batched. The N envs are columns of tensors: navigation is a gather in the
transition table of every loaded scene ((node, heading) -> node after MOVE_FORWARD; turns are
arithmetic on heading indices), the audio of all envs x sources x ears is one batched render on the
device (audio/batched_render.py: device caches of RIR and chunk spectra, one complex multiply + inverse
FFT, one STFT), views are gathered from a device cache, and every observation is a torch tensor on the
device, so a learner on the same device consumes them without host copies. Rewards, terminations and
truncations are numpy arrays, infos are gymnasium's info dict (key + "_key" mask), as from SyncVectorEnv.

Same semantics as the sync env (env/audio_separation_env.py under SyncVectorEnv): each env i has the
share of the split and the seed of make_env(settings, i, N, rank, world_size), the same episode order,
timing, autoreset modes (info["final_obs"] holds the last observation's rows as tensors), seeds
(reset(seed=s) seeds env i with s + i) and infos; observations equal the sync env's to float32 rounding
(tests/env/test_batched_vector.py). Sensors: the registered built-in ones (BATCHED_SENSORS), the
counterfactual MIXED_BINAURAL_STAY (RL.REWARD pose_gain) too: a second batched render of the same seconds at
each env's pose before its action, and MIXED_BINAURAL_START (RL.REWARD still_gain): one at each env's start
pose; another sensor name is an error naming it.

Memory: the device caches are bounded in bytes (ENV.BATCHED_CACHE_MB: 1/2 RIR spectra, 3/8 clip seconds,
1/8 views; slabs grow on demand up to that); the host keeps, as the sync env does, each scene's graph and the clips heard.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from audio_separation.audio.batched_render import BatchedAudio, BatchedRenderer, SlabCache, spectrogram_channels_last
from audio_separation.audio.renderer import RirSource
from audio_separation.common.seeding import derive_seed
from audio_separation.env.episode_set import (
    EpisodeIterator,
    ResolvedEpisode,
    episodes_for_env,
    load_split,
    resolve_all,
    split_uses_heard_clips,
    whole_seconds_of_clip,
)
from audio_separation.env.navigation import (
    ACTION_NAMES,
    MOVE_FORWARD,
    TURN_LEFT,
    TURN_RIGHT,
    SceneNavigation,
    load_scene_navigation,
    turn,
)
from audio_separation.env.sensors import SensorContext, make_sensors, observation_space
from audio_separation.env.settings import EnvSettings
from audio_separation.env.source_motion import SourcePath, emitter_at, plan_episode_motion
from audio_separation.world.clips import ClipLibrary
from audio_separation.world.open import open_world
from audio_separation.world.rir_store import open_rir_source, open_scene_rirs
from audio_separation.world.soundspaces import (
    MissingObservationError,
    WorldDataError,
    read_observations,
    read_sound_classes,
)

_AUTORESET_MODES = {
    "same_step": AutoresetMode.SAME_STEP,
    "next_step": AutoresetMode.NEXT_STEP,
    "disabled": AutoresetMode.DISABLED,
}


def resolve_device(name: str) -> torch.device:
    """ENV.DEVICE: "cpu", "cuda" (the current CUDA device, e.g. cuda:LOCAL_RANK under torchrun) or "cuda:N"."""
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"ENV.DEVICE is {name!r} but CUDA is not available; use ENV.DEVICE cpu")
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
    elif device.type != "cpu":
        raise ValueError(f"ENV.DEVICE must be cpu, cuda or cuda:N, got {name!r}")
    return device


class _Scenes:
    """Every scene's graph, RIR store and views, loaded on first use; the nodes of all loaded scenes are
    numbered globally (scene offset + index in the scene's sorted nodes) for the device tables."""

    def __init__(self, settings: EnvSettings, layout, device: torch.device) -> None:
        self.settings, self.layout, self.device = settings, layout, device
        self.headings = list(settings.world.headings)
        self.navigations: dict[str, SceneNavigation] = {}
        self.offsets: dict[str, int] = {}
        self.rirs: dict[str, RirSource] = {}
        self.views: dict[str, dict] = {}
        self.num_nodes = 0

    def navigation(self, name: str) -> SceneNavigation:
        if name not in self.navigations:
            navigation = load_scene_navigation(self.layout, name, self.headings)
            self.navigations[name], self.offsets[name] = navigation, self.num_nodes
            self.num_nodes += len(navigation.nodes)
        return self.navigations[name]

    def scene_rirs(self, name: str) -> RirSource:
        if name not in self.rirs and self.settings.world.rir_source != "wav":  # e.g. naf (WORLD.RIR_SOURCE)
            world = self.settings.world
            source = open_rir_source(world, self.layout, name, self.headings, self.settings.audio.sample_rate)
            if hasattr(source, "to_device"):  # e.g. a NAF: its batched queries run on ENV.DEVICE
                source.to_device(self.device)
            self.rirs[name] = source
        if name not in self.rirs:
            world = self.settings.world
            self.rirs[name] = open_scene_rirs(
                self.layout,
                name,
                self.headings,
                world.rir_sample_rate,
                self.settings.audio.sample_rate,
                world.use_packed_cache,
                world.allow_missing_rirs,
            )
        return self.rirs[name]

    def scene_views(self, name: str) -> dict:
        if name not in self.views:
            self.views[name] = read_observations(self.layout.observations_path(name))
        return self.views[name]

    def tables(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """(forward (G, H) long: global node after MOVE_FORWARD per heading index, points (G, 3) float64,
        node ids (G,): the scene's own node number of each global node)."""
        forward, points, ids = [], [], []
        for name, navigation in self.navigations.items():
            offset = self.offsets[name]
            index = {node: offset + i for i, node in enumerate(navigation.nodes)}
            forward.extend(
                [index[navigation.step(node, heading, MOVE_FORWARD)[0]] for heading in self.headings]
                for node in navigation.nodes
            )
            points.append(navigation.points)
            ids.extend(navigation.nodes)
        return (
            torch.tensor(forward, dtype=torch.long, device=device),
            torch.from_numpy(np.concatenate(points)).to(device),
            ids,
        )


# ============================================================================================ sensors
def _mixed_magnitude(env: BatchedVectorEnv, audio: BatchedAudio, rows) -> dict[str, torch.Tensor]:
    return {"mixed_binaural_magnitude": spectrogram_channels_last(audio.mixture, "log1p_magnitude")}


def _mixed_phase(env: BatchedVectorEnv, audio: BatchedAudio, rows) -> dict[str, torch.Tensor]:
    return {"mixed_binaural_phase": spectrogram_channels_last(audio.mixture, "phase")}


def _counterfactual_magnitude(sensor: str, key: str) -> Callable:
    """The filler of a counterfactual mixture sensor: its batched render at the sensor's pose (_observe)."""

    def fill(env: BatchedVectorEnv, audio: BatchedAudio, rows) -> dict[str, torch.Tensor]:
        return {key: spectrogram_channels_last(env._counterfactual_audio[sensor].mixture, "log1p_magnitude")}

    return fill


def _gt_mono(env: BatchedVectorEnv, audio: BatchedAudio, rows) -> dict[str, torch.Tensor]:
    return {
        "gt_mono_magnitude": spectrogram_channels_last(audio.mono_magnitude, "real"),
        "gt_mono_phase": spectrogram_channels_last(audio.mono_phase, "real"),
    }


def _gt_binaural(env: BatchedVectorEnv, audio: BatchedAudio, rows) -> dict[str, torch.Tensor]:
    binaural = audio.source_binaural
    return {
        "gt_binaural_magnitude": spectrogram_channels_last(binaural, "magnitude"),
        "gt_binaural_phase": spectrogram_channels_last(binaural, "phase"),
    }


def _target_class(env: BatchedVectorEnv, audio, rows) -> dict[str, torch.Tensor]:
    return {"target_class": env._labels[rows].unsqueeze(1)}


def _pose(env: BatchedVectorEnv, audio, rows) -> dict[str, torch.Tensor]:
    return {"pose": env._pose(rows)}


def _rgb(env: BatchedVectorEnv, audio, rows) -> dict[str, torch.Tensor]:
    return {"rgb": env._views(rows)["rgb"]}


def _depth(env: BatchedVectorEnv, audio, rows) -> dict[str, torch.Tensor]:
    return {"depth": env._views(rows)["depth"]}


# sensor name -> (fills its keys for the envs `rows` from the step's batched audio, needs audio, needs source binaural)
BATCHED_SENSORS: dict[str, tuple[Callable, bool, bool]] = {
    "MIXED_BINAURAL_MAGNITUDE": (_mixed_magnitude, True, False),
    "MIXED_BINAURAL_PHASE": (_mixed_phase, True, False),
    "MIXED_BINAURAL_STAY": (_counterfactual_magnitude("MIXED_BINAURAL_STAY", "stay_binaural_magnitude"), True, False),
    "MIXED_BINAURAL_START": (
        _counterfactual_magnitude("MIXED_BINAURAL_START", "start_binaural_magnitude"),
        True,
        False,
    ),
    "GT_MONO": (_gt_mono, True, False),
    "GT_BINAURAL": (_gt_binaural, True, True),
    "TARGET_CLASS": (_target_class, False, False),
    "POSE": (_pose, False, False),
    "RGB": (_rgb, False, False),
    "DEPTH": (_depth, False, False),
}


# ============================================================================================ the env
class BatchedVectorEnv(VectorEnv):
    """settings.num_envs envs (or num_envs) stepped as tensors on `device`; see the module docstring."""

    tensor_actions = True  # step() takes a tensor of actions on any device (or anything numpy takes)

    def __init__(
        self,
        settings: EnvSettings,
        num_envs: int | None = None,
        rank: int = 0,
        world_size: int = 1,
        device: str | torch.device | None = None,
    ) -> None:
        self.settings = settings
        self.num_envs = count = int(num_envs if num_envs is not None else settings.num_envs)
        if count < 1:
            raise ValueError(f"need at least one env, got NUM_PROCESSES={count}")
        self.device = resolve_device(str(device if device is not None else settings.device))
        self.autoreset_mode = _AUTORESET_MODES[settings.autoreset_mode]
        self.metadata = {"autoreset_mode": self.autoreset_mode, "render_modes": []}
        self.render_mode = None
        self.closed = False
        world, task = settings.world, settings.task
        self.layout = open_world(world.data_root, world.dataset)
        self.num_sources, self.max_steps = task.num_sounds_in_mix, task.max_episode_steps
        if self.max_steps < 1:
            raise ValueError(f"TASK.MAX_EPISODE_STEPS must be >= 1, got {self.max_steps}")
        unknown = [name for name in task.sensors if name not in BATCHED_SENSORS]
        if unknown:
            raise ValueError(
                f"TASK.SENSORS {unknown} have no batched implementation (env/batched_vector.BATCHED_SENSORS: {sorted(BATCHED_SENSORS)}); use ENV.VECTOR_ENV_TYPE sync or grouped"
            )

        # episodes: each env's share and seed exactly as make_env(settings, i, count, rank, world_size)
        self.scenes = _Scenes(settings, self.layout, self.device)
        self.clips = ClipLibrary(settings.audio.sample_rate)
        split = load_split(self.layout, world.episode_version, task.split)
        clip_seconds = functools.lru_cache(maxsize=None)(whole_seconds_of_clip)
        self.episodes: list[EpisodeIterator] = []
        for index in range(count):
            episodes = episodes_for_env(split, rank * count + index, world_size * count)
            if settings.max_episodes_per_env > 0:
                episodes = episodes[: settings.max_episodes_per_env]
            resolved = resolve_all(
                episodes,
                self.scenes.navigation,
                layout=self.layout,
                heard=split_uses_heard_clips(task.split),
                num_sources=self.num_sources,
                position_tolerance=settings.position_tolerance,
                sounds_folder=world.sounds_dir,
                clip_seconds=clip_seconds,
            )
            self.episodes.append(EpisodeIterator(resolved, shuffle=settings.shuffle_episodes))
        self._initial_seeds = [derive_seed(settings.seed, rank, index) for index in range(count)]
        self._seeded = [False] * count
        self._rngs: list[np.random.Generator | None] = [None] * count

        classes = read_sound_classes(self.layout, world.sounds_dir)["classes"]
        context = SensorContext(settings, num_classes=max(int(entry["label"]) for entry in classes) + 1)
        self.sensors = make_sensors(task.sensors, context)
        self.single_observation_space = observation_space(self.sensors)
        self.single_action_space = spaces.Discrete(len(ACTION_NAMES))
        self.observation_space = batch_space(self.single_observation_space, count)
        self.action_space = batch_space(self.single_action_space, count)
        self._fillers = [BATCHED_SENSORS[name][0] for name in task.sensors]
        self._with_audio = any(BATCHED_SENSORS[name][1] for name in task.sensors)
        self._with_source_binaural = any(BATCHED_SENSORS[name][2] for name in task.sensors)
        self._view_resolution = world.view_resolution

        # device tables and state
        self._forward, self._points, self._node_ids = self.scenes.tables(self.device)
        headings = self.scenes.headings
        self._turn = torch.tensor(  # (heading index, action) -> heading index
            [
                [i, headings.index(turn(h, TURN_LEFT)), headings.index(turn(h, TURN_RIGHT))]
                for i, h in enumerate(headings)
            ],
            dtype=torch.long,
            device=self.device,
        )
        self._radians = torch.tensor(np.radians(headings), dtype=torch.float64, device=self.device)
        self._node = torch.zeros(count, dtype=torch.long, device=self.device)  # global node index
        self._heading = torch.zeros(count, dtype=torch.long, device=self.device)  # heading index
        self._start_node = torch.zeros(count, dtype=torch.long, device=self.device)
        self._start_heading = torch.zeros(count, dtype=torch.long, device=self.device)
        self._labels = torch.zeros(count, dtype=torch.long, device=self.device)
        self._host_node = np.zeros(count, dtype=np.int64)  # host mirrors: RIR keys, infos
        self._host_heading = np.zeros(count, dtype=np.int64)
        self._previous_node = np.zeros(count, dtype=np.int64)  # host (node, heading) before the last action
        self._previous_heading = np.zeros(count, dtype=np.int64)
        self._start_host_node = np.zeros(count, dtype=np.int64)  # host (node, heading) at the episode's start
        self._start_host_heading = np.zeros(count, dtype=np.int64)
        self._steps = np.zeros(count, dtype=np.int64)
        # counterfactual mixture sensors -> the host (node, heading) arrays of the pose each renders at
        # (another batched render per step); their renders of the current step by sensor
        poses = {
            "MIXED_BINAURAL_STAY": (self._previous_node, self._previous_heading),
            "MIXED_BINAURAL_START": (self._start_host_node, self._start_host_heading),
        }
        self._counterfactual_poses = {name: poses[name] for name in task.sensors if name in poses}
        self._counterfactual_audio: dict[str, BatchedAudio] = {}
        self._current: list[ResolvedEpisode | None] = [None] * count
        self._clip_lengths: list[list[int]] = [[] for _ in range(count)]
        self._paths: list[list[SourcePath | None]] = [[] for _ in range(count)]  # TASK.SOURCE_MOTION
        self._step_seconds = settings.audio.step_samples / settings.audio.sample_rate
        self._needs_reset = np.ones(count, dtype=np.bool_)
        self._autoreset = np.zeros(count, dtype=np.bool_)
        self._observations: dict[str, torch.Tensor] | None = None

        budget = int(settings.batched_cache_mb) * 2**20
        self.renderer = BatchedRenderer(settings.audio, self.clips, self.device, budget // 2, budget * 3 // 8)
        resolution = self._view_resolution
        self.view_cache = SlabCache(
            {"rgb": ((resolution, resolution, 3), torch.uint8), "depth": ((resolution, resolution, 1), torch.float32)},
            budget // 8,
            self.device,
        )

    # ---------------------------------------------------------------------------------------- episodes
    def _start(self, index: int, seed: int | None, options: dict | None) -> None:
        """AudioSeparationEnv.reset's episode choice for env `index`, and its state at t = 0."""
        if seed is None and not self._seeded[index]:
            seed = self._initial_seeds[index]
        if seed is not None:
            self._seeded[index] = True
            self.episodes[index].restart()
            self._rngs[index], _ = seeding.np_random(seed)
        elif self._rngs[index] is None:
            self._rngs[index], _ = seeding.np_random()
        if options and "episode_id" in options:
            episode = self.episodes[index].by_id(str(options["episode_id"]))
        else:
            episode = self.episodes[index].next(self._rngs[index])
        lengths = [self.clips.num_seconds(path) for path in episode.sound_paths]
        for path, start, seconds in zip(episode.sound_paths, episode.start_seconds, lengths):
            if start >= seconds:
                raise WorldDataError(
                    f"episode {episode.episode_id!r}: start_idx {start} is beyond the {seconds} whole seconds of {path}"
                )
        navigation = self.scenes.navigation(episode.scene)
        offset = self.scenes.offsets[episode.scene]
        node = offset + navigation.nodes.index(episode.start_node)
        heading = self.scenes.headings.index(episode.start_heading)
        self._current[index], self._clip_lengths[index] = episode, lengths
        self._paths[index] = plan_episode_motion(
            self.settings.task.motion,
            navigation,
            episode.episode_id,
            list(episode.source_nodes),
            self.max_steps * self._step_seconds,
        )
        self._host_node[index], self._host_heading[index], self._steps[index] = node, heading, 0
        self._previous_node[index], self._previous_heading[index] = node, heading  # t = 0: the start pose
        self._start_host_node[index], self._start_host_heading[index] = node, heading
        self._node[index] = self._start_node[index] = node
        self._heading[index] = self._start_heading[index] = heading
        self._labels[index] = episode.target_label
        self._needs_reset[index] = False

    def _info_arrays(self, rows: np.ndarray, action: np.ndarray | None) -> dict[str, Any]:
        """The envs `rows`' infos as gymnasium's SyncVectorEnv batches them (arrays over all envs + masks)."""
        count = self.num_envs
        mask = np.zeros(count, dtype=np.bool_)
        mask[rows] = True
        ids, scenes = np.full(count, None, dtype=object), np.full(count, None, dtype=object)
        step, node, heading, target = (np.zeros(count, dtype=np.int64) for _ in range(4))
        distance = np.zeros(count, dtype=np.float64)
        headings = self.scenes.headings
        for row in rows:
            episode = self._current[row]
            ids[row], scenes[row] = episode.episode_id, episode.scene
            step[row] = self._steps[row]
            node[row] = self._node_ids[self._host_node[row]]
            heading[row] = headings[self._host_heading[row]]
            target[row] = episode.source_nodes[0]
            distance[row] = self.scenes.navigation(episode.scene).geodesic_distance(node[row], target[row])
        infos: dict[str, Any] = {}
        for key, value in (
            ("episode_id", ids),
            ("scene", scenes),
            ("step", step),
            ("node", node),
            ("heading", heading),
            ("target_node", target),
            ("geodesic_distance", distance),
        ):
            infos[key], infos[f"_{key}"] = value, mask.copy()
        if action is not None and len(rows):
            values = np.zeros(count, dtype=np.int64)
            values[rows] = action[rows]
            infos["action"], infos["_action"] = values, mask.copy()
        return infos

    # ---------------------------------------------------------------------------------------- rendering
    def _observe(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        """Every sensor's keys for the envs `rows` (their current state), in the space's key order."""
        audio = None
        if self._with_audio:
            rir_keys, rir_sources, clip_keys = [], [], []
            other_keys: dict[str, list] = {name: [] for name in self._counterfactual_poses}
            headings = self.scenes.headings
            for row in rows:
                episode = self._current[row]
                rirs = self.scenes.scene_rirs(episode.scene)
                receiver = self._node_ids[self._host_node[row]]
                heading = headings[self._host_heading[row]]
                others = {
                    name: (self._node_ids[nodes[row]], headings[turns[row]])
                    for name, (nodes, turns) in self._counterfactual_poses.items()
                }
                step = int(self._steps[row])
                emitters = [
                    emitter_at(motion, node, self.settings.task.motion.speed, step * self._step_seconds)
                    for motion, node in zip(self._paths[row], episode.source_nodes)
                ]
                for path, start, seconds, source in zip(
                    episode.sound_paths, episode.start_seconds, self._clip_lengths[row], emitters
                ):
                    rir_keys.append((episode.scene, heading, receiver, source))
                    for name, (node, turned) in others.items():
                        other_keys[name].append((episode.scene, turned, node, source))
                    rir_sources.append(rirs)
                    clip_keys.append((path, (start + step) % seconds))  # audio/mixing.clip_second
            audio = self.renderer.render(rir_keys, rir_sources, clip_keys, len(rows), self._with_source_binaural)
            for name, keys in other_keys.items():  # the same seconds heard from each counterfactual pose
                moved = keys != rir_keys  # else (every env at that pose) the step's own audio
                self._counterfactual_audio[name] = (
                    self.renderer.render(keys, rir_sources, clip_keys, len(rows), False) if moved else audio
                )
        index = torch.as_tensor(rows, dtype=torch.long).to(self.device)
        self._view_rows = None
        observation: dict[str, torch.Tensor] = {}
        for fill in self._fillers:
            observation.update(fill(self, audio, index))
        return {key: observation[key] for key in self.single_observation_space.spaces}

    def _pose(self, rows: torch.Tensor) -> torch.Tensor:
        """Simulator.pose for the envs `rows`: (x right, y ahead, heading change, t) float32."""
        start, here = self._points[self._start_node[rows]], self._points[self._node[rows]]
        dx, dz = here[:, 0] - start[:, 0], here[:, 2] - start[:, 2]
        radians = self._radians[self._start_heading[rows]]
        right = dx * torch.cos(radians) - dz * torch.sin(radians)
        ahead = -dx * torch.sin(radians) - dz * torch.cos(radians)
        turned = torch.remainder(self._radians[self._heading[rows]] - radians + np.pi, 2 * np.pi) - np.pi
        steps = torch.as_tensor(self._steps[rows.cpu().numpy()], dtype=torch.float64).to(self.device)
        return torch.stack([right, ahead, turned, steps], dim=1).to(torch.float32)

    def _views(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """rgb (B, H, W, 3) uint8 and depth (B, H, W, 1) float32 of the envs `rows` (gathered once per step)."""
        if self._view_rows is not None:
            return self._view_rows
        host_rows = rows.cpu().numpy()
        headings = self.scenes.headings
        keys = [
            (self._current[row].scene, self._node_ids[self._host_node[row]], headings[self._host_heading[row]])
            for row in host_rows
        ]

        def compute(missing: list) -> dict[str, torch.Tensor]:
            resolution = self._view_resolution
            rgbs, depths = [], []
            for scene, node, heading in missing:
                entry = self.scenes.scene_views(scene).get((node, heading))
                where = f"{self.layout.observations_path(scene)} (node {node}, heading {heading})"
                if entry is None:
                    raise MissingObservationError(
                        f"{self.layout.observations_path(scene)}: no view for node {node}, heading {heading}"
                    )
                rgb, depth = np.asarray(entry["rgb"]), np.asarray(entry["depth"], dtype=np.float32)
                if rgb.shape != (resolution, resolution, 3) or rgb.dtype != np.uint8:
                    raise ValueError(
                        f"{where}: rgb view is {rgb.shape} {rgb.dtype}, expected ({resolution}, {resolution}, 3) uint8 (WORLD.VIEW_RESOLUTION)"
                    )
                depth = depth.reshape(depth.shape[0], depth.shape[1], 1) if depth.ndim == 2 else depth
                if depth.shape != (resolution, resolution, 1):
                    raise ValueError(
                        f"{where}: depth view is {depth.shape}, expected ({resolution}, {resolution}, 1) (WORLD.VIEW_RESOLUTION)"
                    )
                rgbs.append(rgb)
                depths.append(depth)
            return {"rgb": torch.from_numpy(np.stack(rgbs)), "depth": torch.from_numpy(np.stack(depths))}

        slots = self.view_cache.lookup(keys, compute)
        self._view_rows = {name: slab[slots] for name, slab in self.view_cache.slabs.items()}
        return self._view_rows

    # ---------------------------------------------------------------------------------------- gym API
    def reset(self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None):
        count = self.num_envs
        if seed is None:
            seeds: list[int | None] = [None] * count
        elif isinstance(seed, (int, np.integer)):
            seeds = [int(seed) + index for index in range(count)]
        else:
            seeds = list(seed)
        if len(seeds) != count:
            raise ValueError(
                f"If seeds are passed as a list the length must match num_envs={count} but got length={len(seeds)}."
            )
        options = dict(options) if options else None
        mask = np.ones(count, dtype=np.bool_)
        if options is not None and "reset_mask" in options:
            mask = np.asarray(options.pop("reset_mask"))
            if mask.shape != (count,) or mask.dtype != np.bool_ or not mask.any():
                raise ValueError(
                    f"options['reset_mask'] must be a bool array of shape ({count},) with a True value, got {mask!r}"
                )
        rows = np.flatnonzero(mask)
        for row in rows:
            self._start(int(row), seeds[row], options)
        self._autoreset[rows] = False
        observation = self._observe(rows)
        if self._observations is None or len(rows) == count:
            if len(rows) != count:
                raise RuntimeError("the first reset of a batched env must reset every env")
            self._observations = observation
        else:
            self._observations = {key: value.clone() for key, value in self._observations.items()}
            index = torch.as_tensor(rows, dtype=torch.long).to(self.device)
            for key, value in observation.items():
                self._observations[key].index_copy_(0, index, value)
        return self._observations, self._info_arrays(rows, None)

    def step(self, actions):
        count = self.num_envs
        if isinstance(actions, torch.Tensor):
            action_tensor = actions.to(device=self.device, dtype=torch.long).reshape(-1)
            action_host = action_tensor.cpu().numpy()
        else:
            action_host = np.asarray(actions, dtype=np.int64).reshape(-1)
            action_tensor = torch.from_numpy(action_host).to(self.device)
        if action_host.shape != (count,):
            raise ValueError(f"expected {count} actions, got an array of shape {action_host.shape}")
        if ((action_host < 0) | (action_host >= len(ACTION_NAMES))).any():
            raise ValueError(
                f"unknown actions {action_host.tolist()}; expected 0..{len(ACTION_NAMES) - 1} ({', '.join(ACTION_NAMES)})"
            )
        resetting = self._autoreset.copy() if self.autoreset_mode == AutoresetMode.NEXT_STEP else np.zeros(count, bool)
        if self.autoreset_mode == AutoresetMode.DISABLED and self._autoreset.any():
            raise RuntimeError(
                f"envs {np.flatnonzero(self._autoreset).tolist()} stepped after their episode ended with AUTORESET_MODE disabled; reset them first"
            )
        if (self._needs_reset & ~resetting).any():
            raise RuntimeError("step() called before reset(); call reset()")
        stepping = ~resetting
        # navigation on the device: (node, heading) -> next node / heading for every stepping env
        moved = self._forward[self._node, self._heading]
        turned = self._turn[self._heading, action_tensor]
        step_mask = torch.from_numpy(stepping).to(self.device)
        self._node = torch.where(step_mask & (action_tensor == MOVE_FORWARD), moved, self._node)
        self._heading = torch.where(step_mask, turned, self._heading)
        state = torch.stack([self._node, self._heading]).cpu().numpy()
        self._previous_node[stepping] = self._host_node[stepping]
        self._previous_heading[stepping] = self._host_heading[stepping]
        self._host_node, self._host_heading = state[0].copy(), state[1].copy()
        self._steps[stepping] += 1
        for row in np.flatnonzero(resetting):
            self._start(int(row), None, None)
        rewards = np.zeros(count, dtype=np.float64)
        terminated = stepping & (self._steps >= self.max_steps - 1)
        truncated = np.zeros(count, dtype=np.bool_)
        all_rows = np.arange(count)
        observation = self._observe(all_rows)
        step_rows = np.flatnonzero(stepping)
        infos = self._info_arrays(all_rows, action_host)
        if resetting.any():  # those envs' infos are their reset infos (no "action")
            infos["_action"][resetting] = False
            infos["action"][resetting] = 0
            if not stepping.any():
                del infos["action"], infos["_action"]
        ended = np.flatnonzero(terminated | truncated)
        if self.autoreset_mode == AutoresetMode.SAME_STEP and len(ended):
            index = torch.as_tensor(ended, dtype=torch.long).to(self.device)
            final_rows = {key: value[index] for key, value in observation.items()}  # copies
            final_obs = np.full(count, None, dtype=object)
            for position, row in enumerate(ended):
                final_obs[row] = {key: value[position] for key, value in final_rows.items()}
            final_info = self._info_arrays(ended, action_host)
            for row in ended:
                self._start(int(row), None, None)
            restarted = self._observe(ended)
            for key, value in restarted.items():
                observation[key].index_copy_(0, index, value)
            infos = {
                "final_obs": final_obs,
                "_final_obs": np.isin(all_rows, ended),
                "final_info": final_info,
                "_final_info": np.isin(all_rows, ended),
                **self._info_arrays(all_rows, action_host),
            }
            infos["_action"][ended] = False
            infos["action"][ended] = 0
            if len(ended) == count:
                del infos["action"], infos["_action"]
        del step_rows
        self._needs_reset = (
            (terminated | truncated) if self.autoreset_mode != AutoresetMode.SAME_STEP else self._needs_reset
        )
        self._autoreset = (
            terminated | truncated if self.autoreset_mode != AutoresetMode.SAME_STEP else np.zeros(count, bool)
        )
        if self.autoreset_mode == AutoresetMode.SAME_STEP:
            self._needs_reset[:] = False
        self._observations = observation
        return observation, rewards, terminated, truncated, infos

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        attribute = getattr(self, name)
        value = attribute(*args, **kwargs) if callable(attribute) else attribute
        return (value,) * self.num_envs

    def close_extras(self, **kwargs: Any) -> None:
        self._observations = None
        self._counterfactual_audio = {}
        self.renderer = None
        self.view_cache.clear()
