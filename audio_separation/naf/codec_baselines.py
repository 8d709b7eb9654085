"""The paper's codec baselines: every TRAINING RIR of the scene coded (Opus 6 kb/s or AAC-LC 24 kb/s, as
naf/baselines.codec_roundtrip runs them), then nearest or linear interpolation of the DECODED training
waveforms to the test positions with the same code the plain nearest / linear baselines use
(baselines.interpolated_waveforms). Size = bytes per scene: the sum of the encoded sizes of all training
RIRs (what a user would store to render the scene).

Rows: opus-nearest, opus-linear, aac-nearest, aac-linear. Also the round trip of the test RIR itself
("opus-roundtrip", "aac-roundtrip"): what the codec alone loses, NOT a baseline (it needs the test RIR).

Each RIR is encoded once per run: CodecCache keeps decoded waveforms and encoded sizes in memory (never
on disk in the data root), so the nearest and linear rows share one encoding pass per codec.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from audio_separation.naf.baselines import (
    CODEC_TOOLS,
    CODECS,
    INTERPOLATIONS,
    codec_roundtrip,
    fit_frames,
    interpolation_predictions,
    require_tool,
)
from audio_separation.naf.data import NafSceneData, logmag_of_waveform

CODEC_INTERPOLATIONS = tuple(f"{codec}-{method}" for codec in CODECS for method in INTERPOLATIONS)
ROUNDTRIPS = tuple(f"{codec}-roundtrip" for codec in CODECS)


class CodecCache:
    """Decoded waveforms and encoded sizes of a scene's RIRs, per codec, each RIR encoded at most once.

    workers: codec processes run at once (threads waiting on subprocesses); default min(4, CPU count).
    """

    def __init__(self, data: NafSceneData, workers: int = 0) -> None:
        self.data = data
        self.workers = int(workers) or min(4, os.cpu_count() or 1)
        self._decoded: dict[tuple[str, int], np.ndarray] = {}
        self._sizes: dict[tuple[str, int], int] = {}
        self.encoded_count = 0  # RIRs encoded so far (all codecs): each (codec, RIR) counts once

    def _encode_missing(self, codec: str, items: Sequence[int]) -> None:
        if codec not in CODECS:
            raise ValueError(f"unknown codec {codec!r}; choose one of {CODECS}")
        missing = sorted({int(i) for i in items if (codec, int(i)) not in self._decoded})
        if not missing:
            return
        for program, package in CODEC_TOOLS[codec]:  # fail before starting any work
            require_tool(program, package)
        sample_rate = self.data.params.sample_rate

        def encode(wave: np.ndarray) -> tuple[np.ndarray, int]:
            with tempfile.TemporaryDirectory(prefix=f"naf_{codec}_") as folder:
                return codec_roundtrip(wave, sample_rate, codec, folder)

        waves = self.data.waveforms(np.array(missing, dtype=np.int64))
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            results = list(pool.map(encode, waves))
        for item, (decoded, size) in zip(missing, results):
            self._decoded[(codec, item)] = decoded.astype(np.float32)
            self._sizes[(codec, item)] = int(size)
        self.encoded_count += len(missing)

    def decoded(self, codec: str, items: Sequence[int]) -> list[np.ndarray]:
        """(2, samples) decoded waveforms of `items` (encoded now if not yet)."""
        self._encode_missing(codec, items)
        return [self._decoded[(codec, int(i))] for i in items]

    def encoded_bytes(self, codec: str, items: Sequence[int]) -> list[int]:
        """Encoded size of each of `items` in bytes (incl. the 4-byte gain codec_roundtrip adds)."""
        self._encode_missing(codec, items)
        return [self._sizes[(codec, int(i))] for i in items]


def split_method(name: str) -> tuple[str, str]:
    """'opus-linear' -> ('opus', 'linear'); raises ValueError for anything else."""
    codec, _, method = name.partition("-")
    if codec not in CODECS or method not in (*INTERPOLATIONS, "roundtrip"):
        raise ValueError(f"unknown codec baseline {name!r}; choose from {CODEC_INTERPOLATIONS + ROUNDTRIPS}")
    return codec, method


def codec_interpolation_predictions(
    data: NafSceneData, indices: np.ndarray, name: str, cache: CodecCache
) -> tuple[list[np.ndarray], dict]:
    """Log-magnitudes at `indices` interpolated from the decoded training RIRs, and the size facts:
    bytes_per_scene (sum over all training RIRs), training_rirs, bytes_per_rir (their mean)."""
    codec, method = split_method(name)
    if method == "roundtrip":
        raise ValueError(
            f"{name} is a round trip of the test RIR, not an interpolation: use codec_roundtrip_predictions"
        )
    train = data.train_indices
    predictions = interpolation_predictions(data, indices, method, train_waveforms=cache.decoded(codec, train))
    sizes = cache.encoded_bytes(codec, train)
    return predictions, {
        "bytes_per_scene": int(sum(sizes)),
        "training_rirs": len(sizes),
        "bytes_per_rir": float(np.mean(sizes)),
    }


def codec_roundtrip_predictions(
    data: NafSceneData, indices: np.ndarray, name: str, cache: CodecCache
) -> tuple[list[np.ndarray], dict]:
    """Log-magnitudes of each test RIR itself through the codec, and its mean bytes_per_rir."""
    codec, method = split_method(name)
    if method != "roundtrip":
        raise ValueError(f"{name} is not a round trip")
    predictions = [
        fit_frames(logmag_of_waveform(wave, data.params), int(data.lengths[i]), data.params.log_eps)
        for i, wave in zip(indices, cache.decoded(codec, indices))
    ]
    return predictions, {"bytes_per_rir": float(np.mean(cache.encoded_bytes(codec, indices)))}
