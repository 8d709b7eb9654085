"""What the agent hears at one step: each source's 1-s chunk convolved with the binaural RIR of (agent
node, source node, agent heading), averaged into the mixture, and their STFTs.

Speed comes from caching what repeats (audio/mixing.py has the maths): the spectrum of every RIR used
(LRU per env, keyed by scene, heading, receiver, source) and, per clip second, the chunk's spectrum and
its mono STFT (LRU per env). A step then costs one batched inverse FFT over sources x ears plus the
STFT of the binaural signals. The STFT is linear, so the mixture's STFT is the mean of the sources'
binaural STFTs when those are computed anyway (GT_BINAURAL on); otherwise the mixture waveform is
transformed directly.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np

from audio_separation.audio.mixing import (
    chunk_spectrum,
    clip_chunk,
    convolution_fft_length,
    convolve_from_spectra,
    int16_roundtrip,
    rir_spectrum,
    rms,
    rms_factor,
)
from audio_separation.audio.stft import StftParams, stft
from audio_separation.common.allocator import keep_freed_memory
from audio_separation.world.soundspaces import (
    MissingRIRError,
    PackedSceneRIRs,
    SoundSpacesLayout,
    azimuth_of_heading,
    read_rir,
    read_sound,
)

logger = logging.getLogger("audio_separation")


class LruCache:
    """A bounded mapping that evicts the least recently used entry."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"cache capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if key in self._entries:
            self._entries.move_to_end(key)
            self.hits += 1
            return self._entries[key]
        self.misses += 1
        value = compute()
        self._entries[key] = value
        if len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)


class SceneRirs:
    """A scene's binaural RIRs by (receiver, source, heading): the packed cache or the wav files."""

    def __init__(
        self,
        layout: SoundSpacesLayout,
        scene: str,
        packed: PackedSceneRIRs | None,
        sample_rate: int,
        allow_missing: bool,
    ) -> None:
        self.layout, self.scene, self.packed = layout, scene, packed
        self.sample_rate, self.allow_missing = sample_rate, allow_missing
        self.missing = 0

    def get(self, receiver: int, source: int, heading: int) -> np.ndarray:
        """(samples, 2) float32."""
        if self.packed is not None:
            try:
                return np.asarray(self.packed.get(receiver, source, heading), dtype=np.float32)
            except KeyError as error:
                raise MissingRIRError(f"scene {self.scene!r}: {error.args[0]}") from None
        path = self.layout.rir_path(self.scene, azimuth_of_heading(heading), receiver, source)
        try:
            return read_rir(path, self.sample_rate)
        except MissingRIRError:
            if not self.allow_missing:
                raise
            self.missing += 1
            if self.missing == 1:
                logger.warning(
                    "%s: missing RIR %s read as silence (WORLD.ALLOW_MISSING_RIRS); further ones are counted in SceneRirs.missing",
                    self.scene,
                    path,
                )
            return np.zeros((1, 2), dtype=np.float32)


class ClipLibrary:
    """Mono clips by path, loaded once per env (checked for rate and channels by world.soundspaces)."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._clips: dict[str, np.ndarray] = {}

    def clip(self, path: str) -> np.ndarray:
        if path not in self._clips:
            self._clips[path] = read_sound(path, self.sample_rate, min_seconds=1.0)
        return self._clips[path]

    def num_seconds(self, path: str) -> int:
        return int(self.clip(path).shape[0] // self.sample_rate)


@dataclass
class RenderedAudio:
    """Spectrograms of one step, (freq, frames) last; sources in episode order (0 = target)."""

    mixture: np.ndarray  # complex64 (2, F, T): STFT of the binaural mixture (mean over sources)
    source_binaural: np.ndarray | None  # complex64 (N, 2, F, T): STFT of each source's binaural signal
    mono: list[
        tuple[np.ndarray, np.ndarray]
    ]  # per source the cached (|STFT|, phase in radians) of its dry chunk, float32 (F, T), read-only
    target_mono_scale: float  # factor applied to the target's mono magnitude (its RMS becomes AUDIO.TARGET_MONO_RMS)

    def write_mono_magnitude(self, index: int, out: np.ndarray) -> np.ndarray:
        """Source index's |STFT| into out (F, T) float32, the target's rescaled: the observation is written
        from the cache directly, without an (N, F, T) array in between."""
        if index == 0:
            return np.multiply(self.mono[0][0], np.float32(self.target_mono_scale), out=out)
        np.copyto(out, self.mono[index][0])
        return out

    @property
    def mono_magnitude(self) -> np.ndarray:
        """float32 (N, F, T): |STFT| of each dry chunk; the target's RMS-normalised (a fresh array)."""
        magnitude = np.empty((len(self.mono),) + self.mono[0][0].shape, dtype=np.float32)
        for index in range(len(self.mono)):
            self.write_mono_magnitude(index, magnitude[index])
        return magnitude

    @property
    def mono_phase(self) -> np.ndarray:
        """float32 (N, F, T): phase of each dry chunk's STFT (a fresh array)."""
        return np.stack([phase for _, phase in self.mono])


class BinauralRenderer:
    """Renders steps with cached RIR spectra and clip-second spectra (one per env)."""

    def __init__(
        self,
        params: StftParams,
        sample_rate: int,
        step_samples: int,
        use_int16_roundtrip: bool,
        target_mono_rms: float,
        rir_cache_size: int,
        clip_second_cache_size: int,
        crop: str = "causal",
    ) -> None:
        self.params = params
        self.crop = crop
        self.sample_rate = sample_rate
        self.step_samples = step_samples
        self.use_int16_roundtrip = use_int16_roundtrip
        self.target_mono_rms = target_mono_rms
        self.clips = ClipLibrary(sample_rate)
        self.rir_spectra = LruCache(
            rir_cache_size
        )  # (scene, heading, receiver, source) -> (spectrum, rir length, fft length)
        self.chunk_spectra = LruCache(clip_second_cache_size)  # (path, second, fft length) -> (bins,) complex64
        self.mono_stfts = LruCache(clip_second_cache_size)  # (path, second) -> (magnitude, phase, rms)

    @classmethod
    def from_config(cls, config) -> BinauralRenderer:
        """The renderer the config's AUDIO and ENV sections describe (env and passive dataset alike); keeps
        freed memory in this process when ENV.KEEP_FREED_MEMORY (common/allocator.py)."""
        audio = config.AUDIO
        if config.ENV.KEEP_FREED_MEMORY:
            keep_freed_memory()
        return cls(
            params=StftParams.from_config(audio),
            sample_rate=int(audio.SAMPLE_RATE),
            step_samples=int(audio.SAMPLE_RATE * audio.STEP_SECONDS),
            use_int16_roundtrip=bool(audio.INT16_ROUNDTRIP),
            target_mono_rms=float(audio.TARGET_MONO_RMS),
            rir_cache_size=int(config.ENV.RIR_SPECTRA_CACHE_SIZE),
            clip_second_cache_size=int(config.ENV.CLIP_SECOND_CACHE_SIZE),
            crop=str(audio.CONVOLUTION_CROP),
        )

    def chunk(self, path: str, second: int) -> np.ndarray:
        return clip_chunk(self.clips.clip(path), second, self.step_samples)

    def _rir_spectrum(self, rirs: SceneRirs, receiver: int, source: int, heading: int) -> tuple[np.ndarray, int, int]:
        def compute() -> tuple[np.ndarray, int, int]:
            rir = rirs.get(receiver, source, heading)
            fft_length = convolution_fft_length(self.step_samples, rir.shape[0], self.crop)
            return rir_spectrum(rir, fft_length), rir.shape[0], fft_length

        return self.rir_spectra.get((rirs.scene, heading, receiver, source), compute)

    def _mono_stft(self, path: str, second: int) -> tuple[np.ndarray, np.ndarray, float]:
        """(magnitude, phase, RMS of the magnitude) of a dry clip second."""

        def compute() -> tuple[np.ndarray, np.ndarray, float]:
            spectrum = stft(self.chunk(path, second), self.params)
            magnitude = np.abs(spectrum).astype(np.float32)
            phase = np.angle(spectrum).astype(np.float32)
            magnitude.flags.writeable = phase.flags.writeable = (
                False  # shared by every step that hears this clip second
            )
            return magnitude, phase, rms(magnitude)

        return self.mono_stfts.get((path, second), compute)

    def binaural_sources(
        self, rirs: SceneRirs, receiver: int, heading: int, sources: list[tuple[str, int, int]]
    ) -> np.ndarray:
        """Each source's cropped (AUDIO.CONVOLUTION_CROP) binaural signal, float32 (N, 2, samples); sources are
        (clip path, clip second, source node). Sources with equal RIR lengths share one inverse FFT."""
        entries = [self._rir_spectrum(rirs, receiver, node, heading) for _, _, node in sources]
        groups: dict[tuple[int, int], list[int]] = {}
        for index, (_, rir_length, fft_length) in enumerate(entries):
            groups.setdefault((rir_length, fft_length), []).append(index)
        parts = []
        for (rir_length, fft_length), indices in groups.items():
            chunk_spectra = [
                self.chunk_spectra.get(
                    (sources[i][0], sources[i][1], fft_length),
                    lambda i=i, fft_length=fft_length: chunk_spectrum(
                        self.chunk(sources[i][0], sources[i][1]), fft_length
                    ),
                )
                for i in indices
            ]
            rir_spectra = [entries[i][0] for i in indices]
            parts.append(
                (
                    indices,
                    convolve_from_spectra(
                        chunk_spectra, rir_spectra, fft_length, self.step_samples, rir_length, self.crop
                    ),
                )
            )
        if len(parts) == 1:
            output = parts[0][1]
        else:
            output = np.empty((len(sources), 2, self.step_samples), dtype=np.float32)
            for indices, signals in parts:
                output[indices] = signals
        if self.use_int16_roundtrip:
            output = int16_roundtrip(output)
        return output

    def render(
        self,
        rirs: SceneRirs,
        receiver: int,
        heading: int,
        sources: list[tuple[str, int, int]],
        with_source_binaural: bool,
    ) -> RenderedAudio:
        """The step's spectrograms; the mixture is the MEAN of the sources' binaural signals."""
        binaural = self.binaural_sources(rirs, receiver, heading, sources)
        if with_source_binaural:
            source_binaural = stft(binaural, self.params)
            # the sources summed in order, as np.add.reduce(axis=0) would (same numbers, ~1/3 less time)
            mixture = np.add(source_binaural[0], source_binaural[1]) if len(sources) > 1 else source_binaural[0].copy()
            for spectrum in source_binaural[2:]:
                mixture += spectrum
            mixture *= np.float32(1.0 / len(sources))
        else:
            source_binaural = None
            mixture = stft(np.add.reduce(binaural, axis=0) * np.float32(1.0 / len(sources)), self.params)
        mono = [self._mono_stft(path, second) for path, second, _ in sources]
        scale = rms_factor(mono[0][2], self.target_mono_rms)  # the target is rescaled to RMS AUDIO.TARGET_MONO_RMS
        return RenderedAudio(
            mixture=mixture,
            source_binaural=source_binaural,
            mono=[(magnitude, phase) for magnitude, phase, _ in mono],
            target_mono_scale=scale,
        )
