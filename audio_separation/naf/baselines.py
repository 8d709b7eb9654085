"""Baselines a NAF must beat, each giving test-item log-magnitudes scored like the NAF (naf/evaluate.py).

- mean: the training mean log-magnitude spectrogram (what a NAF predicting zero outputs).
- nearest / linear: interpolation of TRAINING waveforms per heading in the 4-d (listener xy, emitter xy)
  space (scipy NearestNDInterpolator; LinearNDInterpolator over a joggled Delaunay triangulation, 0
  outside the convex hull).
- codec_roundtrip: one RIR through a codec at low bitrate and back (opusenc --bitrate 6 --music --comp 10
  --cvbr / opusdec --float; ffmpeg AAC-LC at 24 kb/s). The paper's codec baselines (the training RIRs
  coded, then interpolated) are built from it in naf/codec_baselines.py. The external tools are
  required; a missing one raises MissingToolError naming the Debian package to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

import numpy as np
import soundfile as sf

from audio_separation.common.errors import ProjectError
from audio_separation.naf.data import NafSceneData, logmag_of_waveform

INTERPOLATIONS = ("nearest", "linear")
CODECS = ("opus", "aac")
CODEC_TOOLS = {"opus": (("opusenc", "opus-tools"), ("opusdec", "opus-tools")), "aac": (("ffmpeg", "ffmpeg"),)}


class MissingToolError(ProjectError, RuntimeError):
    """An external codec program is not installed."""


def require_tool(program: str, package: str) -> str:
    """Path of `program`, or MissingToolError naming it and the Debian package that provides it."""
    path = shutil.which(program)
    if path is None:
        raise MissingToolError(
            f"'{program}' is not installed (needed by the codec baseline): apt-get install -y {package}"
        )
    return path


def fit_frames(logmag: np.ndarray, frames: int, log_eps: float) -> np.ndarray:
    """Crop or pad (with log(eps), i.e. silence) a (2, F, T') log-magnitude to T = frames."""
    if logmag.shape[-1] >= frames:
        return logmag[..., :frames]
    return np.pad(logmag, ((0, 0), (0, 0), (0, frames - logmag.shape[-1])), constant_values=np.log(log_eps))


def mean_predictions(data: NafSceneData, indices: np.ndarray) -> list[np.ndarray]:
    """The training-mean spectrogram at each item's length (both ears)."""
    return [np.repeat(data.mean[None, :, : data.lengths[i]], 2, axis=0) for i in indices]


def interpolated_waveforms(
    data: NafSceneData,
    indices: np.ndarray,
    method: str,
    train_waveforms: Sequence[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """(2, samples) waveforms at items `indices`, interpolated per heading from the training split.

    train_waveforms: one (2, samples) waveform per data.train_indices item (default: the stored RIRs;
    the codec baselines pass the decoded codec versions). Every waveform is zero-padded to the longest."""
    from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator
    from scipy.spatial import Delaunay

    if method not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {method!r}; choose one of {INTERPOLATIONS}")
    train_waves = data.waveforms(data.train_indices) if train_waveforms is None else list(train_waveforms)
    if len(train_waves) != len(data.train_indices):
        raise ValueError(f"need one training waveform per train item: {len(train_waves)} != {len(data.train_indices)}")
    length = max(w.shape[-1] for w in train_waves)
    values = np.zeros((len(train_waves), 2 * length), dtype=np.float64)
    for row, wave in enumerate(train_waves):
        values[row].reshape(2, length)[:, : wave.shape[-1]] = wave
    coordinates = np.concatenate([data.listener_xy, data.emitter_xy], axis=1)
    train_heading = data.heading_index[data.train_indices]
    predictions: dict[int, np.ndarray] = {}
    for heading in np.unique(data.heading_index[indices]):
        rows = np.flatnonzero(train_heading == heading)
        queries = indices[data.heading_index[indices] == heading]
        if rows.size == 0:
            raise ValueError(f"heading {data.headings[heading]} has no training items to interpolate from")
        points = coordinates[data.train_indices[rows]]
        if method == "nearest":
            interpolator = NearestNDInterpolator(points, values[rows])
        else:
            interpolator = LinearNDInterpolator(Delaunay(points, qhull_options="QJ"), values[rows], fill_value=0.0)
        for item, wave in zip(queries, interpolator(coordinates[queries])):
            predictions[int(item)] = wave.reshape(2, length)
    return [predictions[int(i)].astype(np.float32) for i in indices]


def interpolation_predictions(
    data: NafSceneData,
    indices: np.ndarray,
    method: str,
    train_waveforms: Sequence[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Log-magnitudes, at each item's length, of the waveforms interpolated_waveforms gives."""
    return [
        fit_frames(logmag_of_waveform(wave, data.params), int(data.lengths[i]), data.params.log_eps)
        for i, wave in zip(indices, interpolated_waveforms(data, indices, method, train_waveforms))
    ]


def codec_roundtrip(waveform: np.ndarray, sample_rate: int, codec: str, folder: str) -> tuple[np.ndarray, int]:
    """(2, samples) through the codec and back: (decoded (2, samples), encoded bytes).

    The signal is peak-normalised before encoding and the gain restored after (4 bytes of side info,
    counted in the size)."""
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; choose one of {CODECS}")
    tools = {program: require_tool(program, package) for program, package in CODEC_TOOLS[codec]}
    peak = float(np.abs(waveform).max()) or 1.0
    source = os.path.join(folder, "input.wav")
    sf.write(source, (waveform / peak * 0.99).T.astype(np.float32), sample_rate, subtype="FLOAT")
    if codec == "opus":
        encoded, decoded_path = os.path.join(folder, "coded.opus"), os.path.join(folder, "decoded.wav")
        _run([tools["opusenc"], "--quiet", "--bitrate", "6", "--music", "--comp", "10", "--cvbr", source, encoded])
        _run([tools["opusdec"], "--quiet", "--rate", str(sample_rate), "--float", encoded, decoded_path])
        decoded, _ = sf.read(decoded_path, dtype="float32", always_2d=True)
        decoded = decoded.T
    else:
        encoded, decoded_path = os.path.join(folder, "coded.m4a"), os.path.join(folder, "decoded.raw")
        _run([tools["ffmpeg"], "-y", "-loglevel", "error", "-i", source, "-c:a", "aac", "-b:a", "24k", encoded])
        _run(
            [
                tools["ffmpeg"],
                "-y",
                "-loglevel",
                "error",
                "-i",
                encoded,
                "-f",
                "f32le",
                "-acodec",
                "pcm_f32le",
                "-ar",
                str(sample_rate),
                "-ac",
                "2",
                decoded_path,
            ]
        )
        decoded = np.fromfile(decoded_path, dtype=np.float32).reshape(-1, 2).T
    samples = waveform.shape[-1]
    decoded = (
        decoded[:, :samples]
        if decoded.shape[-1] >= samples
        else np.pad(decoded, ((0, 0), (0, samples - decoded.shape[-1])))
    )
    return decoded * (peak / 0.99), os.path.getsize(encoded) + 4


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()[-500:]}")
