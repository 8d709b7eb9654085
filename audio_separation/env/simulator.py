"""The simulator: an agent on a scene's navigation graph hearing dynamic sources, seeing cached views.

State: scene, node, heading and step t (0 at reset). Observation t hears second start_idx_i + t of every
source i (audio/mixing.clip_second: wrapping at the clip's last whole second). Scene data (graph,
RIRs, views) is loaded lazily on first use and kept for the env's lifetime (an env holds few scenes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audio_separation.audio.mixing import clip_second
from audio_separation.audio.renderer import BinauralRenderer, RenderedAudio, RirSource
from audio_separation.env.episode_set import ResolvedEpisode
from audio_separation.env.navigation import ACTION_NAMES, SceneNavigation, load_scene_navigation
from audio_separation.env.settings import EnvSettings
from audio_separation.env.source_motion import SourcePath, emitter_at, plan_episode_motion
from audio_separation.world.clips import ClipLibrary
from audio_separation.world.rir_store import open_rir_source
from audio_separation.world.soundspaces import (
    MissingObservationError,
    SoundSpacesLayout,
    WorldDataError,
    read_observations,
)


@dataclass
class SceneData:
    """Everything loaded for one scene."""

    navigation: SceneNavigation
    rirs: RirSource | None = None  # opened on first audio render (WORLD.RIR_SOURCE)
    views: dict | None = None  # {(node, heading): {'rgb', 'depth'}}, loaded on first view


class Simulator:
    """Graph navigation + binaural rendering + view lookup for one env."""

    def __init__(self, settings: EnvSettings, layout: SoundSpacesLayout) -> None:
        self.settings = settings
        self.layout = layout
        self.headings = list(settings.world.headings)
        self.step_samples = settings.audio.step_samples
        self.clips = ClipLibrary(settings.audio.sample_rate)
        self.renderer = BinauralRenderer.from_settings(
            settings.audio,
            self.clips,
            settings.world.rir_cache_mb,
            settings.clip_second_cache_size,
            keep_freed=settings.keep_freed_memory,
        )
        self._scenes: dict[str, SceneData] = {}
        self.episode: ResolvedEpisode | None = None
        self.node = -1
        self.heading = 0
        self.previous_pose = (-1, 0)  # (node, heading) before the last action (the start pose at t = 0)
        self.step_index = 0
        self._clip_seconds: list[int] = []
        self._paths: list[SourcePath | None] = []  # per source: its path when it moves (TASK.SOURCE_MOTION)

    # ------------------------------------------------------------------------------------------ scenes
    def scene(self, name: str) -> SceneData:
        if name not in self._scenes:
            self._scenes[name] = SceneData(navigation=load_scene_navigation(self.layout, name, self.headings))
        return self._scenes[name]

    def navigation(self, name: str) -> SceneNavigation:
        return self.scene(name).navigation

    def _scene_rirs(self, data: SceneData, name: str) -> RirSource:
        if data.rirs is None:
            data.rirs = open_rir_source(
                self.settings.world, self.layout, name, self.headings, self.settings.audio.sample_rate
            )
        return data.rirs

    def _scene_views(self, data: SceneData, name: str) -> dict:
        if data.views is None:
            views = read_observations(self.layout.observations_path(name))
            for entry in views.values():
                entry["depth"] = np.asarray(entry["depth"], dtype=np.float32)
            data.views = views
        return data.views

    # ------------------------------------------------------------------------------------------ episode
    def start(self, episode: ResolvedEpisode) -> None:
        """Place the agent at the episode's start, t = 0."""
        self.scene(episode.scene)
        self.episode = episode
        self.node, self.heading, self.step_index = episode.start_node, episode.start_heading, 0
        self.previous_pose = (self.node, self.heading)
        self._clip_seconds = [self.clips.num_seconds(path) for path in episode.sound_paths]
        for path, start, seconds in zip(episode.sound_paths, episode.start_seconds, self._clip_seconds):
            if start >= seconds:
                raise WorldDataError(
                    f"episode {episode.episode_id!r}: start_idx {start} is beyond the {seconds} whole seconds of {path}"
                )
        self._paths = plan_episode_motion(
            self.settings.task.motion,
            self.navigation(episode.scene),
            episode.episode_id,
            list(episode.source_nodes),
            self.settings.task.max_episode_steps * self.step_samples / self.settings.audio.sample_rate,
        )

    def act(self, action: int) -> None:
        """Apply an action and advance time by one step."""
        if self.episode is None:
            raise RuntimeError("Simulator.act before start")
        if action not in range(len(ACTION_NAMES)):
            raise ValueError(
                f"unknown action {action!r}; expected 0..{len(ACTION_NAMES) - 1} ({', '.join(ACTION_NAMES)})"
            )
        self.previous_pose = (self.node, self.heading)
        self.node, self.heading = self.navigation(self.episode.scene).step(self.node, self.heading, int(action))
        self.step_index += 1

    def clip_seconds(self) -> list[int]:
        """The clip second each source plays at the current step."""
        assert self.episode is not None
        return [
            clip_second(start, self.step_index, seconds)
            for start, seconds in zip(self.episode.start_seconds, self._clip_seconds)
        ]

    def emitters(self) -> list[int | tuple[float, float]]:
        """Where each source is at the current step: its node, or its floor (x, y) when it moves
        (env/source_motion.py: the position at the start of this step's chunk)."""
        assert self.episode is not None
        seconds = self.step_index * self.step_samples / self.settings.audio.sample_rate
        speed = self.settings.task.motion.speed
        return [emitter_at(path, node, speed, seconds) for path, node in zip(self._paths, self.episode.source_nodes)]

    def render_audio(self, with_source_binaural: bool, pose: tuple[int, int] | None = None) -> RenderedAudio:
        """This step's audio heard at the agent's pose, or at `pose` = (node, heading) (e.g. previous_pose)."""
        assert self.episode is not None
        data = self.scene(self.episode.scene)
        sources = list(zip(self.episode.sound_paths, self.clip_seconds(), self.emitters()))
        node, heading = pose if pose is not None else (self.node, self.heading)
        return self.renderer.render(
            self._scene_rirs(data, self.episode.scene), node, heading, sources, with_source_binaural
        )

    def render_views(self) -> tuple[np.ndarray, np.ndarray]:
        """(rgb uint8 HxWx3, depth float32 HxWx1) at the current node and heading: the cached arrays
        themselves (callers copy before handing them out)."""
        assert self.episode is not None
        views = self._scene_views(self.scene(self.episode.scene), self.episode.scene)
        entry = views.get((self.node, self.heading))
        if entry is None:
            raise MissingObservationError(
                f"{self.layout.observations_path(self.episode.scene)}: no view for node {self.node}, heading {self.heading}"
            )
        return entry["rgb"], entry["depth"]

    def pose(self) -> np.ndarray:
        """(x, y, heading, t) relative to the start: x metres to the right of and y metres ahead of the
        start pose, heading change in radians in [-pi, pi) (left turns positive), t = step index."""
        assert self.episode is not None
        navigation = self.navigation(self.episode.scene)
        start, here = navigation.point(self.episode.start_node), navigation.point(self.node)
        dx, dz = here[0] - start[0], here[2] - start[2]
        radians = np.radians(self.episode.start_heading)
        right = dx * np.cos(radians) - dz * np.sin(radians)
        ahead = -dx * np.sin(radians) - dz * np.cos(radians)
        turned = (np.radians(self.heading - self.episode.start_heading) + np.pi) % (2 * np.pi) - np.pi
        return np.array([right, ahead, turned, float(self.step_index)], dtype=np.float32)
