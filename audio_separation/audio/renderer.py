"""What the agent hears at one step: each source's 1-s chunk convolved with the binaural RIR of (agent
node, source node, agent heading), averaged into the mixture, and their STFTs.

Speed comes from caching what repeats (audio/mixing.py has the maths): the spectrum of every RIR used
(one LRU per process, bounded in bytes by WORLD.RIR_CACHE_MB and shared by the process's renderers,
keyed by the RIR source's data, heading, receiver, source, chunk length and crop) and, per clip second,
the chunk's spectrum and its mono STFT (LRU per env). A step then costs one batched inverse FFT over sources x ears plus the
STFT of the binaural signals. The STFT is linear, so the mixture's STFT is the mean of the sources'
binaural STFTs when those are computed anyway (GT_BINAURAL on); otherwise the mixture waveform is
transformed directly.

The renderer knows no files: RIRs come from a RirSource (world/rir_store.SceneRirs, or e.g. a trained
NAF) and clips from a ClipSource (world/clips.ClipLibrary), both handed in by the caller.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol

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
from audio_separation.audio.settings import AudioSettings
from audio_separation.audio.stft import StftParams, stft
from audio_separation.common.allocator import keep_freed_memory
from audio_separation.common.lru import LruCache

Emitter = int | tuple[float, float]  # a source's graph node, or its continuous floor position (x, y)


class RirSource(Protocol):
    """A scene's binaural RIRs (world/rir_store.SceneRirs): `cache_key` identifies its data (world root,
    dataset, scene, rate) in the process's spectrum cache; two sources with equal keys serve equal RIRs.
    Sources at continuous positions (moving sources) need a RirSource that answers them (naf/rir_source.py);
    one that can answer many queries at once also has get_batch (used by audio/batched_render.py)."""

    scene: str
    cache_key: Hashable

    def get(self, receiver: int, source: Emitter, heading: int) -> np.ndarray:
        """The RIR heard at `receiver` facing `heading` from `source`: float32 (samples, 2)."""
        ...


class ClipSource(Protocol):
    """Mono clips by path at the renderer's sample rate (world/clips.ClipLibrary)."""

    def clip(self, path: str) -> np.ndarray:
        """float32 (samples,), at least one second long."""
        ...


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


_PROCESS_RIR_SPECTRA: LruCache | None = None


def _spectrum_bytes(entry: tuple) -> int:
    return int(entry[0].nbytes) + 200  # the array plus the tuple, key and bookkeeping (roughly)


def process_rir_spectra(max_bytes: int) -> LruCache:
    """This process's RIR spectrum LRU (created on first use; a later renderer's bound replaces the bound)."""
    global _PROCESS_RIR_SPECTRA
    if _PROCESS_RIR_SPECTRA is None:
        _PROCESS_RIR_SPECTRA = LruCache(max_bytes=int(max_bytes), size_of=_spectrum_bytes)
    elif _PROCESS_RIR_SPECTRA.max_bytes != int(max_bytes):
        _PROCESS_RIR_SPECTRA.set_max_bytes(int(max_bytes))
    return _PROCESS_RIR_SPECTRA


def clear_process_rir_spectra() -> None:
    """Empty this process's RIR spectrum cache (benchmarks' cold runs, tests)."""
    if _PROCESS_RIR_SPECTRA is not None:
        _PROCESS_RIR_SPECTRA.clear()


class BinauralRenderer:
    """Renders steps with cached RIR spectra and clip-second spectra (one per env)."""

    def __init__(
        self,
        params: StftParams,
        sample_rate: int,
        step_samples: int,
        use_int16_roundtrip: bool,
        target_mono_rms: float,
        rir_cache_bytes: int,
        clip_second_cache_size: int,
        clips: ClipSource,
        crop: str = "causal",
    ) -> None:
        self.params = params
        self.crop = crop
        self.sample_rate = sample_rate
        self.step_samples = step_samples
        self.use_int16_roundtrip = use_int16_roundtrip
        self.target_mono_rms = target_mono_rms
        self.clips = clips
        # (source's cache_key, heading, receiver, source, chunk samples, crop) -> (spectrum, rir length, fft length)
        self.rir_spectra = process_rir_spectra(rir_cache_bytes)
        self.rir_lookups = 0  # RIR spectra this renderer asked for (the cache's counters are the process's)
        self.chunk_spectra = LruCache(clip_second_cache_size)  # (path, second, fft length) -> (bins,) complex64
        self.mono_stfts = LruCache(clip_second_cache_size)  # (path, second) -> (magnitude, phase, rms)

    @classmethod
    def from_settings(
        cls,
        audio: AudioSettings,
        clips: ClipSource,
        rir_cache_mb: float,
        clip_second_cache_size: int,
        keep_freed: bool = False,
    ) -> BinauralRenderer:
        """The renderer of these audio settings (env and passive dataset alike), reading clips from `clips`;
        keeps freed memory in this process when keep_freed (ENV.KEEP_FREED_MEMORY, common/allocator.py)."""
        if keep_freed:
            keep_freed_memory()
        return cls(
            params=audio.stft,
            sample_rate=audio.sample_rate,
            step_samples=audio.step_samples,
            use_int16_roundtrip=audio.int16_roundtrip,
            target_mono_rms=audio.target_mono_rms,
            rir_cache_bytes=int(rir_cache_mb * 2**20),
            clip_second_cache_size=clip_second_cache_size,
            clips=clips,
            crop=audio.convolution_crop,
        )

    def chunk(self, path: str, second: int) -> np.ndarray:
        return clip_chunk(self.clips.clip(path), second, self.step_samples)

    def _rir_spectrum(
        self, rirs: RirSource, receiver: int, source: Emitter, heading: int
    ) -> tuple[np.ndarray, int, int]:
        self.rir_lookups += 1

        def compute() -> tuple[np.ndarray, int, int]:
            rir = rirs.get(receiver, source, heading)
            fft_length = convolution_fft_length(self.step_samples, rir.shape[0], self.crop)
            return rir_spectrum(rir, fft_length), rir.shape[0], fft_length

        return self.rir_spectra.get((rirs.cache_key, heading, receiver, source, self.step_samples, self.crop), compute)

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
        self, rirs: RirSource, receiver: int, heading: int, sources: list[tuple[str, int, Emitter]]
    ) -> np.ndarray:
        """Each source's cropped (AUDIO.CONVOLUTION_CROP) binaural signal, float32 (N, 2, samples); sources are
        (clip path, clip second, source node or floor position). Sources with equal RIR lengths share one inverse FFT."""
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
        rirs: RirSource,
        receiver: int,
        heading: int,
        sources: list[tuple[str, int, Emitter]],
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
