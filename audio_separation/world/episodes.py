"""Active-separation episode datasets and passive (pre-training) datapoints of a world, from a seed.

Scene roles. `split_scenes` divides a world's scenes into disjoint train / val / test roles (about
60/20/20, each role non-empty once there are >= 3 scenes); `write_scene_splits` stores them at
active_datasets/<version>/scene_splits.json so every consumer agrees which scenes are which.

Episode splits (active_datasets/<version>/<split>/<split>.json.gz + content/<scene>.json.gz):

    split         scenes   clips
    train         train    heard
    val           val      heard
    valUnheard    val      unheard
    test          test     heard
    testUnheard   test     unheard

Each episode is a habitat NavigationEpisode with the SoundSpaces fields:
    episode_id              str, index within the split
    scene_id                "<dataset>/<scene>/<scene>.glb"
    start_position          [x, y, z] habitat frame (the start node's 'point')
    start_rotation          quaternion [x, y, z, w] of the start heading h about +y: [0, sin(h/2), 0, cos(h/2)]
    goals                   [{"position": [x, y, z], "radius": 1e-5}] per source; goals[0] is the TARGET
    info                    [{"sound": "<class>_<id>.wav", "start_idx": seconds, "target_label": int}] per
                            source, in goal order; target_label is the target's label in every entry
    all_geodesic_distances  metres from the start node to each goal node (shortest path on 'weight')
and the extra fields of this project:
    start_node              graph node index of the agent's start
    goal_nodes              graph node index of each source (goal order)
    start_heading           start heading in degrees, one of 0/90/180/270
    sound_classes           class name of each source (goal order)

Sampling rules (near-target task): nodes come from the graph's largest connected component; the target
node is uniform among nodes that have a valid start, the start is uniform among nodes whose geodesic
distance to the target is in (0, near_target_radius]; distractors sit on distinct nodes that are neither
the target nor the start. The target class is uniform among target-eligible classes ("target": true in
classes.json); each distractor class differs from the target's and, when enough classes exist, from the
other distractors' (noise classes are distractor-only). A clip is uniform among its class's clips; its
start_idx uniform in [0, floor(seconds of the clip)). Clips shorter than `clip_seconds_needed` are
left out (logged). Episodes go round-robin over the role's scenes in sorted order, so every scene gets
an equal share (+-1) and any prefix of a split covers the scenes evenly.
Source sites (source_nodes, the benchmark preset's partial RIR set, world/partial_build.py): the target
and the distractors sit only on the scene's sites; the start (and a passive datapoint's receiver) may be
any node. Without them (None) the draws are exactly those described above.

Passive datapoints (passive_datasets/<version>/<split>/<scene>.pkl): a list of
{'r': receiver node, 'azimuth': 0/90/180/270, 'all_s': [num_sounds_in_mix distinct source nodes != r]}.
    split               scenes   clips the passive trainer draws per item
    train               train    heard
    val                 val      heard
    nonoverlapping_val  val      unheard   (selects best_ckpt_nonoverlapping_val.pth)
Classes and clips are not stored: the passive trainer resamples them per item.

Far-target splits (`build_far_target_datasets`, Move2Hear's second task): <split>_farTarget for each split
above (same scenes and clips), sampled by the same rules except that the start is uniform among nodes
whose geodesic distance to the target is >= min_distance (TASK.FAR_TARGET_MIN_DISTANCE, 8 m). A scene
without such a pair contributes no episodes (logged, and listed in active_datasets/<version>/far_target.json
with the threshold, seed and counts); a split whose scenes all lack one is not written.

Determinism: every split draws from its own numpy Generator seeded from (seed, stream, split index),
and everything is iterated in sorted order, so the same seed gives byte-identical files.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import soundfile as sf

from audio_separation.common.files import write_json_atomic
from audio_separation.world.soundspaces import (
    HEADINGS,
    ChannelError,
    MissingSoundError,
    SampleRateError,
    SoundSpacesLayout,
    WorldDataError,
    list_sounds,
    read_episodes,
    read_graph,
    read_sound_classes,
    sound_class,
    sound_classes_path,
    sound_path,
    write_episodes,
    write_passive,
)

logger = logging.getLogger("audio_separation")

EPISODE_SPLITS = ("train", "val", "valUnheard", "test", "testUnheard")
PASSIVE_SPLITS = ("train", "val", "nonoverlapping_val")
SCENE_ROLES = ("train", "val", "test")
GOAL_RADIUS = 1e-5  # habitat NavigationGoal radius; sources are points

# split -> (scene role, whether it uses heard clips)
EPISODE_SPLIT_SOURCES = {
    "train": ("train", True),
    "val": ("val", True),
    "valUnheard": ("val", False),
    "test": ("test", True),
    "testUnheard": ("test", False),
}
PASSIVE_SPLIT_SCENES = {"train": "train", "val": "val", "nonoverlapping_val": "val"}

_EPISODE_STREAM = 0  # seeds (seed, stream, split index): episode and passive draws never share a stream
_PASSIVE_STREAM = 1
_FAR_TARGET_STREAM = 3  # stream 2 is split_scenes'

# Far-target task (Move2Hear): the same splits with the suffix, every start >= TASK.FAR_TARGET_MIN_DISTANCE
# (geodesic) from its target; an option of the builder (scripts/build_far_target_episodes.py adds them).
FAR_TARGET_SUFFIX = "_farTarget"
FAR_TARGET_REPORT = "far_target.json"  # in active_datasets/<version>/: threshold, counts, scenes without pairs
FAR_TARGET_SPLITS = tuple(f"{split}{FAR_TARGET_SUFFIX}" for split in EPISODE_SPLITS)


# ============================================================================================ scene roles
def split_scenes(
    scenes: list[str], rng_seed: int, role_counts: tuple[int, int, int] | None = None
) -> dict[str, list[str]]:
    """{'train': [...], 'val': [...], 'test': [...]} disjoint; with >= 3 scenes each role gets at least one;
    roughly 60/20/20; deterministic. With 1 scene only train is filled, with 2 train and val.
    role_counts: (train, val, test) scene counts instead (they must add up to the number of scenes)."""
    unique = sorted(set(scenes))
    if not unique:
        raise ValueError("split_scenes: no scenes to split")
    count = len(unique)
    if role_counts is not None:
        if sum(role_counts) != count or min(role_counts) < 0:
            raise ValueError(f"split_scenes: role counts {role_counts} do not split {count} scenes")
        num_val, num_test = int(role_counts[1]), int(role_counts[2])
    elif count >= 3:
        num_val = max(1, math.floor(0.2 * count + 0.5))
        num_test = max(1, math.floor(0.2 * count + 0.5))
    else:
        num_val, num_test = count - 1, 0
    order = np.random.default_rng(_seed_words(rng_seed, 2, 0)).permutation(count)
    shuffled = [unique[i] for i in order]
    num_train = count - num_val - num_test
    return {
        "train": sorted(shuffled[:num_train]),
        "val": sorted(shuffled[num_train : num_train + num_val]),
        "test": sorted(shuffled[num_train + num_val :]),
    }


def write_scene_splits(layout: SoundSpacesLayout, version: str, scene_roles: dict[str, list[str]]) -> str:
    """Store the scene roles at active_datasets/<version>/scene_splits.json; returns the path."""
    roles = {role: sorted(scene_roles.get(role, [])) for role in SCENE_ROLES}
    _check_disjoint(roles)
    path = layout.scene_splits_path(version)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return write_json_atomic(path, roles, sort_keys=True)


def read_scene_splits(layout: SoundSpacesLayout, version: str) -> dict[str, list[str]]:
    """The scene roles written by write_scene_splits; raises WorldDataError naming the file."""
    path = layout.scene_splits_path(version)
    if not os.path.isfile(path):
        raise WorldDataError(f"scene splits not found: {path} (written when the episode datasets are built)")
    try:
        with open(path) as handle:
            roles = json.load(handle)
    except json.JSONDecodeError as error:
        raise WorldDataError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(roles, dict) or set(roles) != set(SCENE_ROLES):
        raise WorldDataError(
            f"{path}: expected keys {list(SCENE_ROLES)}, got {sorted(roles) if isinstance(roles, dict) else type(roles).__name__}"
        )
    for role, scenes in roles.items():
        if not isinstance(scenes, list) or not all(isinstance(scene, str) for scene in scenes):
            raise WorldDataError(f"{path}: role {role!r} must be a list of scene names")
    return roles


# ============================================================================================ episodes
def build_episode_datasets(
    layout: SoundSpacesLayout,
    version: str,
    scene_roles: dict[str, list[str]],
    counts: dict[str, int],
    num_sounds_in_mix: int,
    near_target_radius: float,
    seed: int,
    sounds_folder: str = "sounds",
    clip_seconds_needed: int = 20,
    source_nodes: dict[str, list[int]] | None = None,
) -> dict[str, int]:
    """Writes active_datasets/<version>/<split>/<split>.json.gz (+content/) for every split in
    EPISODE_SPLITS and scene_splits.json; returns episodes per split. source_nodes: per scene, the only
    nodes sources may sit on (a partial RIR set's source sites); None: any node."""
    if not near_target_radius > 0:
        raise ValueError(f"near_target_radius must be > 0 metres, got {near_target_radius}")
    pools = _checked_sound_pools(layout, scene_roles, counts, num_sounds_in_mix, sounds_folder, clip_seconds_needed)
    scenes: dict[str, _SceneNodes] = {}
    for role in SCENE_ROLES:
        for scene in sorted(scene_roles[role]):
            sites = None if source_nodes is None else source_nodes[scene]
            scenes[scene] = _scene_nodes(layout, scene, num_sounds_in_mix + 1, near_target_radius, sites)

    written = {}
    for split_index, split in enumerate(EPISODE_SPLITS):
        role, heard = EPISODE_SPLIT_SOURCES[split]
        rng = np.random.default_rng(_seed_words(seed, _EPISODE_STREAM, split_index))
        role_scenes = [scenes[scene] for scene in sorted(scene_roles[role])]
        written[split] = _write_split(
            layout, version, split, rng, role_scenes, pools[heard], num_sounds_in_mix, int(counts[split])
        )
    write_scene_splits(layout, version, scene_roles)
    return written


def build_far_target_datasets(
    layout: SoundSpacesLayout,
    version: str,
    scene_roles: dict[str, list[str]],
    counts: dict[str, int],
    num_sounds_in_mix: int,
    min_distance: float,
    seed: int,
    sounds_folder: str = "sounds",
    clip_seconds_needed: int = 20,
    source_nodes: dict[str, list[int]] | None = None,
) -> dict:
    """Writes active_datasets/<version>/<split>_farTarget/ for every split in EPISODE_SPLITS (counts are
    keyed by those names) whose scenes have a (target, start) pair >= min_distance metres apart
    (geodesic), and far_target.json; returns that file's content: {"min_distance", "seed", "episodes":
    {far split: count}, "scenes_without_pairs": [...], "max_geodesic_distance": {scene: metres}}.
    Episodes go round-robin over the role's scenes that have a pair; a split without such a scene gets 0
    episodes and no files (an earlier build's are removed)."""
    if not min_distance > 0:
        raise ValueError(f"min_distance (TASK.FAR_TARGET_MIN_DISTANCE) must be > 0 metres, got {min_distance}")
    pools = _checked_sound_pools(layout, scene_roles, counts, num_sounds_in_mix, sounds_folder, clip_seconds_needed)
    scenes: dict[str, _SceneNodes] = {}
    longest: dict[str, float] = {}
    for role in SCENE_ROLES:
        for scene in sorted(scene_roles[role]):
            sites = None if source_nodes is None else source_nodes[scene]
            scenes[scene], longest[scene] = _scene_far_nodes(layout, scene, num_sounds_in_mix + 1, min_distance, sites)
    without = sorted(scene for scene, nodes in scenes.items() if not nodes.targets)
    for scene in without:
        logger.warning(
            "far-target episodes: scene %s has no pair of nodes >= %s m apart (geodesic; its longest is %.2f m), so it contributes none",
            scene,
            min_distance,
            longest[scene],
        )

    written = {}
    for split_index, split in enumerate(EPISODE_SPLITS):
        role, heard = EPISODE_SPLIT_SOURCES[split]
        far_split = f"{split}{FAR_TARGET_SUFFIX}"
        role_scenes = [scenes[scene] for scene in sorted(scene_roles[role]) if scenes[scene].targets]
        if not role_scenes:
            logger.warning(
                "far-target split %s: none of the %s scenes %s has a pair >= %s m apart; no episodes written",
                far_split,
                role,
                sorted(scene_roles[role]),
                min_distance,
            )
            folder = os.path.dirname(layout.episodes_path(version, far_split))
            if os.path.isdir(folder):
                shutil.rmtree(folder)
            written[far_split] = 0
            continue
        rng = np.random.default_rng(_seed_words(seed, _FAR_TARGET_STREAM, split_index))
        written[far_split] = _write_split(
            layout, version, far_split, rng, role_scenes, pools[heard], num_sounds_in_mix, int(counts[split])
        )
    report = {
        "min_distance": float(min_distance),
        "seed": int(seed),
        "num_sounds_in_mix": int(num_sounds_in_mix),
        "episodes": written,
        "scenes_without_pairs": without,
        "max_geodesic_distance": {scene: round(longest[scene], 6) for scene in sorted(longest)},
    }
    path = os.path.join(os.path.dirname(layout.scene_splits_path(version)), FAR_TARGET_REPORT)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_json_atomic(path, report, sort_keys=True)
    return report


def _scene_far_nodes(
    layout: SoundSpacesLayout, scene: str, nodes_needed: int, min_distance: float, sites: list[int] | None = None
) -> tuple[_SceneNodes, float]:
    """The scene's nodes with, per target, the starts >= min_distance away (geodesic); and the scene's
    longest geodesic distance (its largest component's)."""
    path = layout.graph_path(scene)
    graph = read_graph(path)
    nodes = _largest_component(graph)
    if len(nodes) < nodes_needed:
        raise ValueError(
            f"scene {scene!r} ({path}): its largest connected component has {len(nodes)} nodes; an episode needs {nodes_needed} distinct nodes (agent + sources)"
        )
    starts_far, longest = {}, 0.0
    for target in nodes:
        distances = nx.single_source_dijkstra_path_length(graph, target, weight="weight")
        longest = max(longest, max(distances.values()))
        starts_far[target] = sorted(node for node, distance in distances.items() if distance >= min_distance)
    sources = None if sites is None else _checked_sites(scene, sites, set(nodes), nodes_needed)
    return _SceneNodes(name=scene, graph=graph, nodes=nodes, starts_near=starts_far, sources=sources), float(longest)


@dataclass
class _SceneNodes:
    """A scene's usable nodes: the largest connected component and the near-target starts per target."""

    name: str
    graph: nx.Graph
    nodes: list[int]  # sorted nodes of the largest connected component
    starts_near: dict[
        int, list[int]
    ]  # target node -> sorted start nodes within the radius (> 0 m); far-target: >= the minimum
    sources: list[int] | None = None  # sorted nodes a source may sit on; None: any node of `nodes`
    targets: list[int] = field(init=False)  # sorted target nodes that have at least one start

    def __post_init__(self) -> None:
        allowed = set(self.nodes if self.sources is None else self.sources)
        self.targets = sorted(node for node, starts in self.starts_near.items() if starts and node in allowed)


def _scene_nodes(
    layout: SoundSpacesLayout, scene: str, nodes_needed: int, radius: float, sites: list[int] | None = None
) -> _SceneNodes:
    path = layout.graph_path(scene)
    graph = read_graph(path)
    nodes = _largest_component(graph)
    if len(nodes) < nodes_needed:
        raise ValueError(
            f"scene {scene!r} ({path}): its largest connected component has {len(nodes)} nodes; an episode needs {nodes_needed} distinct nodes (agent + sources)"
        )
    members = set(nodes)
    sources = None if sites is None else _checked_sites(scene, sites, members, nodes_needed)
    starts_near = {}
    for target in nodes:
        within = nx.single_source_dijkstra_path_length(graph, target, cutoff=radius, weight="weight")
        starts_near[target] = sorted(node for node, distance in within.items() if distance > 0 and node in members)
    scene_nodes = _SceneNodes(name=scene, graph=graph, nodes=nodes, starts_near=starts_near, sources=sources)
    if not scene_nodes.targets:
        raise ValueError(
            f"scene {scene!r} ({path}): no node lies within {radius} m (geodesic, > 0) of another node, so no near-target start exists"
        )
    return scene_nodes


def _checked_sites(scene: str, sites: list[int], members: set[int], nodes_needed: int) -> list[int]:
    """The source sites of a scene, sorted; an error when one lies off the largest component or too few."""
    outside = sorted(set(sites) - members)
    if outside:
        raise ValueError(f"scene {scene!r}: source sites {outside} are not on its largest connected component")
    if len(set(sites)) < nodes_needed:  # the agent may stand on a site: one more than the sources
        raise ValueError(f"scene {scene!r}: {len(set(sites))} source sites; at least {nodes_needed} are needed")
    return sorted(set(sites))


def _largest_component(graph: nx.Graph) -> list[int]:
    """Sorted nodes of the largest connected component (ties: the one holding the smallest node)."""
    components = [sorted(component) for component in nx.connected_components(graph)]
    return max(components, key=lambda component: (len(component), -component[0]))


def _sample_episode(
    rng: np.random.Generator, dataset: str, scene: _SceneNodes, pool: _SoundPool, num_sounds: int, index: int
) -> dict:
    target_node = scene.targets[int(rng.integers(len(scene.targets)))]
    starts = scene.starts_near[target_node]
    start_node = starts[int(rng.integers(len(starts)))]
    heading = HEADINGS[int(rng.integers(len(HEADINGS)))]
    candidates = scene.nodes if scene.sources is None else scene.sources
    free = [node for node in candidates if node not in (target_node, start_node)]
    distractor_nodes = [free[int(i)] for i in rng.choice(len(free), size=num_sounds - 1, replace=False)]
    goal_nodes = [target_node, *distractor_nodes]

    classes = pool.sample_classes(rng, num_sounds)
    target_label = pool.labels[classes[0]]
    info = []
    for name in classes:
        clips = pool.clips_by_class[name]
        clip = clips[int(rng.integers(len(clips)))]
        info.append({"sound": clip, "start_idx": int(rng.integers(pool.seconds[clip])), "target_label": target_label})

    distances = nx.single_source_dijkstra_path_length(scene.graph, start_node, weight="weight")
    half_angle = math.radians(heading) / 2
    return {
        "episode_id": str(index),
        "scene_id": f"{dataset}/{scene.name}/{scene.name}.glb",
        "start_position": _point(scene.graph, start_node),
        "start_rotation": [0.0, _clean(math.sin(half_angle)), 0.0, _clean(math.cos(half_angle))],
        "goals": [{"position": _point(scene.graph, node), "radius": GOAL_RADIUS} for node in goal_nodes],
        "info": info,
        "all_geodesic_distances": [float(distances[node]) for node in goal_nodes],
        "start_node": int(start_node),
        "goal_nodes": [int(node) for node in goal_nodes],
        "start_heading": int(heading),
        "sound_classes": list(classes),
    }


# ============================================================================================ sound pools
@dataclass
class _SoundPool:
    """The heard or unheard clips usable for episodes, grouped by class."""

    heard: bool
    clips_by_class: dict[str, list[str]]  # class -> sorted clip names (only classes with clips)
    seconds: dict[str, int]  # clip name -> whole seconds
    labels: dict[str, int]  # class -> label
    target_classes: list[str]  # sorted target-eligible classes with clips
    folder: str

    def sample_classes(self, rng: np.random.Generator, num_sounds: int) -> list[str]:
        """[target, distractors...]: distractors differ from the target, and from each other when possible."""
        target = self.target_classes[int(rng.integers(len(self.target_classes)))]
        others = sorted(name for name in self.clips_by_class if name != target)
        wanted = num_sounds - 1
        if wanted == 0:
            return [target]
        if not others:
            raise WorldDataError(f"{self.folder}: only class {target!r} has clips; distractors need another class")
        if len(others) >= wanted:
            chosen = rng.choice(len(others), size=wanted, replace=False)
        else:
            chosen = rng.choice(len(others), size=wanted, replace=True)
        return [target, *(others[int(i)] for i in chosen)]


def _load_sound_pool(
    layout: SoundSpacesLayout, heard: bool, sounds_folder: str, class_list: dict, seconds_needed: int
) -> _SoundPool:
    classes_path = sound_classes_path(layout, sounds_folder)
    kind = "heard" if heard else "unheard"
    names = list_sounds(layout, heard, sounds_folder)
    listed = class_list.get(kind)
    if listed is not None and sorted(listed) != names:
        raise WorldDataError(
            f"{classes_path}: its '{kind}' list does not match the clips in {os.path.dirname(sound_path(layout, names[0], heard, sounds_folder))}"
        )
    labels = {entry["name"]: int(entry["label"]) for entry in class_list["classes"]}
    eligible = {entry["name"] for entry in class_list["classes"] if entry["target"]}
    sample_rate = class_list.get("sample_rate")
    clips_by_class: dict[str, list[str]] = {}
    seconds: dict[str, int] = {}
    too_short = []
    for name in names:
        path = sound_path(layout, name, heard, sounds_folder)
        if sound_class(name) not in labels:
            raise WorldDataError(f"{path}: class {sound_class(name)!r} is not listed in {classes_path}")
        info = sf.info(path)
        if info.channels != 1:
            raise ChannelError(f"{path}: expected a mono clip, found {info.channels} channels")
        if sample_rate is not None and info.samplerate != sample_rate:
            raise SampleRateError(f"{path}: sample rate {info.samplerate} Hz, {classes_path} says {sample_rate} Hz")
        whole_seconds = int(info.frames // info.samplerate)
        if whole_seconds < max(1, seconds_needed):
            too_short.append(name)
            continue
        seconds[name] = whole_seconds
        clips_by_class.setdefault(sound_class(name), []).append(name)
    if too_short:
        logger.warning(
            "%d %s clips shorter than %d s are left out of the episodes (first: %s)",
            len(too_short),
            kind,
            seconds_needed,
            too_short[0],
        )
    target_classes = sorted(name for name in clips_by_class if name in eligible)
    folder = os.path.join(layout.sounds_dir(sounds_folder), kind)
    if not target_classes:
        raise MissingSoundError(
            f"{folder}: no clip of at least {seconds_needed} s belongs to a target-eligible class of {classes_path}"
        )
    return _SoundPool(
        heard=heard,
        clips_by_class=clips_by_class,
        seconds=seconds,
        labels=labels,
        target_classes=target_classes,
        folder=folder,
    )


def load_sound_pool(
    layout: SoundSpacesLayout, heard: bool, sounds_folder: str = "sounds", seconds_needed: int = 1
) -> _SoundPool:
    """The heard or unheard clips (at least seconds_needed whole seconds) grouped by class, with the
    episodes' class rule in sample_classes; the passive dataset draws its items from it."""
    return _load_sound_pool(layout, heard, sounds_folder, read_sound_classes(layout, sounds_folder), seconds_needed)


# ============================================================================================ passive
def build_passive_datasets(
    layout: SoundSpacesLayout,
    version: str,
    scene_roles: dict[str, list[str]],
    datapoints_per_scene: dict[str, int],
    num_sounds_in_mix: int,
    seed: int,
    source_nodes: dict[str, list[int]] | None = None,
) -> dict[str, int]:
    """Writes passive_datasets/<version>/<split>/<scene>.pkl for every split in PASSIVE_SPLITS; returns
    datapoints per split (all scenes together). source_nodes: per scene, the only nodes sources may sit on
    (the receiver may be any node); None: any node."""
    _check_roles(scene_roles, ("train", "val"))
    _check_counts(datapoints_per_scene, PASSIVE_SPLITS, "datapoints_per_scene")
    if num_sounds_in_mix < 1:
        raise ValueError(f"num_sounds_in_mix must be >= 1, got {num_sounds_in_mix}")
    nodes_of, sources_of = {}, {}
    for role in ("train", "val"):
        for scene in sorted(scene_roles[role]):
            path = layout.graph_path(scene)
            nodes = _largest_component(read_graph(path))
            if len(nodes) < num_sounds_in_mix + 1:
                raise ValueError(
                    f"scene {scene!r} ({path}): its largest connected component has {len(nodes)} nodes; a datapoint needs {num_sounds_in_mix + 1} distinct nodes"
                )
            nodes_of[scene] = nodes
            if source_nodes is not None:
                sources_of[scene] = _checked_sites(scene, source_nodes[scene], set(nodes), num_sounds_in_mix + 1)

    written = {}
    for split_index, split in enumerate(PASSIVE_SPLITS):
        rng = np.random.default_rng(_seed_words(seed, _PASSIVE_STREAM, split_index))
        total = 0
        for scene in sorted(scene_roles[PASSIVE_SPLIT_SCENES[split]]):
            nodes = nodes_of[scene]
            datapoints = []
            for _ in range(int(datapoints_per_scene[split])):
                receiver = nodes[int(rng.integers(len(nodes)))]
                others = [node for node in sources_of.get(scene, nodes) if node != receiver]
                sources = [int(others[int(i)]) for i in rng.choice(len(others), size=num_sounds_in_mix, replace=False)]
                datapoints.append(
                    {"r": int(receiver), "azimuth": HEADINGS[int(rng.integers(len(HEADINGS)))], "all_s": sources}
                )
            write_passive(layout, version, split, scene, datapoints)
            total += len(datapoints)
        _remove_stale(layout.passive_path(version, split, "_"), set(scene_roles[PASSIVE_SPLIT_SCENES[split]]), ".pkl")
        written[split] = total
    return written


# ============================================================================================ helpers
def _seed_words(seed: int, stream: int, index: int) -> list[int]:
    if int(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    return [int(seed), int(stream), int(index)]


def _check_roles(scene_roles: dict[str, list[str]], needed: tuple[str, ...]) -> None:
    unknown = sorted(set(scene_roles) - set(SCENE_ROLES))
    if unknown:
        raise ValueError(f"scene_roles has unknown roles {unknown}; expected {list(SCENE_ROLES)}")
    for role in needed:
        if not scene_roles.get(role):
            raise ValueError(f"scene role {role!r} has no scenes; every one of {list(needed)} needs at least one")
    _check_disjoint(scene_roles)


def _check_disjoint(scene_roles: dict[str, list[str]]) -> None:
    roles = sorted(scene_roles)
    for i, first in enumerate(roles):
        for second in roles[i + 1 :]:
            shared = sorted(set(scene_roles[first]) & set(scene_roles[second]))
            if shared:
                raise ValueError(f"scene roles {first!r} and {second!r} share scenes {shared}; roles must be disjoint")


def _check_counts(counts: dict[str, int], splits: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(counts) - set(splits))
    if unknown:
        raise ValueError(f"{what} has unknown splits {unknown}; expected {list(splits)}")
    for split in splits:
        if split not in counts:
            raise ValueError(f"{what} lacks split {split!r}; expected a count for each of {list(splits)}")
        if int(counts[split]) < 1 or int(counts[split]) != counts[split]:
            raise ValueError(f"{what}[{split!r}] must be a positive integer, got {counts[split]!r}")


def _remove_stale(example_path: str, scenes: set[str], suffix: str) -> None:
    """Delete per-scene files of scenes no longer in the split (a rebuild with other roles), so readers
    that list the folder see only this build's scenes."""
    folder = os.path.dirname(example_path)
    for name in sorted(os.listdir(folder)):
        if name.endswith(suffix) and name[: -len(suffix)] not in scenes:
            logger.info("removing stale %s from an earlier build", os.path.join(folder, name))
            os.remove(os.path.join(folder, name))


def _point(graph: nx.Graph, node: int) -> list[float]:
    return [float(v) for v in graph.nodes[node]["point"]]


def _clean(value: float) -> float:
    """Round away floating noise such as cos(90 deg) = 6e-17 (and -0.0) so quaternions read cleanly."""
    return round(value, 12) + 0.0


def short_episode_clips(
    layout: SoundSpacesLayout, version: str, split: str, seconds_needed: int, sounds_folder: str = "sounds"
) -> list[tuple[str, int]]:
    """(path, whole seconds) of every clip the split's episodes use that is shorter than seconds_needed
    (such a clip wraps around, audio/mixing.clip_second, and repeats within one episode)."""
    heard = not split.endswith("Unheard")
    short = {}
    for episode in read_episodes(layout, version, split):
        for entry in episode.get("info") or []:
            if "sound" not in entry:
                continue
            path = sound_path(layout, entry["sound"], heard, sounds_folder)
            if path in short or not os.path.isfile(path):
                continue
            info = sf.info(path)
            short[path] = int(info.frames // info.samplerate)
    return sorted((path, seconds) for path, seconds in short.items() if seconds < seconds_needed)


def _checked_sound_pools(
    layout, scene_roles, counts, num_sounds_in_mix: int, sounds_folder: str, clip_seconds_needed: int
):
    """The checks every episode generator starts with, then {heard: clip pool}."""
    _check_roles(scene_roles, SCENE_ROLES)
    _check_counts(counts, EPISODE_SPLITS, "counts")
    if num_sounds_in_mix < 1:
        raise ValueError(f"num_sounds_in_mix must be >= 1, got {num_sounds_in_mix}")
    class_list = read_sound_classes(layout, sounds_folder)
    pools = {
        heard: _load_sound_pool(layout, heard, sounds_folder, class_list, clip_seconds_needed)
        for heard in (True, False)
    }
    return pools


def _write_split(layout, version: str, name: str, rng, role_scenes, pool, num_sounds_in_mix: int, count: int) -> int:
    """Sample `count` episodes round-robin over the role's scenes, write split `name` (removing content files
    of scenes no longer in it); returns the number written."""
    episodes = [
        _sample_episode(rng, layout.dataset, role_scenes[index % len(role_scenes)], pool, num_sounds_in_mix, index)
        for index in range(count)
    ]
    write_episodes(layout, version, name, episodes)
    _remove_stale(layout.episode_content_path(version, name, "_"), {scene.name for scene in role_scenes}, ".json.gz")
    return len(episodes)


def sample_world_datasets(
    layout: SoundSpacesLayout,
    version: str,
    roles: dict,
    preset,
    config,
    seed: int,
    far_target: bool = False,
    source_nodes: dict[str, list[int]] | None = None,
) -> tuple[dict, dict, dict | None]:
    """A generated world's episode splits, passive datapoints and (far_target) far-target splits, with the
    preset's counts and the config's TASK / WORLD.SOUNDS_DIR settings; returns (episodes, passive, far or
    None) as the build report lists them. source_nodes: per scene, the only nodes sources may sit on."""
    episodes = build_episode_datasets(
        layout,
        version,
        roles,
        dict(preset.episodes),
        num_sounds_in_mix=config.TASK.NUM_SOUNDS_IN_MIX,
        near_target_radius=config.TASK.NEAR_TARGET_RADIUS,
        seed=seed,
        sounds_folder=config.WORLD.SOUNDS_DIR,
        source_nodes=source_nodes,
    )
    passive = build_passive_datasets(
        layout,
        version,
        roles,
        dict(preset.passive),
        num_sounds_in_mix=config.TASK.NUM_SOUNDS_IN_MIX,
        seed=seed,
        source_nodes=source_nodes,
    )
    far = None
    if far_target:
        far = build_far_target_datasets(
            layout,
            version,
            roles,
            dict(preset.episodes),
            num_sounds_in_mix=config.TASK.NUM_SOUNDS_IN_MIX,
            min_distance=config.TASK.FAR_TARGET_MIN_DISTANCE,
            seed=seed,
            sounds_folder=config.WORLD.SOUNDS_DIR,
            source_nodes=source_nodes,
        )
    return episodes, passive, far
