"""Binaural mixing as pure functions: dynamic-source cursors, FFT convolution with cached spectra, the
output crop, the int16 quirk and the per-chunk RMS normalisation of the ground-truth target.

Crop conventions. The full linear convolution of a chunk of L_chunk samples with a RIR of L_rir samples
has L_full = L_chunk + L_rir - 1 samples; the step hears L_chunk of them:
- "same" (the spec; for faithful reproduction): the centred crop starting at index (L_rir - 1) // 2, exactly what
  scipy.signal.fftconvolve(chunk, rir, mode="same") returns. It is relative to the RIR length AS STORED
  (a RIR padded with trailing zeros shifts it), and it ADVANCES the heard audio by (L_rir - 1) // 2
  samples relative to the dry chunk: with 1-s RIRs the first half of every chunk is never heard and the
  second half of the window holds only reverberation (QUIRK, kept for faithfulness).
- "causal" (this project's default, AUDIO.CONVOLUTION_CROP): the first L_chunk samples, aligned with the
  dry chunk (the direct sound of sample k is heard at k + propagation delay). The reverberant tail of the
  previous second is not included. Chosen as default because with "same" the heard audio is misaligned
  with the ground truth by half a RIR, and approaching the target then gains nothing (the measurement:
  docs/environment.md).

FFT length: a circular convolution of length n equals the linear one on the samples that nothing wraps
onto. For the cropped window [start, start + L_chunk) that holds when n >= start + L_chunk and
n >= L_full - start; n must also hold both signals (n >= L_chunk, L_rir). n = the next fast length >=
all of those is exact; for "same" it is ~25 % shorter than the full length (24000 instead of 32000 for
1-s chunks and 1-s RIRs), for "causal" it is the full length.

Shapes: chunks are (..., samples); RIRs are (samples, 2) as stored (ears last) and their spectra
(2, bins) (ears first); rendered binaural signals are (sources, 2, samples).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.fft

INT16_SCALE = 32768.0  # the original divides int16 samples by this


def clip_second(start_second: int, step: int, num_seconds: int) -> int:
    """Which whole second of a clip observation `step` hears: (start + step) mod the clip's whole seconds.

    Observation t (t = 0 at reset) hears seconds [start + t, start + t + 1) of the clip, wrapping at
    the end of its last whole second (a trailing partial second is never heard).
    """
    if num_seconds < 1:
        raise ValueError(f"a clip needs at least one whole second, got {num_seconds}")
    return int((int(start_second) + int(step)) % int(num_seconds))


def clip_chunk(clip: np.ndarray, second: int, samples_per_second: int) -> np.ndarray:
    """Samples [second * sr, (second + 1) * sr) of a mono clip (a view, no copy)."""
    start = int(second) * int(samples_per_second)
    if second < 0 or start + samples_per_second > clip.shape[-1]:
        raise ValueError(f"second {second} is outside a clip of {clip.shape[-1] / samples_per_second:.2f} s")
    return clip[..., start : start + samples_per_second]


CROPS = ("same", "causal")


def crop_start(chunk_length: int, rir_length: int, crop: str = "causal") -> int:
    """First sample of the heard window inside the full convolution (see the module docstring)."""
    del chunk_length  # the centred crop of L_chunk out of L_chunk + L_rir - 1 starts at (L_rir - 1) // 2
    if crop == "same":
        return (int(rir_length) - 1) // 2
    if crop == "causal":
        return 0
    raise ValueError(f"unknown convolution crop {crop!r}; expected one of {CROPS} (AUDIO.CONVOLUTION_CROP)")


def convolution_fft_length(chunk_length: int, rir_length: int, crop: str = "causal") -> int:
    """Smallest fast real-FFT length whose circular convolution is exact on the cropped window."""
    full = int(chunk_length) + int(rir_length) - 1
    start = crop_start(chunk_length, rir_length, crop)
    needed = max(
        start + int(chunk_length), full - start, int(chunk_length), int(rir_length)
    )  # spectra hold whole signals
    return scipy.fft.next_fast_len(needed, real=True)


def rir_spectrum(rir: np.ndarray, fft_length: int) -> np.ndarray:
    """Real FFT of a binaural RIR (samples, 2) -> complex64 (2, fft_length // 2 + 1)."""
    rir = np.asarray(rir, dtype=np.float32)
    if rir.ndim != 2 or rir.shape[1] != 2:
        raise ValueError(f"a binaural RIR must be (samples, 2), got {rir.shape}")
    if rir.shape[0] > fft_length:
        raise ValueError(f"RIR of {rir.shape[0]} samples is longer than the FFT length {fft_length}")
    return scipy.fft.rfft(rir.T, n=fft_length, axis=-1).astype(np.complex64, copy=False)


def chunk_spectrum(chunk: np.ndarray, fft_length: int) -> np.ndarray:
    """Real FFT of mono chunks (..., samples) -> complex64 (..., fft_length // 2 + 1)."""
    chunk = np.asarray(chunk, dtype=np.float32)
    if chunk.shape[-1] > fft_length:
        raise ValueError(f"chunk of {chunk.shape[-1]} samples is longer than the FFT length {fft_length}")
    return scipy.fft.rfft(chunk, n=fft_length, axis=-1).astype(np.complex64, copy=False)


def convolve_from_spectra(
    chunk_spectra: Sequence[np.ndarray],
    rir_spectra: Sequence[np.ndarray],
    fft_length: int,
    chunk_length: int,
    rir_length: int,
    crop: str = "causal",
) -> np.ndarray:
    """Binaural signals of every source, cropped, in one batched inverse FFT.

    chunk_spectra: per source a (bins,) spectrum from chunk_spectrum (or one (S, bins) array);
    rir_spectra: per source a (2, bins) spectrum from rir_spectrum (or one (S, 2, bins) array), all at
    fft_length (>= convolution_fft_length(chunk_length, rir_length, crop)). Returns float32
    (S, 2, chunk_length).
    """
    if fft_length < convolution_fft_length(chunk_length, rir_length, crop):
        raise ValueError(
            f"FFT length {fft_length} is too short for {chunk_length}-sample chunks, {rir_length}-sample RIRs and the {crop!r} crop"
        )
    bins = fft_length // 2 + 1
    if len(chunk_spectra) != len(rir_spectra):
        raise ValueError(f"{len(chunk_spectra)} chunk spectra for {len(rir_spectra)} RIR spectra")
    product = np.empty((len(rir_spectra), 2, bins), dtype=np.complex64)
    for index, (chunk, rir) in enumerate(zip(chunk_spectra, rir_spectra)):
        if chunk.shape != (bins,) or rir.shape != (2, bins):
            raise ValueError(
                f"source {index}: expected a chunk spectrum ({bins},) and a RIR spectrum (2, {bins}), got {chunk.shape} and {rir.shape}"
            )
        np.multiply(rir, chunk, out=product[index])
    start = crop_start(chunk_length, rir_length, crop)
    # complex64 in -> float32 out; the crop is a view into the longer inverse-FFT buffer
    return scipy.fft.irfft(product, n=fft_length, axis=-1, overwrite_x=True)[..., start : start + chunk_length]


def convolve(chunks: np.ndarray, rirs: np.ndarray, crop: str = "causal") -> np.ndarray:
    """Convenience: (sources, samples) chunks x (sources, rir_samples, 2) RIRs -> (sources, 2, samples)."""
    chunks = np.asarray(chunks, dtype=np.float32)
    rirs = np.asarray(rirs, dtype=np.float32)
    if chunks.ndim != 2 or rirs.ndim != 3 or rirs.shape[0] != chunks.shape[0]:
        raise ValueError(
            f"expected chunks (S, samples) and RIRs (S, rir_samples, 2), got {chunks.shape} and {rirs.shape}"
        )
    fft_length = convolution_fft_length(chunks.shape[1], rirs.shape[1], crop)
    rir_spectra = np.stack([rir_spectrum(rir, fft_length) for rir in rirs])
    return convolve_from_spectra(
        chunk_spectrum(chunks, fft_length), rir_spectra, fft_length, chunks.shape[1], rirs.shape[1], crop
    )


def int16_roundtrip(signal: np.ndarray) -> np.ndarray:
    """QUIRK of the original: quantise to int16 steps and back, float32 round(x * 32768) / 32768.

    The original casts without clipping (an overflow wraps around); this saturates at the int16 range
    instead, which differs only for signals beyond full scale.
    """
    scaled = np.clip(np.round(np.asarray(signal, dtype=np.float32) * INT16_SCALE), -INT16_SCALE, INT16_SCALE - 1)
    return (scaled / INT16_SCALE).astype(np.float32)


def rms(magnitude: np.ndarray) -> float:
    """Root mean square of all elements (float32 dot product: ~10x faster than a float64 mean)."""
    flat = np.ascontiguousarray(magnitude, dtype=np.float32).ravel()
    return float(np.sqrt(np.dot(flat, flat) / max(flat.size, 1)))


def rms_factor(current_rms: float, target_rms: float, floor: float = 1e-8) -> float:
    """The factor that brings a spectrogram of RMS current_rms to target_rms (floored for silence)."""
    return float(target_rms) / max(float(current_rms), floor)


def rms_normalise(magnitude: np.ndarray, target_rms: float, floor: float = 1e-8) -> tuple[np.ndarray, float]:
    """Rescale a magnitude spectrogram to root-mean-square target_rms; returns (rescaled, factor).

    A silent chunk (RMS below floor) keeps its (near-zero) values scaled by target_rms / floor.
    """
    magnitude = np.asarray(magnitude, dtype=np.float32)
    factor = rms_factor(rms(magnitude), target_rms, floor)
    return (magnitude * np.float32(factor)).astype(np.float32, copy=False), factor
