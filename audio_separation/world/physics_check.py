"""Physical sanity of a scene's binaural RIRs, for the world check (`--run-type eval` of trainer "world").

Per scene, over its (heading, receiver, source) RIRs (or an evenly spaced sample of the receiver-source
pairs, max_pairs): the distribution (min / median / max) of T60, direct-to-reverberant ratio, interaural
level difference and interaural time difference, with the definitions of audio/metrics.py (ILD and ITD
of the first arrival: 0.5 ms before to 1 ms after the onset of both ears). Each ear is one value for T60
and DRR; each RIR one value for ILD and ITD.

A scene FAILS when
- any RIR holds a NaN or Inf sample (counted; those RIRs are left out of every other number), or
- its RIRs' energy does not fall with distance on average: the Spearman rank correlation between the
  first-arrival energy of a pair (summed over both ears, averaged over the headings) and the straight-line
  source-receiver distance (points.txt), over the pairs with distinct nodes, is not negative (rho >= 0).
  Through-wall pairs are further along the doorway path than in a straight line, so this is a weak test:
  it catches swapped or scrambled RIRs and wrong gains, not subtle propagation errors.
T60 estimates that fail (the decay never reaches -35 dB: NaN) and silent RIRs are counted, not failures.

A partial RIR set (the benchmark preset's: every node a receiver, a few source nodes) has no packed cache;
`source_node_rirs` reads its RIRs among the source nodes (all present there, since every node is a
receiver) so the same check runs on them.
"""

from __future__ import annotations

import os

import numpy as np
from scipy.stats import spearmanr

from audio_separation.audio.metrics import (
    direct_to_reverberant_ratio,
    first_arrival,
    interaural_level_difference,
    interaural_time_difference,
    t60,
)
from audio_separation.world.soundspaces import PackedSceneRIRs, SoundSpacesLayout, azimuth_of_heading, read_rir

RECEIVER_CHUNK = 8  # receivers read from the memory-mapped cache at once (bounds memory for long RIRs)
MAX_SOURCE_NODES = 40  # source_node_rirs reads at most this many source nodes (evenly spaced) squared


def _distribution(values: list[np.ndarray], digits: int = 4) -> dict:
    flat = np.concatenate([np.ravel(v) for v in values]) if values else np.zeros(0)
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return {"min": None, "median": None, "max": None, "count": 0}
    return {
        "min": round(float(flat.min()), digits),
        "median": round(float(np.median(flat)), digits),
        "max": round(float(flat.max()), digits),
        "count": int(flat.size),
    }


def _pair_sample(count: int, max_pairs: int) -> np.ndarray:
    """Flat (receiver * count + source) indices: all pairs, or max_pairs evenly spaced ones."""
    total = count * count
    if max_pairs <= 0 or total <= max_pairs:
        return np.arange(total)
    return np.unique(np.linspace(0, total - 1, max_pairs).round().astype(np.int64))


def check_scene_physics(packed: PackedSceneRIRs, points: dict[int, np.ndarray], max_pairs: int = 0) -> dict:
    """Distributions and failures of one scene's RIRs (see the module docstring); JSON-ready."""
    sample_rate = packed.sample_rate
    nodes = list(packed.nodes)
    missing = [node for node in nodes if node not in points]
    if missing:
        raise ValueError(f"the RIR cache lists nodes {missing[:5]} that points.txt does not have")
    pairs = _pair_sample(len(nodes), max_pairs)
    receiver_of, source_of = pairs // len(nodes), pairs % len(nodes)
    headings = len(packed.headings)
    t60s, drrs, ilds, itds = [], [], [], []
    arrival_energy = np.zeros((headings, len(pairs)))
    nonfinite = silent = 0
    for h in range(headings):
        for start in range(0, len(nodes), RECEIVER_CHUNK):
            chosen = (receiver_of >= start) & (receiver_of < start + RECEIVER_CHUNK)
            if not chosen.any():
                continue
            block = np.asarray(packed.rirs[h, start : start + RECEIVER_CHUNK], dtype=np.float64)
            rirs = np.swapaxes(block[receiver_of[chosen] - start, source_of[chosen]], -1, -2)  # (P, 2, T)
            finite = np.isfinite(rirs).all(axis=(-1, -2))
            nonfinite += int((~finite).sum())
            energy = (np.where(np.isfinite(rirs), rirs, 0.0) ** 2).sum(axis=(-1, -2))
            usable = finite & (energy > 0)
            silent += int((finite & (energy == 0)).sum())
            pair_energy = np.full(int(chosen.sum()), np.nan)
            if usable.any():
                good = rirs[usable]
                arrival = first_arrival(good, sample_rate)
                t60s.append(np.asarray(t60(good, sample_rate)))
                drrs.append(np.asarray(direct_to_reverberant_ratio(good, sample_rate)))
                ilds.append(np.asarray(interaural_level_difference(arrival)))
                itds.append(np.asarray(interaural_time_difference(arrival, sample_rate)) * 1e3)
                pair_energy[usable] = (arrival**2).sum(axis=(-1, -2))
            arrival_energy[h, chosen] = pair_energy
    failed_t60 = int(sum(np.isnan(v).sum() for v in t60s))
    with np.errstate(divide="ignore"):
        level_db = 10 * np.log10(np.mean(arrival_energy, axis=0))  # NaN when any heading was unusable
    positions = np.stack([np.asarray(points[node], dtype=np.float64) for node in nodes])
    distance = np.linalg.norm(positions[receiver_of] - positions[source_of], axis=1)
    ranked = (receiver_of != source_of) & np.isfinite(level_db)
    rho = None
    if ranked.sum() >= 3 and np.ptp(distance[ranked]) > 0:
        rho = float(spearmanr(distance[ranked], level_db[ranked])[0])
    failures = []
    if nonfinite:
        failures.append(f"{nonfinite} RIRs hold NaN or Inf samples")
    if rho is not None and not rho < 0:
        failures.append(
            f"first-arrival energy does not fall with distance: Spearman rho = {rho:.3f} >= 0 over {int(ranked.sum())} pairs"
        )
    return {
        "pairs_checked": int(len(pairs)),
        "rirs_checked": int(len(pairs) * headings),
        "nonfinite_rirs": nonfinite,
        "silent_rirs": silent,
        "t60_seconds": _distribution(t60s),
        "t60_failed_estimates": failed_t60,
        "drr_db": _distribution(drrs),
        "ild_db": _distribution(ilds),
        "itd_ms": _distribution(itds),
        "energy_distance_spearman": None if rho is None else round(rho, 4),
        "failures": failures,
    }


def source_node_rirs(
    layout: SoundSpacesLayout, scene: str, headings: list[int], sample_rate: int
) -> PackedSceneRIRs | None:
    """The RIRs between a scene's source nodes (the sources of its wav files, at most MAX_SOURCE_NODES of
    them, evenly spaced), as a square in-memory set; None when one of those pairs has no file."""
    folder = os.path.join(layout.rir_scene_dir(scene), str(azimuth_of_heading(headings[0])))
    if not os.path.isdir(folder):
        return None
    sources = sorted({int(name[: -len(".wav")].split("_")[1]) for name in os.listdir(folder) if name.endswith(".wav")})
    if len(sources) > MAX_SOURCE_NODES:
        sources = [sources[int(i)] for i in np.linspace(0, len(sources) - 1, MAX_SOURCE_NODES).round()]
    paths = [
        [[layout.rir_path(scene, azimuth_of_heading(h), r, s) for s in sources] for r in sources] for h in headings
    ]
    if len(sources) < 2 or not all(os.path.isfile(path) for block in paths for row in block for path in row):
        return None
    rirs = [[[read_rir(path, sample_rate) for path in row] for row in block] for block in paths]
    lengths = np.array([[[rir.shape[0] for rir in row] for row in block] for block in rirs], dtype=np.int64)
    packed = np.zeros((*lengths.shape, int(lengths.max()), 2), dtype=np.float32)
    for h, block in enumerate(rirs):
        for r, row in enumerate(block):
            for s, rir in enumerate(row):
                packed[h, r, s, : rir.shape[0]] = rir
    return PackedSceneRIRs(
        rirs=packed, nodes=sources, headings=list(headings), sample_rate=sample_rate, lengths=lengths
    )
