"""An MP3D-layout world written file by file (world/sample_world.py) whose RIR files and views are
exactly those its episodes need under fixed action sequences: the evidence that a large scene with a
partial RIR set runs (tests/env/test_large_scene.py, scripts/bench/large_scene.py, docs/real-data.md)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from audio_separation.env.settings import EnvSettings
from audio_separation.world.sample_world import (
    needed_rirs,
    sample_episodes,
    write_grid_scene,
    write_rirs,
    write_sound_bank,
    write_views,
)
from audio_separation.world.soundspaces import SoundSpacesLayout, write_episodes

SAMPLE_CLASSES = [("speech", True), ("music", True), ("noise", False)]


@dataclass
class SampleWorld:
    """What write_sample_world wrote: the episode ids and each episode's actions, counts of files."""

    root: str
    scene: str
    episode_ids: list[str]
    actions: list[list[int]]
    nodes: int
    rir_files: int
    views: int


def write_sample_world(
    settings: EnvSettings,
    scene: str,
    columns: int,
    rows: int,
    episodes: int,
    rir_seconds: tuple[float, float] = (0.2, 1.0),
    clip_seconds: float = 24.0,
    seed: int = 0,
) -> SampleWorld:
    """Write a columns x rows grid scene of dataset settings.world.dataset at settings.world.data_root, a
    sound bank, `episodes` episodes of split settings.task.split, and RIRs + views for exactly what those
    episodes need when each is run with its actions (seeded): no other RIR file exists."""
    from audio_separation.env.audio_separation_env import AudioSeparationEnv

    world, task = settings.world, settings.task
    layout = SoundSpacesLayout(world.data_root, world.dataset)
    graph = write_grid_scene(layout, scene, columns, rows)
    heard = "unheard" not in task.split.lower()
    classes = write_sound_bank(layout, SAMPLE_CLASSES, clip_seconds, world.rir_sample_rate, seed=seed)
    written = sample_episodes(
        graph, world.dataset, scene, episodes, classes, heard, task.num_sounds_in_mix, world.headings, seed=seed
    )
    write_episodes(layout, world.episode_version, task.split, written)
    # resolve the episodes as the env does (positions -> nodes, quaternions -> headings); reads no RIR/view
    probe = AudioSeparationEnv(dataclasses.replace(settings, max_episodes_per_env=0), episodes=written)
    rng = np.random.default_rng(seed)
    resolved = probe.episodes.episodes
    actions = [[int(a) for a in rng.integers(3, size=task.max_episode_steps - 1)] for _ in resolved]
    navigation = probe.simulator.navigation(scene)
    triples, poses = needed_rirs(
        ((e.start_node, e.start_heading, e.source_nodes, a) for e, a in zip(resolved, actions)), navigation.step
    )
    probe.close()
    rir_files = write_rirs(layout, scene, triples, world.rir_sample_rate, rir_seconds, seed)
    write_views(layout, scene, poses, world.view_resolution)
    return SampleWorld(
        root=world.data_root,
        scene=scene,
        episode_ids=[e.episode_id for e in resolved],
        actions=actions,
        nodes=graph.number_of_nodes(),
        rir_files=rir_files,
        views=len(poses),
    )
