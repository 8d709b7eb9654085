"""NAF data: per-scene HDF5 of binaural log-magnitude spectrograms, normalisation stats and a saved split.

Files, under <NAF.DATA_DIR>/<dataset>/<scene>/:
    logmag.h5    logmag/<heading>_<listener>_<emitter>   float16 (2 ears, n_fft // 2 bins, frames)
                 waveform/<heading>_<listener>_<emitter> float32 (2 ears, samples) at NAF.SAMPLE_RATE
                 index/{keys, listener, emitter, heading, listener_xy, emitter_xy}; attrs = parameters
    split.json   {"seed", "train": [keys], "test": [keys]}: a seeded 90/10 split of every triple
    stats.npz    mean, std over the TRAIN split per (freq, frame), padded to max_len with log(LOG_EPS)

Every world in the SoundSpaces layout works (generated, Replica, MP3D): RIRs are streamed one by one
through the lazy RIR store (world/rir_store.py; memory stays bounded whatever the scene's size), positions
are points.txt's mesh-frame floor coordinates (x, y). NAF.LISTENERS / NAF.EMITTERS limit the build to
subsets of nodes (large scenes, partial RIR sets); with WORLD.ALLOW_MISSING_RIRS a missing RIR is left out
of the data (counted, logged) instead of being learned as silence. logmag.h5 records the world it came
from (world_key: data root, dataset, scene, size + mtime of points.txt and graph.pkl, the node subsets,
ALLOW_MISSING_RIRS): data from another world, or from a changed one, is rebuilt (two worlds with the same
scene names, e.g. tiny and default, never share NAF data).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass

import h5py
import numpy as np
from yacs.config import CfgNode

from audio_separation.audio.stft import StftParams, stft
from audio_separation.common.errors import ProjectError
from audio_separation.common.files import write_json_atomic
from audio_separation.world.rir_store import open_scene_rirs
from audio_separation.world.soundspaces import (
    HEADINGS,
    SoundSpacesLayout,
    file_identity,
    read_graph,
    read_points,
)

logger = logging.getLogger("audio_separation")

FORMAT_VERSION = 1


class NafDataError(ProjectError, RuntimeError):
    """NAF data files are missing, inconsistent with the config, or empty."""


# ============================================================================================ params
@dataclass(frozen=True)
class NafAudioParams:
    """Everything that decides the stored log-magnitudes (compared with the HDF5 attrs on load)."""

    sample_rate: int
    n_fft: int
    hop_length: int
    pad_mode: str
    append_zeros: int
    min_samples: int
    log_eps: float

    @classmethod
    def from_config(cls, config: CfgNode) -> NafAudioParams:
        naf = config.NAF
        return cls(
            sample_rate=int(naf.SAMPLE_RATE),
            n_fft=int(naf.N_FFT),
            hop_length=int(naf.HOP_LENGTH),
            pad_mode=str(naf.PAD_MODE),
            append_zeros=int(naf.APPEND_ZEROS),
            min_samples=int(round(naf.MIN_SECONDS * naf.SAMPLE_RATE)),
            log_eps=float(naf.LOG_EPS),
        )

    @property
    def stft_params(self) -> StftParams:
        return StftParams(
            n_fft=self.n_fft, hop_length=self.hop_length, win_length=self.n_fft, center=True, pad_mode=self.pad_mode
        )

    @property
    def num_freq_bins(self) -> int:
        return self.n_fft // 2  # the Nyquist bin is dropped

    def as_attrs(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def logmag_of_waveform(waveform: np.ndarray, params: NafAudioParams) -> np.ndarray:
    """(2, samples) RIR -> (2, n_fft // 2, frames) float32 log(|STFT| + eps), after appending
    params.append_zeros zeros and padding to params.min_samples (the paper's preprocessing)."""
    padded = np.concatenate([waveform, np.zeros((waveform.shape[0], params.append_zeros), waveform.dtype)], axis=-1)
    if padded.shape[-1] < params.min_samples:
        padded = np.pad(padded, ((0, 0), (0, params.min_samples - padded.shape[-1])))
    spectrum = stft(padded.astype(np.float32), params.stft_params)[:, : params.num_freq_bins]
    return np.log(np.abs(spectrum) + params.log_eps).astype(np.float32)


def trim_trailing_silence(rir: np.ndarray) -> np.ndarray:
    """(samples, 2) -> (2, samples') without the exact-zero tail that packing added (>= 1 sample kept)."""
    nonzero = np.flatnonzero(np.any(rir != 0, axis=1))
    end = int(nonzero[-1]) + 1 if nonzero.size else 1
    return np.ascontiguousarray(rir[:end].T, dtype=np.float32)


# ============================================================================================ paths
def scene_data_dir(config: CfgNode, scene: str | None = None) -> str:
    return os.path.join(config.NAF.DATA_DIR, config.WORLD.DATASET, scene or config.NAF.SCENE)


def node_subsets(config: CfgNode, nodes: list[int], where: str) -> tuple[list[int], list[int]]:
    """(listeners, emitters): NAF.LISTENERS / NAF.EMITTERS (empty = every node), checked against the graph."""
    known = set(nodes)
    chosen = []
    for key in ("LISTENERS", "EMITTERS"):
        wanted = [int(node) for node in config.NAF[key]]
        unknown = [node for node in wanted if node not in known]
        if unknown:
            raise NafDataError(f"NAF.{key} names nodes {unknown[:5]} that are not in {where}")
        chosen.append(sorted(set(wanted)) if wanted else list(nodes))
    return chosen[0], chosen[1]


def world_key(config: CfgNode, scene: str) -> str:
    """What a scene's NAF data was built from (stored in logmag.h5's attrs, compared by ensure_scene_data)."""
    layout = SoundSpacesLayout(config.WORLD.DATA_ROOT, config.WORLD.DATASET)
    return json.dumps(
        {
            "root": os.path.realpath(config.WORLD.DATA_ROOT),
            "dataset": config.WORLD.DATASET,
            "scene": scene,
            "points": file_identity(layout.points_path(scene)),
            "graph": file_identity(layout.graph_path(scene)),
            "listeners": [int(node) for node in config.NAF.LISTENERS],
            "emitters": [int(node) for node in config.NAF.EMITTERS],
            "allow_missing_rirs": bool(config.WORLD.ALLOW_MISSING_RIRS),
        },
        sort_keys=True,
    )


def item_key(heading: int, listener: int, emitter: int) -> str:
    """The paper's HDF5 key: '<heading>_<listener>_<emitter>'."""
    return f"{int(heading)}_{int(listener)}_{int(emitter)}"


# ============================================================================================ build
def build_scene_hdf5(config: CfgNode, scene: str | None = None, progress: bool = True) -> str:
    """Write logmag.h5 of one scene from the world at WORLD.DATA_ROOT; returns its path."""
    scene = scene or config.NAF.SCENE
    params = NafAudioParams.from_config(config)
    layout = SoundSpacesLayout(config.WORLD.DATA_ROOT, config.WORLD.DATASET)
    headings = list(HEADINGS)
    nodes = sorted(read_graph(layout.graph_path(scene)).nodes())
    points = read_points(layout.points_path(scene))
    missing_points = [n for n in nodes if n not in points]
    if missing_points:
        raise NafDataError(f"{layout.points_path(scene)}: no point for graph nodes {missing_points[:5]}")
    listeners_wanted, emitters_wanted = node_subsets(config, nodes, layout.graph_path(scene))
    rirs = open_scene_rirs(  # lazy, one RIR at a time: the builder's packed cache when current, else the wavs
        layout,
        scene,
        headings,
        params.sample_rate,
        use_packed_cache=bool(config.WORLD.USE_PACKED_CACHE),
        allow_missing=bool(config.WORLD.ALLOW_MISSING_RIRS),
    )
    folder = scene_data_dir(config, scene)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "logmag.h5")
    temporary = f"{path}.tmp"
    jobs = [
        (h, listener, emitter)
        for h in range(len(headings))
        for listener in listeners_wanted
        for emitter in emitters_wanted
    ]
    iterator = jobs
    if progress:
        from tqdm import tqdm

        iterator = tqdm(jobs, desc=f"NAF log-magnitudes of {scene}", unit="rir", leave=False)
    keys, listeners, emitters, heading_list = [], [], [], []
    left_out = 0
    with h5py.File(temporary, "w") as handle:
        logmag_group, waveform_group = handle.create_group("logmag"), handle.create_group("waveform")
        for h, listener, emitter in iterator:
            missing_before = rirs.missing
            rir = rirs.get(listener, emitter, headings[h])
            if rirs.missing != missing_before:  # WORLD.ALLOW_MISSING_RIRS: leave it out, do not learn silence
                left_out += 1
                continue
            waveform = trim_trailing_silence(np.asarray(rir))
            key = item_key(headings[h], listener, emitter)
            logmag_group.create_dataset(key, data=logmag_of_waveform(waveform, params).astype(np.float16))
            waveform_group.create_dataset(key, data=waveform)
            keys.append(key)
            listeners.append(listener)
            emitters.append(emitter)
            heading_list.append(headings[h])
        if left_out:
            logger.warning("%s: %d of %d RIRs are missing and left out of %s", scene, left_out, len(jobs), path)
        if not keys:
            raise NafDataError(
                f"{scene}: no RIR of the requested listeners/emitters exists under {layout.rir_scene_dir(scene)}"
            )
        index = handle.create_group("index")
        index.create_dataset("keys", data=np.array(keys, dtype="S"))
        index.create_dataset("listener", data=np.array(listeners, dtype=np.int64))
        index.create_dataset("emitter", data=np.array(emitters, dtype=np.int64))
        index.create_dataset("heading", data=np.array(heading_list, dtype=np.int64))
        index.create_dataset("listener_xy", data=np.array([points[n][:2] for n in listeners], dtype=np.float64))
        index.create_dataset("emitter_xy", data=np.array([points[n][:2] for n in emitters], dtype=np.float64))
        handle.attrs.update(params.as_attrs())
        handle.attrs.update(
            {
                "format": FORMAT_VERSION,
                "scene": scene,
                "dataset": config.WORLD.DATASET,
                "headings": headings,
                "nodes": sorted(set(listeners) | set(emitters)),
                "world_key": world_key(config, scene),
            }
        )
    os.replace(temporary, path)
    return path


def make_split(keys: list[str], train_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """A seeded random train/test split of item keys (independent of the keys' order)."""
    if not keys:
        raise NafDataError("cannot split an empty item list")
    ordered = sorted(keys)
    permutation = np.random.default_rng(seed).permutation(len(ordered))
    count = int(round(train_fraction * len(ordered)))
    count = min(max(count, 1), len(ordered) - 1) if len(ordered) > 1 else 1
    train = sorted(ordered[i] for i in permutation[:count])
    test = sorted(ordered[i] for i in permutation[count:])
    return train, test


def ensure_scene_data(config: CfgNode, scene: str | None = None, progress: bool = True) -> str:
    """Build (when absent or built with other parameters) the HDF5, split and stats; returns the folder."""
    scene = scene or config.NAF.SCENE
    folder = scene_data_dir(config, scene)
    path = os.path.join(folder, "logmag.h5")
    params = NafAudioParams.from_config(config)
    if os.path.isfile(path):
        with h5py.File(path, "r") as handle:
            stored = {k: handle.attrs.get(k) for k in params.as_attrs()}
            stored_world = handle.attrs.get("world_key")
        wanted_world = world_key(config, scene)
        if stored_world != wanted_world:
            logger.warning(
                "%s was built from another world or a changed one (%s); rebuilding from %s",
                path,
                stored_world,
                wanted_world,
            )
        if stored_world != wanted_world or any(
            stored[k] is None or stored[k] != v for k, v in params.as_attrs().items()
        ):
            logger.info("%s was built with %s; rebuilding for %s", path, stored, params.as_attrs())
            build_scene_hdf5(config, scene, progress)
            for stale in ("split.json", "stats.npz"):
                if os.path.exists(os.path.join(folder, stale)):
                    os.remove(os.path.join(folder, stale))
    else:
        build_scene_hdf5(config, scene, progress)
    with h5py.File(path, "r") as handle:
        keys = [k.decode() for k in handle["index/keys"][()]]
    split_path = os.path.join(folder, "split.json")
    wanted = {"seed": int(config.NAF.SPLIT_SEED), "train_fraction": float(config.NAF.TRAIN_FRACTION)}
    split = None
    if os.path.isfile(split_path):
        with open(split_path) as handle:
            split = json.load(handle)
        if {k: split.get(k) for k in wanted} != wanted or sorted(split["train"] + split["test"]) != sorted(keys):
            split = None
    if split is None:
        train, test = make_split(keys, config.NAF.TRAIN_FRACTION, config.NAF.SPLIT_SEED)
        write_json_atomic(split_path, {**wanted, "train": train, "test": test})
        if os.path.exists(os.path.join(folder, "stats.npz")):
            os.remove(os.path.join(folder, "stats.npz"))
    stats_path = os.path.join(folder, "stats.npz")
    if not os.path.isfile(stats_path):
        data = load_scene_data(config, scene, with_stats=False)
        mean, std = compute_stats(data.logmag[data.train_indices], float(config.NAF.STD_OFFSET))
        temporary = f"{stats_path}.tmp.npz"
        np.savez(temporary, mean=mean, std=std)
        os.replace(temporary, stats_path)
    return folder


def compute_stats(logmags: np.ndarray, std_offset: float) -> tuple[np.ndarray, np.ndarray]:
    """Per (freq, frame) mean and std + offset over items and ears of padded (N, 2, F, T) log-mags."""
    if logmags.shape[0] == 0:
        raise NafDataError("no training items to compute NAF statistics from")
    values = logmags.reshape(-1, *logmags.shape[-2:]).astype(np.float64)
    return values.mean(axis=0).astype(np.float32), (values.std(axis=0) + std_offset).astype(np.float32)


# ============================================================================================ load
@dataclass
class NafSceneData:
    """One scene's NAF data in memory; log-magnitudes padded to max_len frames with log(LOG_EPS)."""

    scene: str
    path: str
    params: NafAudioParams
    keys: list[str]
    logmag: np.ndarray  # (N, 2, F, max_len) float32
    lengths: np.ndarray  # (N,) frames of each item
    listener_xy: np.ndarray  # (N, 2) metres (mesh-frame floor plane)
    emitter_xy: np.ndarray  # (N, 2)
    heading: np.ndarray  # (N,) degrees
    heading_index: np.ndarray  # (N,) index into headings
    headings: list[int]
    nodes: list[int]
    node_xy: np.ndarray  # (nodes, 2)
    train_indices: np.ndarray
    test_indices: np.ndarray
    mean: np.ndarray | None = None  # (F, max_len)
    std: np.ndarray | None = None  # (F, max_len)

    @property
    def max_len(self) -> int:
        return int(self.logmag.shape[-1])

    @property
    def num_freq_bins(self) -> int:
        return int(self.logmag.shape[-2])

    def waveform(self, index: int) -> np.ndarray:
        """The stored (2, samples) ground-truth RIR of item `index` at params.sample_rate."""
        with h5py.File(self.path, "r") as handle:
            return handle["waveform"][self.keys[index]][()]

    def waveforms(self, indices: np.ndarray) -> list[np.ndarray]:
        with h5py.File(self.path, "r") as handle:
            return [handle["waveform"][self.keys[i]][()] for i in indices]

    def item_logmag(self, index: int) -> np.ndarray:
        """(2, F, T) of item `index` at its own length."""
        return self.logmag[index, :, :, : self.lengths[index]]


def load_scene_data(config: CfgNode, scene: str | None = None, with_stats: bool = True) -> NafSceneData:
    """Read a scene's HDF5, split (and stats) into memory; raises NafDataError naming missing files."""
    scene = scene or config.NAF.SCENE
    folder = scene_data_dir(config, scene)
    path = os.path.join(folder, "logmag.h5")
    split_path = os.path.join(folder, "split.json")
    for required in (path, split_path):
        if not os.path.isfile(required):
            raise NafDataError(f"NAF data file not found: {required} (build it with naf.data.ensure_scene_data)")
    with h5py.File(path, "r") as handle:
        keys = [k.decode() for k in handle["index/keys"][()]]
        if not keys:
            raise NafDataError(f"{path}: holds no items")
        items = [handle["logmag"][k][()] for k in keys]
        listener_xy = handle["index/listener_xy"][()]
        emitter_xy = handle["index/emitter_xy"][()]
        heading = handle["index/heading"][()]
        headings = [int(h) for h in handle.attrs["headings"]]
        nodes = [int(n) for n in handle.attrs["nodes"]]
        params = NafAudioParams(
            **{k: type(v)(handle.attrs[k]) for k, v in NafAudioParams.from_config(config).as_attrs().items()}
        )
    lengths = np.array([item.shape[-1] for item in items], dtype=np.int64)
    max_len = int(lengths.max())
    logmag = np.full((len(items), 2, items[0].shape[1], max_len), np.log(params.log_eps), dtype=np.float32)
    for i, item in enumerate(items):
        logmag[i, :, :, : item.shape[-1]] = item
    with open(split_path) as handle:
        split = json.load(handle)
    position = {k: i for i, k in enumerate(keys)}
    unknown = [k for k in split["train"] + split["test"] if k not in position]
    if unknown:
        raise NafDataError(f"{split_path}: keys not in {path}: {unknown[:5]}")
    train_indices = np.array(sorted(position[k] for k in split["train"]), dtype=np.int64)
    test_indices = np.array(sorted(position[k] for k in split["test"]), dtype=np.int64)
    if train_indices.size == 0 or test_indices.size == 0:
        raise NafDataError(f"{split_path}: empty train or test split")
    node_points = (
        read_points(SoundSpacesLayout(config.WORLD.DATA_ROOT, config.WORLD.DATASET).points_path(scene))
        if os.path.isdir(config.WORLD.DATA_ROOT)
        else {}
    )
    node_xy = np.array([node_points[n][:2] for n in nodes]) if node_points else np.unique(listener_xy, axis=0)
    data = NafSceneData(
        scene=scene,
        path=path,
        params=params,
        keys=keys,
        logmag=logmag,
        lengths=lengths,
        listener_xy=listener_xy,
        emitter_xy=emitter_xy,
        heading=heading,
        heading_index=np.array([headings.index(int(h)) for h in heading], dtype=np.int64),
        headings=headings,
        nodes=nodes,
        node_xy=node_xy,
        train_indices=train_indices,
        test_indices=test_indices,
    )
    if with_stats:
        stats_path = os.path.join(folder, "stats.npz")
        if not os.path.isfile(stats_path):
            raise NafDataError(f"NAF statistics not found: {stats_path} (build them with naf.data.ensure_scene_data)")
        stats = np.load(stats_path)
        data.mean, data.std = stats["mean"], stats["std"]
        if data.mean.shape != (data.num_freq_bins, max_len):
            raise NafDataError(
                f"{stats_path}: mean shape {data.mean.shape}, expected {(data.num_freq_bins, max_len)}: delete it to rebuild"
            )
    return data
