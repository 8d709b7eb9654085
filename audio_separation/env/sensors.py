"""Sensors: registered classes (habitat style), one per name of config TASK.SENSORS. A sensor declares
the observation keys it produces, their gymnasium spaces, whether it needs the step's rendered audio or
views, and fills its keys from a step. Adding a sensor = one class registered here (or anywhere imported
before the env is built) + its name in TASK.SENSORS; the env loops over its sensors and names none.

Spectrograms are (freq, frames, channels) float32, 512 x 32 for the paper's STFT; N = sources in the mix,
source 0 is the target.
    MIXED_BINAURAL_MAGNITUDE  mixed_binaural_magnitude  (F, T, 2)   log1p |STFT| of the mixture (ears L, R)
    MIXED_BINAURAL_PHASE      mixed_binaural_phase      (F, T, 2)   its phase, radians
    MIXED_BINAURAL_STAY       stay_binaural_magnitude   (F, T, 2)   log1p |STFT| of this step's mixture heard from the
                                                                    previous step's pose (node, heading): what standing
                                                                    still would have heard (RL.REWARD pose_gain)
    MIXED_BINAURAL_START      start_binaural_magnitude  (F, T, 2)   log1p |STFT| of this step's mixture heard from the
                                                                    episode's start pose: what an agent that never
                                                                    moved would hear now (RL.REWARD still_gain)
    GT_MONO                   gt_mono_magnitude         (F, T, N)   |STFT| of each dry chunk; target's RMS = AUDIO.TARGET_MONO_RMS
                              gt_mono_phase             (F, T, N)   their phases
    GT_BINAURAL               gt_binaural_magnitude     (F, T, 2N)  |STFT| of each source's binaural signal
                                                                    (channels 2i, 2i + 1 = source i's ears L, R)
                              gt_binaural_phase         (F, T, 2N)  their phases
    TARGET_CLASS              target_class              (1,) int64  the target's class label
    POSE                      pose                      (4,)        x right, y ahead (m), heading change (rad), t (steps)
    RGB                       rgb                       (H, W, 3) uint8
    DEPTH                     depth                     (H, W, 1)   float32 in [0, 1] (depth / WORLD.DEPTH_MAX)

Buffers: `observe(step, out)` writes each key into out[key] when out has it (a vector env's shared-memory
row, AudioSeparationEnv.set_observation_buffers) and returns those arrays; otherwise fresh arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from gymnasium import spaces

from audio_separation.audio.renderer import RenderedAudio
from audio_separation.common.registry import registry
from audio_separation.env.settings import EnvSettings

if TYPE_CHECKING:
    from audio_separation.env.simulator import Simulator

_INFINITY = np.float32(np.inf)


@dataclass(frozen=True)
class SensorContext:
    """What sensors' spaces are made from: the env settings and what the world says (number of classes)."""

    settings: EnvSettings
    num_classes: int

    @property
    def num_sources(self) -> int:
        return self.settings.task.num_sounds_in_mix

    @property
    def num_freq_bins(self) -> int:
        return self.settings.audio.num_freq_bins

    @property
    def num_frames(self) -> int:
        return self.settings.audio.num_frames

    @property
    def view_resolution(self) -> int:
        return self.settings.world.view_resolution

    def spectrogram_space(self, channels: int, phase: bool = False) -> spaces.Box:
        """(F, T, channels) float32: magnitudes in [0, inf), phases in [-pi, pi]."""
        low, high = (-np.float32(np.pi), np.float32(np.pi)) if phase else (np.float32(0.0), _INFINITY)
        return spaces.Box(low=low, high=high, shape=(self.num_freq_bins, self.num_frames, channels), dtype=np.float32)


@dataclass
class SensorStep:
    """What sensors read at one step: the simulator's state, and the step's rendered audio and views
    (None unless some sensor of the env needs them)."""

    simulator: Simulator
    audio: RenderedAudio | None = None
    rgb: np.ndarray | None = None  # the cached view itself: sensors copy it
    depth: np.ndarray | None = None

    def view_name(self) -> str:
        """The current view's file, node and heading (formatted only for error messages: ~5 us)."""
        simulator = self.simulator
        return f"{simulator.layout.observations_path(simulator.episode.scene)} (node {simulator.node}, heading {simulator.heading})"


class Sensor:
    """Base of registered sensors. Subclasses set `keys` and the needs_* flags and define `spaces`, and
    either `value` (one key: its array for the step) or `observe` (any keys, writing into buffers)."""

    keys: ClassVar[tuple[str, ...]] = ()  # observation keys this sensor produces
    needs_audio: ClassVar[bool] = False  # reads step.audio
    needs_source_binaural: ClassVar[bool] = False  # step.audio must carry each source's binaural STFT
    needs_views: ClassVar[bool] = False  # reads step.rgb / step.depth

    def __init__(self, context: SensorContext) -> None:
        self.context = context

    def spaces(self) -> dict[str, spaces.Space]:
        """key -> gymnasium space, for every key in `keys`."""
        raise NotImplementedError

    def value(self, step: SensorStep) -> np.ndarray:
        """The array of a one-key sensor at this step."""
        raise NotImplementedError

    def observe(self, step: SensorStep, out: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """key -> array of this step; written into out[key] when out has it (and those arrays returned)."""
        (key,) = self.keys
        value = self.value(step)
        buffer = out.get(key)
        if buffer is None:
            return {key: value}
        buffer[...] = value
        return {key: buffer}


# ============================================================================================ audio
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


@registry.register_sensor(name="MIXED_BINAURAL_MAGNITUDE")
class MixedBinauralMagnitudeSensor(Sensor):
    keys = ("mixed_binaural_magnitude",)
    needs_audio = True

    def spaces(self) -> dict[str, spaces.Space]:
        return {"mixed_binaural_magnitude": self.context.spectrogram_space(2)}

    def observe(self, step: SensorStep, out: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        key = "mixed_binaural_magnitude"
        return {key: _channels_last(step.audio.mixture, _log1p_magnitude, out.get(key))}


@registry.register_sensor(name="MIXED_BINAURAL_PHASE")
class MixedBinauralPhaseSensor(Sensor):
    keys = ("mixed_binaural_phase",)
    needs_audio = True

    def spaces(self) -> dict[str, spaces.Space]:
        return {"mixed_binaural_phase": self.context.spectrogram_space(2, phase=True)}

    def observe(self, step: SensorStep, out: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        key = "mixed_binaural_phase"
        return {key: _channels_last(step.audio.mixture, _phase, out.get(key))}


class CounterfactualMixtureSensor(Sensor):
    """This step's second of audio heard from another pose (reference_pose) than the agent's: a second
    render per step, skipped where that pose is the agent's (the step's own mixture is used)."""

    needs_audio = True

    def reference_pose(self, simulator) -> tuple[int, int]:
        raise NotImplementedError

    def spaces(self) -> dict[str, spaces.Space]:
        return {self.keys[0]: self.context.spectrogram_space(2)}

    def observe(self, step: SensorStep, out: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        key, simulator = self.keys[0], step.simulator
        pose = self.reference_pose(simulator)
        audio = step.audio if pose == (simulator.node, simulator.heading) else simulator.render_audio(False, pose)
        return {key: _channels_last(audio.mixture, _log1p_magnitude, out.get(key))}


@registry.register_sensor(name="MIXED_BINAURAL_STAY")
class MixedBinauralStaySensor(CounterfactualMixtureSensor):
    """The counterfactual of the last action: heard from the pose the agent had before it."""

    keys = ("stay_binaural_magnitude",)

    def reference_pose(self, simulator) -> tuple[int, int]:
        return simulator.previous_pose


@registry.register_sensor(name="MIXED_BINAURAL_START")
class MixedBinauralStartSensor(CounterfactualMixtureSensor):
    """The counterfactual of the whole episode so far: heard from the episode's start pose, where the
    stand-still agent would be."""

    keys = ("start_binaural_magnitude",)

    def reference_pose(self, simulator) -> tuple[int, int]:
        return simulator.episode.start_node, simulator.episode.start_heading


@registry.register_sensor(name="GT_MONO")
class GroundTruthMonoSensor(Sensor):
    keys = ("gt_mono_magnitude", "gt_mono_phase")
    needs_audio = True

    def spaces(self) -> dict[str, spaces.Space]:
        sources = self.context.num_sources
        return {
            "gt_mono_magnitude": self.context.spectrogram_space(sources),
            "gt_mono_phase": self.context.spectrogram_space(sources, phase=True),
        }

    def observe(self, step: SensorStep, out: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        audio = step.audio
        frequency, frames = audio.mono[0][0].shape
        shape = (frequency, frames, len(audio.mono))
        magnitude = out["gt_mono_magnitude"] if "gt_mono_magnitude" in out else np.empty(shape, dtype=np.float32)
        phase = out["gt_mono_phase"] if "gt_mono_phase" in out else np.empty(shape, dtype=np.float32)
        for index, (_, mono_phase) in enumerate(audio.mono):  # plane by plane from the cache (see _channels_last)
            audio.write_mono_magnitude(index, magnitude[..., index])
            phase[..., index] = mono_phase
        return {"gt_mono_magnitude": magnitude, "gt_mono_phase": phase}


@registry.register_sensor(name="GT_BINAURAL")
class GroundTruthBinauralSensor(Sensor):
    keys = ("gt_binaural_magnitude", "gt_binaural_phase")
    needs_audio = True
    needs_source_binaural = True

    def spaces(self) -> dict[str, spaces.Space]:
        channels = 2 * self.context.num_sources
        return {
            "gt_binaural_magnitude": self.context.spectrogram_space(channels),
            "gt_binaural_phase": self.context.spectrogram_space(channels, phase=True),
        }

    def observe(self, step: SensorStep, out: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        binaural = step.audio.source_binaural
        if binaural is None:
            raise ValueError("GT_BINAURAL needs the sources' binaural STFTs (render with with_source_binaural=True)")
        return {
            "gt_binaural_magnitude": _channels_last(binaural, np.abs, out.get("gt_binaural_magnitude")),
            "gt_binaural_phase": _channels_last(binaural, _phase, out.get("gt_binaural_phase")),
        }


# ============================================================================================ state
@registry.register_sensor(name="TARGET_CLASS")
class TargetClassSensor(Sensor):
    keys = ("target_class",)

    def spaces(self) -> dict[str, spaces.Space]:
        high = max(self.context.num_classes - 1, 0)
        return {"target_class": spaces.Box(low=0, high=high, shape=(1,), dtype=np.int64)}

    def value(self, step: SensorStep) -> np.ndarray:
        return np.array([step.simulator.episode.target_label], dtype=np.int64)


@registry.register_sensor(name="POSE")
class PoseSensor(Sensor):
    keys = ("pose",)

    def spaces(self) -> dict[str, spaces.Space]:
        return {"pose": spaces.Box(low=-_INFINITY, high=_INFINITY, shape=(4,), dtype=np.float32)}

    def value(self, step: SensorStep) -> np.ndarray:
        return step.simulator.pose()


# ============================================================================================ views
class _ViewSensor(Sensor):
    """A cached view checked against the declared resolution, copied (the cache must not be shared)."""

    needs_views = True

    def observe(self, step: SensorStep, out: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        (key,) = self.keys
        value = self.value(step)
        buffer = out.get(key)
        if buffer is None:
            return {key: value.copy()}  # fresh data every call
        np.copyto(buffer, value)
        return {key: buffer}


@registry.register_sensor(name="RGB")
class RgbSensor(_ViewSensor):
    keys = ("rgb",)

    def spaces(self) -> dict[str, spaces.Space]:
        resolution = self.context.view_resolution
        return {"rgb": spaces.Box(low=0, high=255, shape=(resolution, resolution, 3), dtype=np.uint8)}

    def value(self, step: SensorStep) -> np.ndarray:
        rgb, resolution = step.rgb, self.context.view_resolution
        if rgb.shape != (resolution, resolution, 3) or rgb.dtype != np.uint8:
            raise ValueError(
                f"{step.view_name()}: rgb view is {rgb.shape} {rgb.dtype}, expected ({resolution}, {resolution}, 3) uint8 (WORLD.VIEW_RESOLUTION)"
            )
        return rgb


@registry.register_sensor(name="DEPTH")
class DepthSensor(_ViewSensor):
    keys = ("depth",)

    def spaces(self) -> dict[str, spaces.Space]:
        resolution = self.context.view_resolution
        return {"depth": spaces.Box(low=0.0, high=1.0, shape=(resolution, resolution, 1), dtype=np.float32)}

    def value(self, step: SensorStep) -> np.ndarray:
        depth, resolution = step.depth, self.context.view_resolution
        depth = depth.reshape(depth.shape[0], depth.shape[1], 1) if depth.ndim == 2 else depth
        if depth.shape != (resolution, resolution, 1):
            raise ValueError(
                f"{step.view_name()}: depth view is {depth.shape}, expected ({resolution}, {resolution}, 1) (WORLD.VIEW_RESOLUTION)"
            )
        return depth


# ============================================================================================ building
def make_sensors(names: tuple[str, ...] | list[str], context: SensorContext) -> list[Sensor]:
    """The sensors named (config TASK.SENSORS), in order; raises ValueError naming an unknown or repeated
    name, or two sensors that produce the same key."""
    names = list(names)
    unknown = []
    for name in names:
        try:
            registry.get_sensor(name)
        except KeyError:
            unknown.append(name)
    if unknown:
        raise ValueError(f"TASK.SENSORS has unknown sensors {unknown}; known: {registry.known('sensor')}")
    if len(set(names)) != len(names):
        raise ValueError(f"TASK.SENSORS lists a sensor twice: {names}")
    sensors, producers = [], {}
    for name in names:
        sensor = registry.get_sensor(name)(context)
        declared = sensor.spaces()
        if set(declared) != set(sensor.keys):
            raise ValueError(f"sensor {name}: spaces() gives keys {sorted(declared)}, keys declares {sensor.keys}")
        for key in sensor.keys:
            if key in producers:
                raise ValueError(f"sensors {producers[key]} and {name} both produce observation key {key!r}")
            producers[key] = name
        sensors.append(sensor)
    return sensors


def observation_space(sensors: list[Sensor]) -> spaces.Dict:
    """The Dict space of these sensors (gymnasium orders its keys by name)."""
    return spaces.Dict({key: space for sensor in sensors for key, space in sensor.spaces().items()})
