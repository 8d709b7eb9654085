"""Observations: which keys each sensor name (config TASK.SENSORS) produces, their gymnasium spaces, and
their assembly from a rendered step.

Spectrograms are (freq, frames, channels) float32, 512 x 32 for the paper's STFT; N = sources in the mix,
source 0 is the target.
    MIXED_BINAURAL_MAGNITUDE  mixed_binaural_magnitude  (F, T, 2)   log1p |STFT| of the mixture (ears L, R)
    MIXED_BINAURAL_PHASE      mixed_binaural_phase      (F, T, 2)   its phase, radians
    GT_MONO                   gt_mono_magnitude         (F, T, N)   |STFT| of each dry chunk; target's RMS = AUDIO.TARGET_MONO_RMS
                              gt_mono_phase             (F, T, N)   their phases
    GT_BINAURAL               gt_binaural_magnitude     (F, T, 2N)  |STFT| of each source's binaural signal
                                                                    (channels 2i, 2i + 1 = source i's ears L, R)
                              gt_binaural_phase         (F, T, 2N)  their phases
    TARGET_CLASS              target_class              (1,) int64  the target's class label
    POSE                      pose                      (4,)        x right, y ahead (m), heading change (rad), t (steps)
    RGB                       rgb                       (H, W, 3) uint8
    DEPTH                     depth                     (H, W, 1)   float32 in [0, 1] (depth / WORLD.DEPTH_MAX)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from gymnasium import spaces

from audio_separation.audio.renderer import RenderedAudio

SENSOR_KEYS: dict[str, tuple[str, ...]] = {
    "MIXED_BINAURAL_MAGNITUDE": ("mixed_binaural_magnitude",),
    "MIXED_BINAURAL_PHASE": ("mixed_binaural_phase",),
    "GT_MONO": ("gt_mono_magnitude", "gt_mono_phase"),
    "GT_BINAURAL": ("gt_binaural_magnitude", "gt_binaural_phase"),
    "TARGET_CLASS": ("target_class",),
    "POSE": ("pose",),
    "RGB": ("rgb",),
    "DEPTH": ("depth",),
}
AUDIO_SENSORS = ("MIXED_BINAURAL_MAGNITUDE", "MIXED_BINAURAL_PHASE", "GT_MONO", "GT_BINAURAL")


def check_sensors(sensors: list[str]) -> list[str]:
    """The configured sensor names, checked; raises ValueError naming an unknown one."""
    unknown = [name for name in sensors if name not in SENSOR_KEYS]
    if unknown:
        raise ValueError(f"TASK.SENSORS has unknown sensors {unknown}; known: {sorted(SENSOR_KEYS)}")
    if len(set(sensors)) != len(sensors):
        raise ValueError(f"TASK.SENSORS lists a sensor twice: {list(sensors)}")
    return list(sensors)


def observation_space(
    sensors: list[str], num_freq_bins: int, num_frames: int, num_sources: int, num_classes: int, view_resolution: int
) -> spaces.Dict:
    """The Dict space of the configured sensors."""
    infinity = np.float32(np.inf)

    def spectrogram(channels: int, phase: bool = False) -> spaces.Box:
        low, high = (-np.float32(np.pi), np.float32(np.pi)) if phase else (np.float32(0.0), infinity)
        return spaces.Box(low=low, high=high, shape=(num_freq_bins, num_frames, channels), dtype=np.float32)

    boxes = {
        "mixed_binaural_magnitude": spectrogram(2),
        "mixed_binaural_phase": spectrogram(2, phase=True),
        "gt_mono_magnitude": spectrogram(num_sources),
        "gt_mono_phase": spectrogram(num_sources, phase=True),
        "gt_binaural_magnitude": spectrogram(2 * num_sources),
        "gt_binaural_phase": spectrogram(2 * num_sources, phase=True),
        "target_class": spaces.Box(low=0, high=max(num_classes - 1, 0), shape=(1,), dtype=np.int64),
        "pose": spaces.Box(low=-infinity, high=infinity, shape=(4,), dtype=np.float32),
        "rgb": spaces.Box(low=0, high=255, shape=(view_resolution, view_resolution, 3), dtype=np.uint8),
        "depth": spaces.Box(low=0.0, high=1.0, shape=(view_resolution, view_resolution, 1), dtype=np.float32),
    }
    return spaces.Dict({key: boxes[key] for name in check_sensors(sensors) for key in SENSOR_KEYS[name]})


def _channels_last(spectrogram: np.ndarray, transform=None, out: np.ndarray | None = None) -> np.ndarray:
    """(..., F, T) with any leading channel axes -> float32 (F, T, channels), optionally applying an
    elementwise ufunc-like `transform(plane, out=...)` on the way (one pass, no intermediate array).
    `out`: an (F, T, channels) float32 array to fill instead of a new one."""
    frequency, frames = spectrogram.shape[-2:]
    flat = spectrogram.reshape(-1, frequency, frames)
    output = np.empty((frequency, frames, flat.shape[0]), dtype=np.float32) if out is None else out
    for channel, plane in enumerate(flat):  # plane by plane: several times faster than one strided copy
        if transform is None:
            output[..., channel] = plane
        else:
            transform(plane, out=output[..., channel])
    return output


def _phase(spectrum: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.arctan2(spectrum.imag, spectrum.real, out=out)


def _log1p_magnitude(spectrum: np.ndarray, out: np.ndarray) -> np.ndarray:
    magnitude = np.abs(spectrum)  # contiguous: a strided `out` would make abs ~5x slower
    out[...] = np.log1p(magnitude, out=magnitude)
    return out


def audio_observations(
    sensors: list[str], audio: RenderedAudio, out: dict[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """The audio keys of the configured sensors from a rendered step (written into out's arrays when given)."""
    out = out or {}
    observations: dict[str, np.ndarray] = {}

    def put(key: str, spectrogram: np.ndarray, transform=None) -> None:
        observations[key] = _channels_last(spectrogram, transform, out.get(key))

    if "MIXED_BINAURAL_MAGNITUDE" in sensors:
        put("mixed_binaural_magnitude", audio.mixture, _log1p_magnitude)
    if "MIXED_BINAURAL_PHASE" in sensors:
        put("mixed_binaural_phase", audio.mixture, _phase)
    if "GT_MONO" in sensors:
        frequency, frames = audio.mono[0][0].shape
        shape = (frequency, frames, len(audio.mono))
        magnitude = out["gt_mono_magnitude"] if "gt_mono_magnitude" in out else np.empty(shape, dtype=np.float32)
        phase = out["gt_mono_phase"] if "gt_mono_phase" in out else np.empty(shape, dtype=np.float32)
        for index, (_, mono_phase) in enumerate(audio.mono):  # plane by plane from the cache (see _channels_last)
            audio.write_mono_magnitude(index, magnitude[..., index])
            phase[..., index] = mono_phase
        observations.update(gt_mono_magnitude=magnitude, gt_mono_phase=phase)
    if "GT_BINAURAL" in sensors:
        if audio.source_binaural is None:
            raise ValueError("GT_BINAURAL needs the sources' binaural STFTs (render with with_source_binaural=True)")
        put("gt_binaural_magnitude", audio.source_binaural, np.abs)
        put("gt_binaural_phase", audio.source_binaural, _phase)
    return observations


def view_observations(
    sensors: list[str],
    rgb: np.ndarray,
    depth: np.ndarray,
    resolution: int,
    where: str | Callable[[], str],
    out: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """rgb/depth of the configured sensors, checked against the declared resolution (fresh arrays, or
    copied into out's arrays when given). where names the view in error messages; a callable is called
    only for one (the env formatted its path every step: ~5 us)."""
    out = out or {}
    observations: dict[str, np.ndarray] = {}

    def put(key: str, value: np.ndarray) -> None:
        if key in out:
            np.copyto(out[key], value)
            observations[key] = out[key]
        else:
            observations[key] = value.copy()  # fresh data every call (the cache must not be shared)

    if "RGB" in sensors:
        if rgb.shape != (resolution, resolution, 3) or rgb.dtype != np.uint8:
            raise ValueError(
                f"{_name(where)}: rgb view is {rgb.shape} {rgb.dtype}, expected ({resolution}, {resolution}, 3) uint8 (WORLD.VIEW_RESOLUTION)"
            )
        put("rgb", rgb)
    if "DEPTH" in sensors:
        depth = depth.reshape(depth.shape[0], depth.shape[1], 1) if depth.ndim == 2 else depth
        if depth.shape != (resolution, resolution, 1):
            raise ValueError(
                f"{_name(where)}: depth view is {depth.shape}, expected ({resolution}, {resolution}, 1) (WORLD.VIEW_RESOLUTION)"
            )
        put("depth", depth)
    return observations


def _name(where: str | Callable[[], str]) -> str:
    return where() if callable(where) else where
