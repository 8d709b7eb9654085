"""Episodes as the env uses them: read a split, resolve each episode against its scene, share scenes among
envs, and iterate in a seeded order.

Resolution turns the habitat/SoundSpaces episode dict (world/episodes.py documents the format) into
nodes, a heading and clips. The project's extra fields (start_node, goal_nodes, start_heading) are used
when present; otherwise nodes are looked up from start_position / goals[i].position and the heading from
the start_rotation quaternion, so real SoundSpaces episodes work unchanged. Every problem raises an
EpisodeError naming the episode, the scene and what is missing.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import soundfile

from audio_separation.env.navigation import SceneNavigation, heading_of_rotation, nearest_heading
from audio_separation.world.episodes import EPISODE_SPLIT_SOURCES
from audio_separation.world.soundspaces import (
    EmptySplitError,
    SoundSpacesLayout,
    WorldDataError,
    parse_scene_id,
    read_episodes,
    read_json_gz,
    scene_of_episode,
    sound_path,
)


class EpisodeError(WorldDataError):
    """An episode names a scene, node, heading or sound the world does not have."""


@dataclass(frozen=True)
class ResolvedEpisode:
    """One episode in env terms; sources are in goal order, source 0 is the target."""

    episode_id: str
    scene: str
    start_node: int
    start_heading: int
    source_nodes: tuple[int, ...]
    sound_paths: tuple[str, ...]
    start_seconds: tuple[int, ...]
    target_label: int


def split_uses_heard_clips(split: str) -> bool:
    """Whether a split's clips come from sounds/heard (else sounds/unheard)."""
    if split in EPISODE_SPLIT_SOURCES:
        return EPISODE_SPLIT_SOURCES[split][1]
    return "unheard" not in split.lower()


def load_split(layout: SoundSpacesLayout, version: str, split: str) -> list[dict]:
    """Episodes of a split: the split file, or its content/<scene>.json.gz files when it is empty
    (habitat datasets often keep the top-level file empty)."""
    try:
        return read_episodes(layout, version, split)
    except EmptySplitError:
        folder = os.path.dirname(layout.episode_content_path(version, split, "_"))
        names = (
            sorted(name for name in os.listdir(folder) if name.endswith(".json.gz")) if os.path.isdir(folder) else []
        )
        episodes = [
            episode for name in names for episode in read_json_gz(os.path.join(folder, name)).get("episodes", [])
        ]
        if not episodes:
            raise
        return episodes


def episodes_for_env(episodes: list[dict], env_index: int, num_envs: int) -> list[dict]:
    """The share of env `env_index` of `num_envs`: scenes go round robin over envs (sorted scene names);
    with fewer scenes than envs, the envs sharing a scene take its episodes round robin."""
    if not 0 <= env_index < num_envs:
        raise ValueError(f"env index {env_index} is outside [0, {num_envs})")
    scenes = sorted({scene_of_episode(episode) for episode in episodes})
    if not scenes:
        raise EmptySplitError("no episodes to share among envs")
    if len(scenes) >= num_envs:
        mine = set(scenes[env_index::num_envs])
        return [episode for episode in episodes if scene_of_episode(episode) in mine]
    scene = scenes[env_index % len(scenes)]
    sharers = list(range(env_index % len(scenes), num_envs, len(scenes)))
    of_scene = [episode for episode in episodes if scene_of_episode(episode) == scene]
    share = of_scene[sharers.index(env_index) :: len(sharers)]
    if not share:
        raise EmptySplitError(
            f"env {env_index} of {num_envs} gets no episodes: scene {scene!r} has {len(of_scene)} episodes shared by {len(sharers)} envs; use fewer envs"
        )
    return share


def resolve_episode(
    episode: dict,
    navigation: SceneNavigation,
    layout: SoundSpacesLayout,
    heard: bool,
    num_sources: int,
    position_tolerance: float,
    sounds_folder: str = "sounds",
    clip_seconds: Callable[[str], int] | None = None,
    labels: set[int] | None = None,
    min_clip_seconds: int = 0,
) -> ResolvedEpisode:
    """Check an episode against its scene and the sound bank and resolve it; raises EpisodeError.
    clip_seconds(path), when given, checks each start_idx against the clip's whole seconds and, with
    min_clip_seconds, that the clip lasts the episode (else WORLD.LOOP_SHORT_CLIPS must allow looping);
    labels, when given, are the classes.json labels target_label must be one of. The dataset part of
    scene_id (world/soundspaces.parse_scene_id) must be the layout's dataset."""
    episode_id = str(episode.get("episode_id", "?"))
    if "scene_id" not in episode:
        raise EpisodeError(f"episode {episode_id!r} has no scene_id")
    dataset, scene = parse_scene_id(episode["scene_id"])
    where = f"episode {episode_id!r} (scene {scene!r})"
    if dataset is not None and dataset != layout.dataset:
        raise EpisodeError(
            f"{where}: scene_id {episode['scene_id']!r} is a {dataset!r} scene but WORLD.DATASET is {layout.dataset!r}"
        )

    def node_of(explicit: int | None, position: list[float] | None, what: str) -> int:
        if explicit is not None:
            if not navigation.has_node(int(explicit)):
                raise EpisodeError(
                    f"{where}: {what} node {explicit} is not in the scene graph {layout.graph_path(scene)}"
                )
            return int(explicit)
        if position is None:
            raise EpisodeError(f"{where}: {what} has neither a node index nor a position")
        try:
            return navigation.nearest_node(position, position_tolerance)
        except ValueError as error:
            raise EpisodeError(f"{where}: {what}: {error}") from None

    goals = episode.get("goals") or []
    info = episode.get("info") or []
    if len(goals) < num_sources or len(info) < num_sources:
        raise EpisodeError(
            f"{where}: has {len(goals)} goals and {len(info)} info entries; TASK.NUM_SOUNDS_IN_MIX needs {num_sources}"
        )
    start_node = node_of(episode.get("start_node"), episode.get("start_position"), "start")
    goal_nodes = episode.get("goal_nodes") or [None] * len(goals)
    source_nodes = tuple(node_of(goal_nodes[i], goals[i].get("position"), f"source {i}") for i in range(num_sources))

    try:
        if episode.get("start_heading") is not None:
            start_heading = nearest_heading(float(episode["start_heading"]), navigation.headings)
        else:
            start_heading = nearest_heading(heading_of_rotation(episode["start_rotation"]), navigation.headings)
    except (KeyError, ValueError) as error:
        raise EpisodeError(f"{where}: bad start heading ({error})") from None

    paths, starts = [], []
    for i in range(num_sources):
        entry = info[i]
        if "sound" not in entry or "start_idx" not in entry:
            raise EpisodeError(f"{where}: info[{i}] needs 'sound' and 'start_idx', got {sorted(entry)}")
        path = sound_path(layout, entry["sound"], heard, sounds_folder)
        if not os.path.isfile(path):
            raise EpisodeError(f"{where}: sound {entry['sound']!r} of source {i} not found at {path}")
        seconds = clip_seconds(path) if clip_seconds is not None else None
        if seconds is not None and seconds < min_clip_seconds:
            raise EpisodeError(
                f"{where}: sound {path} lasts {seconds} whole seconds, shorter than the episode's {min_clip_seconds} "
                "(TASK.MAX_EPISODE_STEPS); set WORLD.LOOP_SHORT_CLIPS True to loop it"
            )
        if int(entry["start_idx"]) < 0 or (seconds is not None and int(entry["start_idx"]) >= seconds):
            raise EpisodeError(
                f"{where}: start_idx {entry['start_idx']} of sound {entry['sound']!r} is outside its {seconds} whole seconds"
            )
        paths.append(path)
        starts.append(int(entry["start_idx"]))
    if "target_label" not in info[0]:
        raise EpisodeError(f"{where}: info[0] lacks 'target_label'")
    if labels is not None and int(info[0]["target_label"]) not in labels:
        raise EpisodeError(
            f"{where}: target_label {info[0]['target_label']} is not a label of the sound bank's classes.json "
            f"(labels {min(labels)}..{max(labels)})"
        )
    return ResolvedEpisode(
        episode_id=episode_id,
        scene=scene,
        start_node=start_node,
        start_heading=start_heading,
        source_nodes=source_nodes,
        sound_paths=tuple(paths),
        start_seconds=tuple(starts),
        target_label=int(info[0]["target_label"]),
    )


class EpisodeIterator:
    """Cycles over an env's episodes; with shuffle, a new seeded permutation per pass."""

    def __init__(self, episodes: list[ResolvedEpisode], shuffle: bool) -> None:
        if not episodes:
            raise EmptySplitError("an env needs at least one episode")
        self.episodes = episodes
        self.shuffle = shuffle
        self._order: list[int] = []
        self._position = 0
        self._by_id = {episode.episode_id: episode for episode in episodes}

    def restart(self) -> None:
        """Start a fresh pass at the next call to next()."""
        self._order, self._position = [], 0

    def next(self, rng: np.random.Generator) -> ResolvedEpisode:
        if self._position >= len(self._order):
            count = len(self.episodes)
            self._order = [int(i) for i in rng.permutation(count)] if self.shuffle else list(range(count))
            self._position = 0
        episode = self.episodes[self._order[self._position]]
        self._position += 1
        return episode

    def by_id(self, episode_id: str) -> ResolvedEpisode:
        if episode_id not in self._by_id:
            raise KeyError(f"episode {episode_id!r} is not among this env's {len(self.episodes)} episodes")
        return self._by_id[episode_id]


def whole_seconds_of_clip(path: str) -> int:
    """Whole seconds of an audio file from its header (no samples read); EpisodeError when unreadable."""
    try:
        info = soundfile.info(path)
    except Exception as error:
        raise EpisodeError(f"{path}: cannot read as audio ({error})") from None
    return int(info.frames // info.samplerate)


def resolve_all(
    episodes: list[dict],
    navigation_of: Callable[[str], SceneNavigation],
    **resolve_arguments,
) -> list[ResolvedEpisode]:
    """resolve_episode for every episode (start_idx checked against each clip's length, read once per
    clip); a scene that navigation_of cannot load is an EpisodeError."""
    resolve_arguments.setdefault("clip_seconds", functools.lru_cache(maxsize=None)(whole_seconds_of_clip))
    resolved = []
    for episode in episodes:
        scene = scene_of_episode(episode)
        try:
            navigation = navigation_of(scene)
        except WorldDataError as error:
            raise EpisodeError(
                f"episode {episode.get('episode_id', '?')!r} names scene {scene!r}, which cannot be loaded: {error}"
            ) from None
        resolved.append(resolve_episode(episode, navigation, **resolve_arguments))
    return resolved
