"""Binaural rendering of many envs at once as torch tensor operations on one device (CPU or CUDA).

The same maths as audio/renderer.py (one env at a time, numpy), batched over envs x sources x ears:
per source, the spectrum of its current 1-s chunk and of its RIR are gathered from device caches
(SlabCache: fixed-size slots on the device, LRU-evicted, bounded in bytes), multiplied, inverse-FFT'd
and cropped in ONE batched call, then transformed by ONE batched STFT (the paper's exact STFT or the
fast one, audio/stft.py's parameters). Results equal the numpy renderer's to float32 rounding
(tests/env/test_batched_vector.py states the tolerance).

FFT length: all RIRs share one FFT length, that of the longest RIR met so far (the per-RIR lengths of
the numpy renderer are exact for each RIR, and so is any longer one); a longer RIR later re-sizes the
RIR and chunk-spectrum caches. Each RIR keeps its own length for the "same" crop.

The renderer knows no files: RIRs come from RirSource objects (world/rir_store.SceneRirs) and clips from
a ClipSource (world/clips.ClipLibrary), as for the numpy renderer. A RirSource with get_batch (a NAF,
naf/rir_source.py) answers all of a step's missing RIRs in one call, on its own device (the batched env
puts it on this renderer's); a source may sit at a continuous floor position (TASK.SOURCE_MOTION).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.fft
import torch

from audio_separation.audio.mixing import INT16_SCALE, clip_chunk, convolution_fft_length
from audio_separation.audio.renderer import ClipSource, RirSource
from audio_separation.audio.settings import AudioSettings
from audio_separation.audio.stft import StftParams

_MIN_SLOTS = 16


class SlabCache:
    """key -> slot of per-field device tensors ("slabs"), LRU-evicted.

    Each field is a tensor (slots, *shape) of a fixed dtype on `device`; a slab grows by doubling up to
    max(max_bytes // bytes per slot, the slots one request needs), so memory stays bounded whatever the
    world's size. `lookup(keys, compute)` returns the slots of `keys` (a LongTensor on the device),
    calling compute(missing keys) once for all misses; compute returns field -> (M, *shape) tensors.
    """

    def __init__(self, fields: dict[str, tuple[tuple[int, ...], torch.dtype]], max_bytes: int, device) -> None:
        self.fields = dict(fields)
        self.device = torch.device(device)
        self.slot_bytes = sum(
            int(np.prod(shape)) * torch.empty(0, dtype=dtype).element_size() for shape, dtype in self.fields.values()
        )
        self.max_slots = max(_MIN_SLOTS, int(max_bytes) // max(self.slot_bytes, 1))
        self.slabs: dict[str, torch.Tensor] = {}
        self.index: OrderedDict[Hashable, int] = OrderedDict()
        self.free: list[int] = []
        self.capacity = 0
        self.hits = self.misses = 0

    @property
    def nbytes(self) -> int:
        return self.capacity * self.slot_bytes

    def clear(self) -> None:
        self.slabs, self.index, self.free, self.capacity = {}, OrderedDict(), [], 0

    def _grow(self, wanted: int, floor: int) -> None:
        """Room for `wanted` entries: doubling, up to max_slots, or `floor` (the distinct keys of one request)
        when that is more."""
        limit = max(self.max_slots, floor)
        target = max(self.capacity, _MIN_SLOTS)
        while target < wanted and target < limit:
            target *= 2
        target = min(target, limit)
        if target <= self.capacity:
            return
        for name, (shape, dtype) in self.fields.items():
            slab = torch.empty((target, *shape), dtype=dtype, device=self.device)
            if name in self.slabs:
                slab[: self.capacity].copy_(self.slabs[name])
            self.slabs[name] = slab
        self.free.extend(range(target - 1, self.capacity - 1, -1))
        self.capacity = target

    def lookup(self, keys: Sequence[Hashable], compute: Callable[[list], dict[str, torch.Tensor]]) -> torch.Tensor:
        slots = [self.index.get(key) for key in keys]
        missing = list(dict.fromkeys(key for key, slot in zip(keys, slots) if slot is None))
        for key, slot in zip(keys, slots):
            if slot is not None:
                self.index.move_to_end(key)  # the request's own keys are the most recent: never evicted below
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if missing:
            if len(self.free) < len(missing):
                self._grow(len(self.index) + len(missing), floor=len(set(keys)))
            while len(self.free) < len(missing):  # the least recently used, never this request's own keys
                _, slot = self.index.popitem(last=False)
                self.free.append(slot)
            values = compute(missing)
            new = [self.free.pop() for _ in missing]
            where = torch.tensor(new, dtype=torch.long, device=self.device)
            for name, slab in self.slabs.items():
                slab.index_copy_(0, where, values[name].to(device=self.device, dtype=slab.dtype))
            for key, slot in zip(missing, new):
                self.index[key] = slot
            slots = [self.index[key] for key in keys]
        return torch.tensor(slots, dtype=torch.long, device=self.device)


def _on_cpu(tensor: torch.Tensor) -> bool:
    return tensor.device.type == "cpu"


def _cpu_workers() -> int:
    """Threads for the CPU work outside torch (scipy's FFTs, numpy's elementwise passes): torch's intra-op
    thread count, so RL.NUM_THREADS / PASSIVE.NUM_THREADS bound the env's share of the cores too."""
    return max(1, torch.get_num_threads())


_POOL: tuple[int, int, ThreadPoolExecutor] | None = None  # (pid, helper threads, pool): a forked child makes its own


def _over_rows(function: Callable[[slice], None], rows: int) -> None:
    """function(rows slice) over contiguous chunks of the leading axis, one per _cpu_workers() thread (this
    thread takes the first; numpy's ufuncs release the GIL); each element is computed as in one call, so
    results are bit-identical to function(slice(0, rows))."""
    global _POOL
    count = min(rows, _cpu_workers())
    chunks = [slice(rows * index // count, rows * (index + 1) // count) for index in range(count)]
    if count <= 1:
        function(slice(0, rows))
        return
    helpers = count - 1
    if _POOL is None or _POOL[0] != os.getpid() or _POOL[1] < helpers:
        if _POOL is not None and _POOL[0] == os.getpid():
            _POOL[2].shutdown(wait=False)  # a smaller pool of this process (a forked child's copy has no threads)
        _POOL = (os.getpid(), helpers, ThreadPoolExecutor(helpers, thread_name_prefix="batched_render"))
    futures = [_POOL[2].submit(function, chunk) for chunk in chunks[1:]]
    function(chunks[0])
    for future in futures:
        future.result()


def real_fft(signal: torch.Tensor, n: int) -> torch.Tensor:
    """rfft over the last axis. On the CPU scipy's pocketfft transforms float32 in single precision and
    is faster than torch's at odd sizes (the paper STFT's 1023), as in the numpy renderer (on
    _cpu_workers() threads, transforms being independent); torch's FFT at powers of two (and always on a
    GPU)."""
    if _on_cpu(signal) and n & (n - 1):
        return torch.from_numpy(scipy.fft.rfft(signal.numpy(), n=n, axis=-1, workers=_cpu_workers()))
    return torch.fft.rfft(signal, n=n, dim=-1)


def spectrogram_channels_last(spectrum: torch.Tensor, kind: str) -> torch.Tensor:
    """(B, channels..., F, T) -> float32 (B, F, T, channels) of kind "magnitude", "log1p_magnitude" or
    "phase" (of a complex spectrum) or "real" (a real one), contiguous. Each kind is computed in the
    tensor's memory order, then one transposing copy. On the CPU: magnitudes through numpy (complex abs
    ~10x torch's there; log1p bit-equal to the numpy renderer's), rows split over _cpu_workers() threads;
    the phase through torch.atan2 on the de-interleaved real and imaginary planes (vectorised: ~4x
    np.angle on one thread, within 1 ulp of it)."""
    flat = spectrum.reshape(spectrum.shape[0], -1, *spectrum.shape[-2:])
    if not _on_cpu(flat):
        if kind == "real":
            value = flat
        elif kind == "phase":
            value = torch.angle(flat)
        else:
            value = flat.abs()
            value = torch.log1p(value) if kind == "log1p_magnitude" else value
        return value.permute(0, 2, 3, 1).contiguous()
    frames_major = flat.stride(-1) > flat.stride(-2)  # (F, T) a transposed view of (T, F) memory
    memory = flat.transpose(-1, -2) if frames_major else flat
    order = (0, 2, 3, 1) if not frames_major else (0, 3, 2, 1)  # -> (B, F, T, C)
    if kind == "phase":
        pair = torch.view_as_real(memory)
        value = torch.atan2(pair[..., 1].contiguous(), pair[..., 0].contiguous())
        return value.permute(*order).contiguous().float()  # float32 as the other kinds (a no-op for complex64)
    array = memory.numpy()
    output = np.empty((flat.shape[0], *flat.shape[-2:], flat.shape[1]), dtype=np.float32)

    def fill(rows: slice) -> None:
        if kind == "real":
            value = array[rows]
        else:
            value = np.abs(array[rows])
            if kind == "log1p_magnitude":
                np.log1p(value, out=value)
        output[rows] = value.transpose(order)

    _over_rows(fill, flat.shape[0])
    return torch.from_numpy(output)


class BatchedStft:
    """audio/stft.py's STFT of real (..., samples) tensors -> complex (..., freq, frames), as a view of
    (..., frames, freq) memory: centred zero-padded frames (torch pad / unfold, window cached on the
    device) and one batched real FFT (real_fft). The paper's exact STFT (n_fft 1023) or the fast one
    (1024-point, Nyquist bin dropped), both from the StftParams."""

    def __init__(self, params: StftParams, device) -> None:
        if params.pad_mode != "constant" and params.center:
            raise ValueError(f"the batched STFT pads with zeros (AUDIO.PAD_MODE constant), got {params.pad_mode!r}")
        self.params = params
        self.window = torch.from_numpy(params.window().astype(np.float32)).to(device)

    def __call__(self, signal: torch.Tensor) -> torch.Tensor:
        params = self.params
        padded = torch.nn.functional.pad(signal, (params.pad_amount, params.pad_amount)) if params.center else signal
        frames = padded.unfold(-1, params.fft_size, params.hop_length) * self.window
        return real_fft(frames, params.fft_size)[..., : params.num_freq_bins].transpose(-1, -2)


def int16_roundtrip_torch(signal: torch.Tensor) -> torch.Tensor:
    """audio/mixing.int16_roundtrip on tensors: round(x * 32768) saturated to int16, / 32768."""
    return torch.clamp(torch.round(signal * INT16_SCALE), -INT16_SCALE, INT16_SCALE - 1) / INT16_SCALE


def convolve_spectra_torch(
    chunk_spectra: torch.Tensor, rir_spectra: torch.Tensor, fft_length: int, chunk_length: int, starts: torch.Tensor
) -> torch.Tensor:
    """Cropped binaural signals of B sources in one batched inverse FFT: chunk spectra (B, bins), RIR
    spectra (B, 2, bins) at fft_length, crop starts (B,) (empty: all 0) -> float32 (B, 2, chunk_length)."""
    if _on_cpu(rir_spectra):  # numpy's complex multiply and scipy's inverse FFT, as the numpy renderer
        product = np.multiply(rir_spectra.numpy(), chunk_spectra.numpy()[:, None, :])
        full = torch.from_numpy(
            scipy.fft.irfft(product, n=fft_length, axis=-1, overwrite_x=True, workers=_cpu_workers())
        )
    else:
        full = torch.fft.irfft(rir_spectra * chunk_spectra.unsqueeze(1), n=fft_length, dim=-1)
    if starts.numel() == 0:
        return full[..., :chunk_length]
    first = int(starts.min())  # one host read per call ("same" crops of different RIR lengths differ)
    if bool((starts == first).all()):
        return full[..., first : first + chunk_length]
    index = (starts[:, None] + torch.arange(chunk_length, device=starts.device)[None, :]).unsqueeze(1).expand(-1, 2, -1)
    return torch.gather(full, -1, index)


@dataclass
class BatchedAudio:
    """Spectrograms of B envs' step, (freq, frames) last; sources in episode order (0 = target)."""

    mixture: torch.Tensor  # complex (B, 2, F, T): STFT of the binaural mixture (mean over sources)
    source_binaural: torch.Tensor | None  # complex (B, S, 2, F, T)
    mono_magnitude: torch.Tensor  # float32 (B, S, F, T), the target's RMS-normalised to AUDIO.TARGET_MONO_RMS
    mono_phase: torch.Tensor  # float32 (B, S, F, T)


class BatchedRenderer:
    """Renders many envs' steps on one device with device caches of RIR spectra and clip-second spectra
    and mono STFTs (each bounded in bytes)."""

    def __init__(
        self,
        audio: AudioSettings,
        clips: ClipSource,
        device,
        rir_cache_bytes: int,
        clip_cache_bytes: int,
    ) -> None:
        self.audio = audio
        self.params = audio.stft
        self.step_samples = audio.step_samples
        self.crop = audio.convolution_crop
        self.clips = clips
        self.device = torch.device(device)
        self.stft = BatchedStft(self.params, self.device)
        self.rir_cache_bytes, self.clip_cache_bytes = int(rir_cache_bytes), int(clip_cache_bytes)
        self.fft_length = 0  # set by the first RIR (_ensure_fft_length)
        self.rir_spectra: SlabCache | None = None  # (scene, heading, receiver, source) -> spectrum, length
        self.chunk_spectra: SlabCache | None = None  # (path, second) -> spectrum at fft_length
        frequency, frames = audio.num_freq_bins, audio.num_frames
        self.mono = SlabCache(  # (path, second) -> mono |STFT|, phase, RMS of the magnitude
            {
                "magnitude": ((frequency, frames), torch.float32),
                "phase": ((frequency, frames), torch.float32),
                "rms": ((), torch.float32),
            },
            self.clip_cache_bytes // 2,
            self.device,
        )

    # ---------------------------------------------------------------------------------------- caches
    def _ensure_fft_length(self, rir_length: int) -> None:
        needed = convolution_fft_length(self.step_samples, rir_length, self.crop)
        if needed <= self.fft_length:
            return
        self.fft_length = needed
        bins = needed // 2 + 1
        self.rir_spectra = SlabCache(
            {"spectrum": ((2, bins), torch.complex64), "length": ((), torch.long)}, self.rir_cache_bytes, self.device
        )
        self.chunk_spectra = SlabCache(
            {"spectrum": ((bins,), torch.complex64)}, self.clip_cache_bytes // 2, self.device
        )

    def _chunks(self, keys: list) -> torch.Tensor:
        chunks = np.stack([clip_chunk(self.clips.clip(path), second, self.step_samples) for path, second in keys])
        return torch.from_numpy(np.ascontiguousarray(chunks, dtype=np.float32)).to(self.device)

    def _read_rirs(self, keys: list, rir_sources: Sequence[RirSource], read: dict) -> None:
        """Into `read`: key -> float32 (2, samples) tensor for every key not in it yet. Sources with
        get_batch (e.g. a NAF, on this device) answer all their keys in one call; others one get each."""
        batches: dict[int, tuple[RirSource, list]] = {}
        for key, rirs in zip(keys, rir_sources):
            if key in read:
                continue
            _, heading, receiver, source = key
            if hasattr(rirs, "get_batch"):
                pending = batches.setdefault(id(rirs), (rirs, []))[1]
                if key not in pending:
                    pending.append(key)
                continue
            rir = np.asarray(rirs.get(receiver, source, heading), dtype=np.float32)
            if rir.ndim != 2 or rir.shape[1] != 2:
                raise ValueError(f"a binaural RIR must be (samples, 2), got {rir.shape} for {key}")
            read[key] = torch.from_numpy(np.ascontiguousarray(rir.T))
        for rirs, pending in batches.values():
            answers = rirs.get_batch([(receiver, source, heading) for _, heading, receiver, source in pending])
            if answers.ndim != 3 or answers.shape[:2] != (len(pending), 2):
                raise ValueError(f"get_batch must return (queries, 2, samples), got {tuple(answers.shape)}")
            for key, rir in zip(pending, answers):
                read[key] = rir

    def _rir_slots(self, keys: list, rir_sources: Sequence[RirSource]) -> torch.Tensor:
        """keys: (scene, heading, receiver, source) per row, rir_sources the row's RirSource."""
        read: dict = {}
        if self.rir_spectra is None or any(key not in self.rir_spectra.index for key in keys):
            missing = [
                (k, r) for k, r in zip(keys, rir_sources) if self.rir_spectra is None or k not in self.rir_spectra.index
            ]
            self._read_rirs([k for k, _ in missing], [r for _, r in missing], read)  # first: they may need a longer FFT
            longest = max(rir.shape[-1] for rir in read.values())
            if convolution_fft_length(self.step_samples, longest, self.crop) > self.fft_length:
                self._ensure_fft_length(longest)  # fresh caches: every key is read (again) below
                self._read_rirs(keys, rir_sources, read)

        def compute(missing: list) -> dict[str, torch.Tensor]:
            lengths = [read[key].shape[-1] for key in missing]
            padded = torch.zeros((len(missing), 2, max(lengths)), dtype=torch.float32, device=self.device)
            for row, key in enumerate(missing):
                padded[row, :, : lengths[row]] = read[key].to(self.device)
            return {
                "spectrum": real_fft(padded, self.fft_length),
                "length": torch.tensor(lengths, dtype=torch.long, device=self.device),
            }

        return self.rir_spectra.lookup(keys, compute)

    def _chunk_slots(self, keys: list) -> torch.Tensor:
        return self.chunk_spectra.lookup(
            keys, lambda missing: {"spectrum": real_fft(self._chunks(missing), self.fft_length)}
        )

    def _mono_slots(self, keys: list) -> torch.Tensor:
        def compute(missing: list) -> dict[str, torch.Tensor]:
            spectrum = self.stft(self._chunks(missing))
            magnitude = spectrum.abs()
            return {
                "magnitude": magnitude,
                "phase": torch.angle(spectrum),
                "rms": torch.sqrt((magnitude * magnitude).flatten(1).sum(dim=1) / max(magnitude[0].numel(), 1)),
            }

        return self.mono.lookup(keys, compute)

    # ---------------------------------------------------------------------------------------- render
    def render(
        self,
        rir_keys: list,
        rir_sources: Sequence[RirSource],
        clip_keys: list,
        num_envs: int,
        with_source_binaural: bool,
    ) -> BatchedAudio:
        """B = num_envs envs of S sources each, rows env-major (row = env * S + source):
        rir_keys[row] = (scene, heading, receiver node, source node or (x, y) floor position), rir_sources[row]
        its RirSource,
        clip_keys[row] = (clip path, clip second)."""
        rows = len(rir_keys)
        sources = rows // num_envs
        rir_slots = self._rir_slots(rir_keys, rir_sources)
        chunk_slots = self._chunk_slots(clip_keys)
        rir = self.rir_spectra.slabs
        lengths = rir["length"][rir_slots]
        if self.crop == "causal":
            starts = torch.zeros(0, dtype=torch.long, device=self.device)
        else:
            starts = (lengths - 1) // 2
        binaural = convolve_spectra_torch(
            self.chunk_spectra.slabs["spectrum"][chunk_slots],
            rir["spectrum"][rir_slots],
            self.fft_length,
            self.step_samples,
            starts,
        )
        if self.audio.int16_roundtrip:
            binaural = int16_roundtrip_torch(binaural)
        binaural = binaural.reshape(num_envs, sources, 2, self.step_samples)
        scale = 1.0 / sources
        if with_source_binaural:
            source_binaural = self.stft(binaural)
            mixture = source_binaural[:, 0] + source_binaural[:, 1] if sources > 1 else source_binaural[:, 0].clone()
            for index in range(2, sources):  # the sources summed in order, as the numpy renderer
                mixture = mixture + source_binaural[:, index]
            mixture = mixture * scale
        else:
            source_binaural = None
            mixture = self.stft(binaural.sum(dim=1) * scale)
        mono_slots = self._mono_slots(clip_keys)
        magnitude = self.mono.slabs["magnitude"][mono_slots].reshape(
            num_envs, sources, *self.mono.fields["magnitude"][0]
        )
        phase = self.mono.slabs["phase"][mono_slots].reshape(magnitude.shape)
        target_rms = self.mono.slabs["rms"][mono_slots].reshape(num_envs, sources)[:, 0]
        factor = self.audio.target_mono_rms / torch.clamp(target_rms, min=1e-8)  # audio/mixing.rms_factor
        magnitude[:, 0] *= factor[:, None, None]
        return BatchedAudio(mixture, source_binaural, magnitude, phase)

    def memory_bytes(self) -> int:
        """Bytes the device caches hold now."""
        return sum(cache.nbytes for cache in (self.rir_spectra, self.chunk_spectra, self.mono) if cache is not None)
