"""The SoundSpaces 1.0 on-disk layout: the ONLY code that knows where files live and how they look.

    metadata/<dataset>/<scene>/points.txt          "index\tx\ty\tz" per line, mesh frame (z up)
    metadata/<dataset>/<scene>/graph.pkl           networkx graph over node indices, attribute 'point'
                                                   (habitat frame: x, y up, z = -mesh y)
    metadata/<dataset>/<scene>/floorplan.json      (procedural worlds only) rooms, doors, materials
    binaural_rirs/<dataset>/<scene>/<azimuth>/<receiver>_<source>.wav   2 channels; azimuth = (-heading) mod 360
    scene_observations/<dataset>/<scene>.pkl       {(node, heading): {'rgb': uint8 HxWx3, 'depth': float HxWx1}}
    active_datasets/<version>/<split>/<split>.json.gz (+ content/<scene>.json.gz)
    passive_datasets/<version>/<split>/<scene>.pkl  [{'r': receiver, 'azimuth': deg, 'all_s': [sources]}]
    active_datasets/<version>/scene_splits.json    {"train": [scenes], "val": [...], "test": [...]}
    sounds/{heard,unheard}/<class>_<id>.wav        mono clips (this project's sound bank layout)
    sounds/classes.json                            {"classes": [{name, kind, target, label}], "sample_rate", "heard", "unheard"}
    packed_cache/<dataset>/<scene>/                rirs.npy (memory-mapped) + index.json (this project's cache)

Real MP3D (16 kHz) and Replica (44.1 kHz) data read through the same functions; RIRs at another rate
are resampled to the requested one on load. Every malformed input raises a WorldDataError subclass whose
message names the file and what was expected.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import pickle
import re
from collections.abc import Iterable
from dataclasses import dataclass
from math import gcd
from typing import Any

import networkx as nx
import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from audio_separation.common.errors import ProjectError
from audio_separation.common.files import write_bytes_atomic, write_json_atomic

logger = logging.getLogger("audio_separation")

SPLITS = ("train", "val", "valUnheard", "test", "testUnheard")
HEADINGS = (
    0,
    90,
    180,
    270,
)  # the grid headings in degrees of SoundSpaces data (and of generated worlds): the one list


# ============================================================================================ errors
class WorldDataError(ProjectError):
    """Base of every error about world data on disk."""


class MissingSceneError(WorldDataError):
    pass


class MissingRIRError(WorldDataError):
    pass


class SampleRateError(WorldDataError):
    pass


class ChannelError(WorldDataError):
    pass


class CorruptGraphError(WorldDataError):
    pass


class CorruptPointsError(WorldDataError):
    pass


class EmptySplitError(WorldDataError):
    pass


class MissingSoundError(WorldDataError):
    pass


class MissingObservationError(WorldDataError):
    pass


class NonFiniteDataError(WorldDataError):
    """An RIR, clip or cache holds NaN or Inf samples."""


class TruncatedFileError(WorldDataError):
    """A file is shorter than its own header (or index) says: an interrupted copy or download."""


class SilentClipError(WorldDataError):
    """A sound clip is all zeros: every metric on it would be meaningless."""


# ============================================================================================ checks
def check_finite(path: str, data: np.ndarray, what: str) -> np.ndarray:
    """Return data, or raise NonFiniteDataError naming the file, the count and the first bad sample."""
    finite = np.isfinite(data)
    if not finite.all():
        bad = np.argwhere(~finite)
        raise NonFiniteDataError(
            f"{path}: {what} holds {len(bad)} NaN/Inf value(s) of {data.size} (first at index {tuple(int(i) for i in bad[0])}); "
            "regenerate or replace the file"
        )
    return data


def wav_frames_declared(path: str) -> tuple[int, int] | None:
    """(frames the RIFF/WAVE header declares, frames the file holds) of a .wav file; None for other
    formats or streaming headers (size 0 / 0xFFFFFFFF). libsndfile silently reads a truncated file short."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(12)
            if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
                return None
            block_align = 0
            while True:
                chunk = handle.read(8)
                if len(chunk) < 8:
                    return None
                name, size = chunk[:4], int.from_bytes(chunk[4:], "little")
                if name == b"fmt ":
                    body = handle.read(size + (size & 1))
                    block_align = int.from_bytes(body[12:14], "little") if len(body) >= 14 else 0
                elif name == b"data":
                    if block_align <= 0 or size in (0, 0xFFFFFFFF):
                        return None
                    available = os.path.getsize(path) - handle.tell()
                    return size // block_align, max(available, 0) // block_align
                else:
                    handle.seek(size + (size & 1), os.SEEK_CUR)
    except OSError:
        return None


def check_complete(path: str) -> None:
    """Raise TruncatedFileError when a wav holds fewer frames than its header declares."""
    frames = wav_frames_declared(path)
    if frames is not None and frames[1] < frames[0]:
        raise TruncatedFileError(
            f"{path}: truncated: holds {frames[1]} of the {frames[0]} frames its header declares (an interrupted "
            "copy?); restore or regenerate the file"
        )


# ============================================================================================ frames
def mesh_to_habitat(point: Iterable[float]) -> np.ndarray:
    """MP3D mesh frame (z up) -> habitat frame (y up): (x, z - 1.5, -y)."""
    x, y, z = (float(v) for v in point)
    return np.array([x, z - 1.5, -y], dtype=np.float64)


def habitat_to_mesh(point: Iterable[float]) -> np.ndarray:
    x, y, z = (float(v) for v in point)
    return np.array([x, -z, y + 1.5], dtype=np.float64)


def azimuth_of_heading(heading: int) -> int:
    """RIR folder name for an agent heading in degrees."""
    return int((-heading) % 360)


# ============================================================================================ layout
@dataclass(frozen=True)
class SoundSpacesLayout:
    """Paths of one world rooted at `root` for one dataset name (mp3d, replica, procedural, ...)."""

    root: str
    dataset: str

    def metadata_dir(self, scene: str) -> str:
        return os.path.join(self.root, "metadata", self.dataset, scene)

    def points_path(self, scene: str) -> str:
        return os.path.join(self.metadata_dir(scene), "points.txt")

    def graph_path(self, scene: str) -> str:
        return os.path.join(self.metadata_dir(scene), "graph.pkl")

    def floorplan_path(self, scene: str) -> str:
        return os.path.join(self.metadata_dir(scene), "floorplan.json")

    def rir_scene_dir(self, scene: str) -> str:
        return os.path.join(self.root, "binaural_rirs", self.dataset, scene)

    def rir_path(self, scene: str, azimuth: int, receiver: int, source: int) -> str:
        return os.path.join(self.rir_scene_dir(scene), str(int(azimuth)), f"{int(receiver)}_{int(source)}.wav")

    def observations_path(self, scene: str) -> str:
        return os.path.join(self.root, "scene_observations", self.dataset, f"{scene}.pkl")

    def episodes_path(self, version: str, split: str) -> str:
        return os.path.join(self.root, "active_datasets", version, split, f"{split}.json.gz")

    def episode_content_path(self, version: str, split: str, scene: str) -> str:
        return os.path.join(self.root, "active_datasets", version, split, "content", f"{scene}.json.gz")

    def scene_splits_path(self, version: str) -> str:
        """Which scenes are train/val/test for an episode version (written by world/episodes.py)."""
        return os.path.join(self.root, "active_datasets", version, "scene_splits.json")

    def passive_path(self, version: str, split: str, scene: str) -> str:
        return os.path.join(self.root, "passive_datasets", version, split, f"{scene}.pkl")

    def sounds_dir(self, sounds_folder: str = "sounds") -> str:
        return os.path.join(self.root, sounds_folder)

    def packed_cache_dir(self, scene: str) -> str:
        return os.path.join(self.root, "packed_cache", self.dataset, scene)

    def scenes(self) -> list[str]:
        """Scenes that have metadata, sorted."""
        folder = os.path.join(self.root, "metadata", self.dataset)
        if not os.path.isdir(folder):
            raise MissingSceneError(f"no metadata folder {folder}: is WORLD.DATA_ROOT / WORLD.DATASET right?")
        return sorted(name for name in os.listdir(folder) if os.path.isdir(os.path.join(folder, name)))


# ============================================================================================ points + graph
def write_points(path: str, points: dict[int, Iterable[float]]) -> None:
    """points: node index -> (x, y, z) in the mesh frame."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        for index in sorted(points):
            x, y, z = points[index]
            handle.write(f"{index}\t{x:.6f}\t{y:.6f}\t{z:.6f}\n")


def read_points(path: str) -> dict[int, np.ndarray]:
    """node index -> mesh-frame point. Raises CorruptPointsError naming the file and line."""
    if not os.path.isfile(path):
        raise MissingSceneError(f"points file not found: {path}")
    points: dict[int, np.ndarray] = {}
    with open(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            fields = re.split(r"[\t ]+", line.strip())
            if len(fields) != 4:
                raise CorruptPointsError(f"{path}:{number}: expected 'index x y z', got {line.strip()!r}")
            try:
                points[int(fields[0])] = np.array([float(v) for v in fields[1:]], dtype=np.float64)
            except ValueError:
                raise CorruptPointsError(f"{path}:{number}: non-numeric field in {line.strip()!r}") from None
    if not points:
        raise CorruptPointsError(f"{path}: no points")
    return points


def write_graph(path: str, graph: nx.Graph) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        pickle.dump(graph, handle, protocol=4)


def read_graph(path: str) -> nx.Graph:
    """The navigation graph; every node must carry a 3-d 'point'. Raises CorruptGraphError."""
    if not os.path.isfile(path):
        raise MissingSceneError(f"graph file not found: {path}")
    try:
        with open(path, "rb") as handle:
            graph = pickle.load(handle)
    except Exception as error:  # unpickling garbage raises many types
        raise CorruptGraphError(f"{path}: cannot unpickle a networkx graph ({type(error).__name__}: {error})") from None
    if not isinstance(graph, nx.Graph):
        raise CorruptGraphError(f"{path}: expected a networkx Graph, got {type(graph).__name__}")
    if graph.number_of_nodes() == 0:
        raise CorruptGraphError(f"{path}: the graph has no nodes")
    for node, data in graph.nodes(data=True):
        point = data.get("point")
        if point is None or len(point) != 3:
            raise CorruptGraphError(f"{path}: node {node} lacks a 3-d 'point' attribute")
    return graph


# ============================================================================================ RIRs
_SFC_SET_ADD_PEAK_CHUNK = 0x1050  # libsndfile command id


def write_rir(path: str, rir: np.ndarray, sample_rate: int) -> None:
    """rir: (samples, 2) float; written as 32-bit float wav."""
    if rir.ndim != 2 or rir.shape[1] != 2:
        raise ChannelError(f"{path}: a binaural RIR must be (samples, 2), got {rir.shape}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with sf.SoundFile(path, "w", sample_rate, 2, subtype="FLOAT", format="WAV") as handle:
        # libsndfile adds a PEAK chunk with a timestamp to float files; drop it so equal RIRs give equal bytes
        sf._snd.sf_command(handle._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
        handle.write(np.ascontiguousarray(rir, dtype=np.float32))


def resample(signal: np.ndarray, rate_in: int, rate_out: int, axis: int = 0) -> np.ndarray:
    """Polyphase resampling (anti-aliased), e.g. Replica 44.1 kHz -> 16 kHz."""
    if rate_in == rate_out:
        return signal
    divisor = gcd(int(rate_in), int(rate_out))
    return resample_poly(signal, rate_out // divisor, rate_in // divisor, axis=axis).astype(np.float32)


def read_rir(path: str, sample_rate: int, allowed_rates: Iterable[int] | None = None) -> np.ndarray:
    """A binaural RIR as (samples, 2) float32 at `sample_rate`.

    Files at another rate are resampled when that rate is in `allowed_rates` (default: 16000, 22050,
    44100, 48000); any other rate raises SampleRateError. Mono files raise ChannelError.
    """
    if not os.path.isfile(path):
        raise MissingRIRError(f"RIR file not found: {path}")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as error:
        raise WorldDataError(f"{path}: cannot read as audio ({error})") from None
    check_complete(path)
    check_finite(path, data, "the RIR")
    if data.shape[1] != 2:
        raise ChannelError(f"{path}: expected 2 channels (binaural), found {data.shape[1]}")
    allowed = set(allowed_rates) if allowed_rates is not None else {16000, 22050, 44100, 48000}
    if rate != sample_rate:
        if rate not in allowed:
            raise SampleRateError(
                f"{path}: sample rate {rate} Hz, expected {sample_rate} Hz (or one of {sorted(allowed)} to resample)"
            )
        data = resample(data, rate, sample_rate)
    return data


def read_scene_rirs(
    layout: SoundSpacesLayout,
    scene: str,
    nodes: list[int],
    headings: list[int],
    sample_rate: int,
    allow_missing: bool = False,
    allowed_rates: Iterable[int] | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, int]:
    """All RIRs of a scene as (headings, receivers, sources, samples, 2) float32, zero-padded to the
    longest file; missing files raise MissingRIRError unless allow_missing (then silence, counted and
    logged once). Returns (array, number of missing files)."""
    index = {node: i for i, node in enumerate(nodes)}
    rirs: dict[tuple[int, int, int], np.ndarray] = {}
    missing = 0
    jobs = [(h, r, s) for h in range(len(headings)) for r in nodes for s in nodes]
    iterator = jobs
    if progress:
        from tqdm import tqdm

        iterator = tqdm(jobs, desc=f"reading RIRs of {scene}", unit="rir", leave=False)
    for h, receiver, source in iterator:
        path = layout.rir_path(scene, azimuth_of_heading(headings[h]), receiver, source)
        if not os.path.isfile(path) and allow_missing:
            missing += 1
            continue
        rirs[(h, index[receiver], index[source])] = read_rir(path, sample_rate, allowed_rates)
    if missing:
        logger.warning(
            "%s/%s: %d of %d RIR files are missing and read as silence (WORLD.ALLOW_MISSING_RIRS)",
            layout.dataset,
            scene,
            missing,
            len(jobs),
        )
    length = max((rir.shape[0] for rir in rirs.values()), default=1)
    array = np.zeros((len(headings), len(nodes), len(nodes), length, 2), dtype=np.float32)
    for (h, r, s), rir in rirs.items():
        array[h, r, s, : rir.shape[0]] = rir
    return array, missing


# ============================================================================================ packed cache
CACHE_FORMAT_VERSION = 2  # 2: + identities.npy (size, mtime_ns of each source wav) and lengths.npy


def file_identity(path: str) -> tuple[int, int] | None:
    """(size in bytes, mtime in ns) of a file, or None when it does not exist: what a cached copy of it is
    checked against (a changed file is re-read, never served stale)."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return int(stat.st_size), int(stat.st_mtime_ns)


def build_packed_cache(
    layout: SoundSpacesLayout,
    scene: str,
    headings: list[int],
    sample_rate: int,
    allow_missing: bool = False,
    progress: bool = True,
) -> str:
    """Pack a scene's RIR wavs into one memory-mappable rirs.npy + index.json; returns the folder.
    Dense (headings x N x N x longest RIR): for small generated scenes only; runs never call it."""
    nodes = sorted(read_graph(layout.graph_path(scene)).nodes())
    array, missing = read_scene_rirs(layout, scene, nodes, headings, sample_rate, allow_missing, progress=progress)
    return write_packed_cache(layout, scene, nodes, headings, sample_rate, array, missing)


def write_packed_cache(
    layout: SoundSpacesLayout,
    scene: str,
    nodes: list[int],
    headings: list[int],
    sample_rate: int,
    array: np.ndarray,
    missing: int = 0,
    lengths: np.ndarray | None = None,
) -> str:
    """Write rirs.npy (headings, receivers, sources, samples, 2) float32 + lengths.npy (each RIR's own
    length, default all `samples`) + identities.npy (size, mtime_ns of each source wav as it is now, -1
    when absent) + index.json; returns the folder. Call it after the wavs are written."""
    expected = (len(headings), len(nodes), len(nodes))
    if array.shape[:3] != expected or array.ndim != 5 or array.shape[-1] != 2:
        raise ValueError(
            f"packed RIRs of {scene} must be (headings, receivers, sources, samples, 2) = {expected} + (T, 2), got {array.shape}"
        )
    if lengths is None:
        lengths = np.full(expected, array.shape[3], dtype=np.int64)
    identities = np.full(expected + (2,), -1, dtype=np.int64)
    for h, heading in enumerate(headings):
        for r, receiver in enumerate(nodes):
            for s, source in enumerate(nodes):
                identity = file_identity(layout.rir_path(scene, azimuth_of_heading(heading), receiver, source))
                if identity is not None:
                    identities[h, r, s] = identity
    folder = layout.packed_cache_dir(scene)
    os.makedirs(folder, exist_ok=True)
    for name, values in (("rirs.npy", array), ("lengths.npy", lengths), ("identities.npy", identities)):
        temporary = os.path.join(folder, f"{name}.tmp")
        with open(temporary, "wb") as handle:
            np.save(handle, np.ascontiguousarray(values, dtype=np.float32 if name == "rirs.npy" else np.int64))
        os.replace(temporary, os.path.join(folder, name))
    index = {
        "format": CACHE_FORMAT_VERSION,
        "nodes": [int(n) for n in nodes],
        "headings": [int(h) for h in headings],
        "sample_rate": int(sample_rate),
        "shape": list(array.shape),
        "missing": int(missing),
    }
    write_json_atomic(os.path.join(folder, "index.json"), index, sort_keys=True)
    return folder


@dataclass
class PackedSceneRIRs:
    """A scene's RIRs, memory-mapped: rirs[heading_index, receiver_index, source_index] -> (samples, 2);
    lengths and identities (size, mtime_ns of the source wav when packed) per entry."""

    rirs: np.ndarray
    nodes: list[int]
    headings: list[int]
    sample_rate: int
    lengths: np.ndarray | None = None
    identities: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.node_index = {node: i for i, node in enumerate(self.nodes)}
        self.heading_index = {heading: i for i, heading in enumerate(self.headings)}

    def get(self, receiver: int, source: int, heading: int) -> np.ndarray:
        """The stored RIR at its own length (samples, 2)."""
        try:
            h, r, s = self.heading_index[heading % 360], self.node_index[receiver], self.node_index[source]
        except KeyError as error:
            raise KeyError(
                f"no RIR for receiver {receiver}, source {source}, heading {heading}: unknown {error}"
            ) from None
        rir = self.rirs[h, r, s] if self.lengths is None else self.rirs[h, r, s, : int(self.lengths[h, r, s])]
        self._check_finite(rir, receiver, source, heading)
        return rir

    def _check_finite(self, rir: np.ndarray, receiver: int, source: int, heading: int) -> None:
        if not np.isfinite(rir).all():  # one RIR (a few KB): cheap beside the convolution it feeds
            folder = os.path.dirname(getattr(self.rirs, "filename", "") or "packed cache")
            check_finite(
                f"{folder}/rirs.npy [receiver {receiver}, source {source}, heading {heading}]",
                np.asarray(rir),
                "the RIR",
            )

    def get_if_current(self, receiver: int, source: int, heading: int, identity: tuple[int, int]) -> np.ndarray | None:
        """The stored RIR when this pair was packed from a file of this identity, else None."""
        h = self.heading_index.get(heading % 360)
        r, s = self.node_index.get(receiver), self.node_index.get(source)
        if h is None or r is None or s is None or self.identities is None:
            return None
        stored = self.identities[h, r, s]
        if int(stored[0]) != identity[0] or int(stored[1]) != identity[1]:
            return None
        rir = self.rirs[h, r, s, : int(self.lengths[h, r, s])] if self.lengths is not None else self.rirs[h, r, s]
        self._check_finite(rir, receiver, source, heading)
        return rir


def check_scene_rirs_finite(rirs: np.ndarray, nodes: list[int], headings: list[int], where: str) -> None:
    """Raise NonFiniteDataError naming `where`, how many RIRs hold NaN/Inf and the first (receiver,
    source, heading); rirs: (headings, receivers, sources, samples, 2), scanned one heading at a time."""
    bad: list[tuple[int, int, int]] = []
    for h in range(rirs.shape[0]):
        block = np.asarray(rirs[h])
        mask = ~np.isfinite(block).reshape(block.shape[0], block.shape[1], -1).all(axis=-1)
        bad.extend((h, int(r), int(s)) for r, s in np.argwhere(mask))
    if bad:
        h, r, s = bad[0]
        raise NonFiniteDataError(
            f"{where}: {len(bad)} of {rirs.shape[0] * rirs.shape[1] * rirs.shape[2]} RIRs hold NaN/Inf (first: receiver "
            f"{nodes[r]}, source {nodes[s]}, heading {headings[h]}); replace those RIR files and rebuild the cache"
        )


def load_packed_cache(
    layout: SoundSpacesLayout,
    scene: str,
    headings: list[int],
    sample_rate: int,
    allow_missing: bool = False,
    build_if_missing: bool = True,
) -> PackedSceneRIRs:
    """Open (building on first use) the packed RIR cache of a scene, checking it matches the request."""
    folder = layout.packed_cache_dir(scene)
    index_path = os.path.join(folder, "index.json")
    fresh = False
    if not os.path.isfile(index_path):
        if not build_if_missing:
            raise WorldDataError(f"no packed RIR cache at {folder}; build it with build_packed_cache")
        build_packed_cache(layout, scene, headings, sample_rate, allow_missing)
        fresh = True
    with open(index_path) as handle:
        index = json.load(handle)
    if (
        index.get("format") != CACHE_FORMAT_VERSION
        or index["sample_rate"] != sample_rate
        or index["headings"] != list(headings)
    ):
        if fresh or not build_if_missing:
            raise WorldDataError(
                f"{index_path}: cache (format {index.get('format')}) was built for {index.get('sample_rate')} Hz, headings {index.get('headings')}; requested format {CACHE_FORMAT_VERSION}, {sample_rate} Hz, {list(headings)}"
            )
        build_packed_cache(layout, scene, headings, sample_rate, allow_missing)
        with open(index_path) as handle:
            index = json.load(handle)
    try:
        rirs = np.load(os.path.join(folder, "rirs.npy"), mmap_mode="r")
    except (OSError, ValueError) as error:  # truncated ("mmap length is greater than file size"), garbage header
        raise TruncatedFileError(
            f"{folder}/rirs.npy: cannot be memory-mapped ({error}); the packed cache is damaged: delete {folder} to rebuild it"
        ) from None
    if list(rirs.shape) != index["shape"]:
        raise WorldDataError(
            f"{folder}/rirs.npy has shape {rirs.shape}, index.json says {index['shape']}: delete the folder to rebuild"
        )
    extras = {}
    for name in ("lengths", "identities"):
        path = os.path.join(folder, f"{name}.npy")
        try:
            extras[name] = np.load(path)
        except (OSError, ValueError) as error:
            raise WorldDataError(f"{path}: cannot read ({error}): delete {folder} to rebuild") from None
        if extras[name].shape[:3] != rirs.shape[:3]:
            raise WorldDataError(f"{path} has shape {extras[name].shape}, rirs.npy {rirs.shape}: delete {folder}")
    return PackedSceneRIRs(
        rirs=rirs, nodes=index["nodes"], headings=index["headings"], sample_rate=index["sample_rate"], **extras
    )


# ============================================================================================ views
def write_observations(path: str, observations: dict[tuple[int, int], dict[str, np.ndarray]]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    ordered = {key: observations[key] for key in sorted(observations)}
    write_bytes_atomic(path, pickle.dumps(ordered, protocol=4))


def read_observations(path: str) -> dict[tuple[int, int], dict[str, np.ndarray]]:
    if not os.path.isfile(path):
        raise MissingObservationError(f"scene observations not found: {path}")
    try:
        with open(path, "rb") as handle:
            observations = pickle.load(handle)
    except Exception as error:
        raise WorldDataError(f"{path}: cannot unpickle scene observations ({type(error).__name__}: {error})") from None
    if not isinstance(observations, dict) or not observations:
        raise WorldDataError(f"{path}: expected a non-empty dict keyed by (node, heading)")
    return observations


# ============================================================================================ episodes
def write_json_gz(path: str, payload: Any) -> None:
    """Deterministic gzip JSON (sorted keys, mtime 0) so equal content gives equal bytes."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as handle:
        handle.write(json.dumps(payload, sort_keys=True).encode())
    write_bytes_atomic(path, buffer.getvalue())


def read_json_gz(path: str) -> Any:
    if not os.path.isfile(path):
        raise WorldDataError(f"file not found: {path}")
    try:
        with gzip.open(path, "rt") as handle:
            return json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise WorldDataError(f"{path}: not a gzipped JSON file ({error})") from None


def write_episodes(layout: SoundSpacesLayout, version: str, split: str, episodes: list[dict]) -> None:
    """The split file (all episodes) plus content/<scene>.json.gz per scene, habitat style."""
    write_json_gz(layout.episodes_path(version, split), {"episodes": episodes})
    by_scene: dict[str, list[dict]] = {}
    for episode in episodes:
        by_scene.setdefault(scene_of_episode(episode), []).append(episode)
    for scene, scene_episodes in sorted(by_scene.items()):
        write_json_gz(layout.episode_content_path(version, split, scene), {"episodes": scene_episodes})


def read_episodes(layout: SoundSpacesLayout, version: str, split: str) -> list[dict]:
    path = layout.episodes_path(version, split)
    payload = read_json_gz(path)
    episodes = payload.get("episodes") if isinstance(payload, dict) else None
    if not episodes:
        raise EmptySplitError(f"{path}: split {split!r} has no episodes")
    return episodes


def parse_scene_id(scene_id: str) -> tuple[str | None, str]:
    """(dataset or None, scene) of an episode's scene_id, as SoundSpaces resolves them:
    '[data/scene_datasets/]mp3d/<scene>/<scene>.glb' -> ('mp3d', scene);
    '[data/scene_datasets/]replica/<scene>/habitat/mesh_semantic.ply' -> ('replica', scene);
    '<dataset>/<scene>/<file>' -> (dataset, scene); a bare '<scene>' -> (None, scene)."""
    parts = [part for part in str(scene_id).replace("\\", "/").split("/") if part and part != "."]
    if len(parts) <= 1:
        return None, parts[0] if parts else str(scene_id)
    folders = parts[:-1]
    if folders[-1] == "habitat" and len(folders) >= 2:  # Replica: <scene>/habitat/mesh_semantic.ply
        folders = folders[:-1]
    scene = folders[-1]
    dataset = folders[-2] if len(folders) >= 2 else None
    return dataset, scene


def scene_of_episode(episode: dict) -> str:
    """The scene name of an episode's scene_id (parse_scene_id)."""
    return parse_scene_id(episode["scene_id"])[1]


def write_passive(layout: SoundSpacesLayout, version: str, split: str, scene: str, datapoints: list[dict]) -> None:
    path = layout.passive_path(version, split, scene)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_bytes_atomic(path, pickle.dumps(datapoints, protocol=4))


def read_passive(layout: SoundSpacesLayout, version: str, split: str, scene: str) -> list[dict]:
    path = layout.passive_path(version, split, scene)
    if not os.path.isfile(path):
        raise WorldDataError(f"passive datapoints not found: {path}")
    try:
        with open(path, "rb") as handle:
            datapoints = pickle.load(handle)
    except Exception as error:  # unpickling garbage raises many types
        raise WorldDataError(
            f"{path}: cannot unpickle passive datapoints ({type(error).__name__}: {error}); regenerate the world's passive datasets"
        ) from None
    if not isinstance(datapoints, list):
        raise WorldDataError(f"{path}: expected a list of passive datapoints, got {type(datapoints).__name__}")
    if not datapoints:
        raise EmptySplitError(f"{path}: no passive datapoints")
    for number, datapoint in enumerate(datapoints):
        if not (isinstance(datapoint, dict) and {"r", "azimuth", "all_s"} <= set(datapoint)):
            raise WorldDataError(
                f"{path}: datapoint {number} must be a dict with 'r', 'azimuth' and 'all_s', got {datapoint!r:.120}"
            )
    return datapoints


def passive_scenes(layout: SoundSpacesLayout, version: str, split: str) -> list[str]:
    folder = os.path.dirname(layout.passive_path(version, split, "x"))
    if not os.path.isdir(folder):
        raise EmptySplitError(f"no passive split folder {folder}")
    return sorted(name[:-4] for name in os.listdir(folder) if name.endswith(".pkl"))


# ============================================================================================ sounds
def sound_path(layout: SoundSpacesLayout, name: str, heard: bool, sounds_folder: str = "sounds") -> str:
    return os.path.join(
        layout.sounds_dir(sounds_folder),
        "heard" if heard else "unheard",
        name if name.endswith(".wav") else f"{name}.wav",
    )


def list_sounds(layout: SoundSpacesLayout, heard: bool, sounds_folder: str = "sounds") -> list[str]:
    """Clip names (<class>_<id>.wav) of the heard or unheard pool, sorted."""
    folder = os.path.join(layout.sounds_dir(sounds_folder), "heard" if heard else "unheard")
    if not os.path.isdir(folder):
        raise MissingSoundError(f"sound folder not found: {folder}")
    names = sorted(name for name in os.listdir(folder) if name.endswith(".wav"))
    if not names:
        raise MissingSoundError(f"sound folder {folder} holds no .wav clips")
    return names


def sound_classes_path(layout: SoundSpacesLayout, sounds_folder: str = "sounds") -> str:
    return os.path.join(layout.sounds_dir(sounds_folder), "classes.json")


def read_sound_classes(layout: SoundSpacesLayout, sounds_folder: str = "sounds") -> dict:
    """The sound bank's classes.json, checked: every class has a name, a bool 'target' and an int 'label'."""
    path = sound_classes_path(layout, sounds_folder)
    if not os.path.isfile(path):
        raise MissingSoundError(f"sound class list not found: {path}")
    try:
        with open(path) as handle:
            payload = json.load(handle)
    except json.JSONDecodeError as error:
        raise WorldDataError(f"{path}: not valid JSON ({error})") from None
    classes = payload.get("classes") if isinstance(payload, dict) else None
    if not isinstance(classes, list) or not classes:
        raise WorldDataError(f"{path}: expected a non-empty list under 'classes'")
    names = set()
    for entry in classes:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("name"), str)
            and isinstance(entry.get("target"), bool)
            and isinstance(entry.get("label"), int)
        ):
            raise WorldDataError(
                f"{path}: each class needs 'name' (str), 'target' (bool) and 'label' (int), got {entry!r}"
            )
        if entry["name"] in names:
            raise WorldDataError(f"{path}: class {entry['name']!r} is listed twice")
        names.add(entry["name"])
    return payload


def sound_class(name: str) -> str:
    """'<class>_<id>.wav' -> '<class>'."""
    return os.path.basename(name).rsplit("_", 1)[0]


def read_sound(path: str, sample_rate: int, min_seconds: float = 0.0) -> np.ndarray:
    """A mono clip as float32 at sample_rate; raises MissingSoundError / ChannelError / SampleRateError."""
    if not os.path.isfile(path):
        raise MissingSoundError(f"sound clip not found: {path}")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as error:
        raise WorldDataError(f"{path}: cannot read as audio ({error})") from None
    check_complete(path)
    if data.shape[1] != 1:
        raise ChannelError(f"{path}: expected a mono clip, found {data.shape[1]} channels")
    if rate != sample_rate:
        raise SampleRateError(f"{path}: sample rate {rate} Hz, expected {sample_rate} Hz")
    if data.shape[0] < min_seconds * sample_rate:
        raise WorldDataError(f"{path}: {data.shape[0] / rate:.1f} s long, expected at least {min_seconds} s")
    check_finite(path, data, "the clip")
    if not np.any(data):
        raise SilentClipError(
            f"{path}: the clip is all silence (every sample 0); replace it or remove it from the bank"
        )
    return data[:, 0]


def read_clip(path: str, sample_rate: int) -> tuple[np.ndarray, list[str]]:
    """A clip of any rate and channel count as mono float32 at sample_rate, and what was converted.

    Channels are averaged (the downmix keeps the level of a centred source and cannot clip); other rates
    are resampled by the polyphase filter of `resample` (as for RIRs). Returns (samples, conversions),
    conversions e.g. ["2 channels averaged to mono", "44100 Hz resampled to 16000 Hz"]; raises
    MissingSoundError / WorldDataError naming the file."""
    if not os.path.isfile(path):
        raise MissingSoundError(f"sound clip not found: {path}")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as error:
        raise WorldDataError(f"{path}: cannot read as audio ({error})") from None
    if data.shape[0] == 0:
        raise WorldDataError(f"{path}: holds no samples")
    conversions = []
    if data.shape[1] != 1:
        conversions.append(f"{data.shape[1]} channels averaged to mono")
    mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] != 1 else data[:, 0]
    if rate != sample_rate:
        conversions.append(f"{rate} Hz resampled to {sample_rate} Hz")
        mono = resample(mono, int(rate), int(sample_rate))
    return np.ascontiguousarray(mono, dtype=np.float32), conversions


# ============================================================================================ helpers
