"""The one STFT of the project: forward and inverse, numpy and torch, with the configured parameters.

Paper STFT (default): n_fft 1023, hop 512, a periodic Hann window of 1023 samples (what
``scipy.signal.get_window("hann", 1023, fftbins=True)`` and ``torch.hann_window(1023)`` give, and what
``librosa.stft`` uses), centred frames with ZERO padding of n_fft // 2 = 511 samples on each side.
A 1-s chunk at 16 kHz gives 512 frequency bins x 32 frames. The numpy version equals
``librosa.stft(y, n_fft=1023, hop_length=512, win_length=1023, center=True, pad_mode="constant")`` to
float32 rounding, and the torch version equals the numpy one (tests/audio/test_stft.py checks both).

Fast STFT (``StftParams.fast``, config AUDIO.FAST_STFT): an even (n_fft + 1)-point FFT (1024 for the
paper) with a periodic Hann window of that length, centred with (n_fft + 1) // 2 = 512 samples of padding,
the same hop, and its Nyquist bin dropped, so the shape stays 512 x 32. It is NOT numerically identical
to the paper STFT: bin k sits at k * sr / 1024 instead of k * sr / 1023 and the window is one sample
longer. Its inverse puts back a zero Nyquist bin, so a round trip loses whatever the signal had at
exactly sr / 2 (nothing, for audio that was low-passed before sampling). Models trained with one STFT
must be evaluated with the same one.

Layout everywhere: time on the LAST axis of waveforms; spectrograms are (..., freq, frames); any leading
dimensions are a batch.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.fft
import torch

_PAD_MODES = ("constant", "reflect")  # modes numpy.pad and torch.stft implement identically


@dataclass(frozen=True)
class StftParams:
    """STFT parameters; build them from the config with ``StftParams.from_config(cfg.AUDIO)``."""

    n_fft: int = 1023  # nominal FFT size; the number of frequency bins is n_fft // 2 + 1
    hop_length: int = 512  # samples between frame starts
    win_length: int = 1023  # Hann window length in samples (<= n_fft; centred in the frame if shorter)
    center: bool = True  # pad fft_size // 2 samples on both sides so frame t is centred on t * hop
    pad_mode: str = "constant"  # padding used by centring: "constant" (zeros, paper) or "reflect"
    fast: bool = False  # use an (n_fft + 1)-point FFT and drop its Nyquist bin (see module docstring)

    def __post_init__(self) -> None:
        for name in ("n_fft", "hop_length", "win_length"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"StftParams.{name} must be a positive integer, got {value!r}")
        if self.n_fft < 2:
            raise ValueError(f"StftParams.n_fft must be >= 2, got {self.n_fft}")
        if self.win_length > self.n_fft:
            raise ValueError(f"StftParams.win_length ({self.win_length}) must not exceed n_fft ({self.n_fft})")
        if self.pad_mode not in _PAD_MODES:
            raise ValueError(f"StftParams.pad_mode must be one of {_PAD_MODES}, got {self.pad_mode!r}")
        if self.fast and self.n_fft % 2 == 0:
            raise ValueError(f"the fast STFT needs an odd n_fft (1023 -> a 1024-point FFT), got n_fft {self.n_fft}")

    @classmethod
    def from_config(cls, audio_cfg: Any) -> StftParams:
        """Parameters from the config's AUDIO node (the whole config is accepted too).

        Reads N_FFT, HOP_LENGTH, WIN_LENGTH, CENTER, PAD_MODE and FAST_STFT; the shapes they give
        (num_freq_bins, num_frames) are derived, never configured.
        """
        audio = getattr(audio_cfg, "AUDIO", audio_cfg)
        try:
            params = cls(
                n_fft=int(audio.N_FFT),
                hop_length=int(audio.HOP_LENGTH),
                win_length=int(audio.WIN_LENGTH),
                center=bool(audio.CENTER),
                pad_mode=str(audio.PAD_MODE),
                fast=bool(audio.FAST_STFT),
            )
        except (AttributeError, KeyError) as error:
            raise ValueError(f"config AUDIO node lacks an STFT key: {error}") from error
        return params

    @property
    def fft_size(self) -> int:
        """Length of the FFT actually computed: n_fft, or n_fft + 1 for the fast STFT."""
        return self.n_fft + 1 if self.fast else self.n_fft

    @property
    def window_length(self) -> int:
        """Length of the Hann window actually used (grows with the FFT in fast mode if it spanned n_fft)."""
        if self.fast and self.win_length == self.n_fft:
            return self.fft_size
        return self.win_length

    @property
    def num_freq_bins(self) -> int:
        """Frequency bins of the spectrogram: n_fft // 2 + 1 (512 for the paper) in both modes."""
        return self.n_fft // 2 + 1

    @property
    def pad_amount(self) -> int:
        """Samples padded on each side when centring (0 when not)."""
        return self.fft_size // 2 if self.center else 0

    def num_frames(self, num_samples: int) -> int:
        """Frames the forward STFT produces for a signal of num_samples samples."""
        padded = num_samples + 2 * self.pad_amount
        if padded < self.fft_size:
            raise ValueError(
                f"a {num_samples}-sample signal is too short for a {self.fft_size}-point STFT"
                f"{' with centring' if self.center else ''}"
            )
        return 1 + (padded - self.fft_size) // self.hop_length

    def window(self) -> np.ndarray:
        """The analysis (and synthesis) window, float64 of length fft_size, zero-padded centrally."""
        length = self.window_length
        n = np.arange(length, dtype=np.float64)
        hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / length)  # periodic Hann (fftbins=True)
        window = np.zeros(self.fft_size, dtype=np.float64)
        left = (self.fft_size - length) // 2
        window[left : left + length] = hann
        return window


@functools.lru_cache(maxsize=16)
def _cached_window(params: StftParams, dtype_name: str) -> np.ndarray:
    """params.window() in the given dtype, computed once per (params, dtype) (read-only)."""
    window = params.window().astype(dtype_name)
    window.flags.writeable = False
    return window


# ---------------------------------------------------------------------------------------------------
# numpy
# ---------------------------------------------------------------------------------------------------
def stft(signal: np.ndarray, params: StftParams) -> np.ndarray:
    """Complex STFT of real signals with time on the last axis -> complex64 (..., freq, frames).

    float32 input is transformed in single precision, anything else in double; the result is complex64.
    """
    x = np.asarray(signal)
    if x.ndim == 0:
        raise ValueError("stft needs a signal with time on the last axis, got a scalar")
    if np.iscomplexobj(x):
        raise ValueError("stft expects a real signal, got a complex array")
    x = x.astype(np.float32 if x.dtype == np.float32 else np.float64, copy=False)
    params.num_frames(x.shape[-1])  # raises if too short
    use_torch = _torch_fft_applies(
        x.dtype, params.fft_size
    )  # decided once per call (it asks torch for its thread count)
    if use_torch and params.center and params.pad_mode == "constant" and x.flags.writeable and min(x.strides) >= 0:
        # (torch.from_numpy takes neither read-only nor reversed arrays); the frames stay torch tensors
        spectrum = torch.fft.rfft(_windowed_frames_torch(x, params), dim=-1).numpy()[..., : params.num_freq_bins]
    else:
        spectrum = _rfft(_windowed_frames_numpy(x, params), use_torch)[..., : params.num_freq_bins]
    return np.ascontiguousarray(np.swapaxes(spectrum, -1, -2)).astype(np.complex64, copy=False)


def _windowed_frames_numpy(x: np.ndarray, params: StftParams) -> np.ndarray:
    """Centre-padded frames (..., frames, fft_size), frame t from sample t * hop, times the window."""
    if params.center and params.pad_mode == "constant":  # zero padding without np.pad's overhead
        pad = params.pad_amount
        padded = np.zeros(x.shape[:-1] + (x.shape[-1] + 2 * pad,), dtype=x.dtype)
        padded[..., pad : pad + x.shape[-1]] = x
        x = padded
    elif params.center:
        widths = [(0, 0)] * (x.ndim - 1) + [(params.pad_amount, params.pad_amount)]
        x = np.pad(x, widths, mode=params.pad_mode)
    num_frames = 1 + (x.shape[-1] - params.fft_size) // params.hop_length
    frames = np.lib.stride_tricks.as_strided(  # (..., frames, fft_size) view, frame t starts at t * hop
        x,
        shape=x.shape[:-1] + (num_frames, params.fft_size),
        strides=x.strides[:-1] + (x.strides[-1] * params.hop_length, x.strides[-1]),
        writeable=False,
    )
    return frames * _cached_window(params, x.dtype.name)


def _windowed_frames_torch(x: np.ndarray, params: StftParams) -> torch.Tensor:
    """The same zero-padded, windowed frames as _windowed_frames_numpy (the same float multiplications,
    so the same numbers), made by torch's pad / unfold / multiply, for torch's FFT (_torch_fft_applies),
    where it saves a numpy round trip. Not for scipy's FFT (the exact STFT), where it is slower."""
    signal = torch.nn.functional.pad(torch.from_numpy(x), (params.pad_amount, params.pad_amount))
    frames = signal.unfold(-1, params.fft_size, params.hop_length)  # (..., frames, fft_size) view
    return frames * _cached_torch_window(params, x.dtype.name)


@functools.lru_cache(maxsize=16)
def _cached_torch_window(params: StftParams, dtype_name: str) -> torch.Tensor:
    """params.window() as a torch tensor of the given dtype, computed once per (params, dtype)."""
    return torch.from_numpy(params.window().astype(dtype_name))


def _rfft(frames: np.ndarray, use_torch: bool | None = None) -> np.ndarray:
    """Real FFT over the last axis. scipy's pocketfft transforms float32 in single precision (numpy's
    upcasts to double, several times slower at the paper's odd size 1023, which dominates the env's step
    time). For float32 frames of a power-of-two length (the fast STFT's 1024) torch's FFT is faster still,
    used when torch runs single-threaded (env worker processes, RL.NUM_THREADS 1), where it cannot
    compete with other processes for cores; the results agree to float32 rounding. use_torch: the
    caller's _torch_fft_applies answer (None = ask here)."""
    if use_torch is None:
        use_torch = _torch_fft_applies(frames.dtype, frames.shape[-1])
    if use_torch:
        return torch.fft.rfft(torch.from_numpy(np.ascontiguousarray(frames)), dim=-1).numpy()
    return scipy.fft.rfft(frames, axis=-1)


def _torch_fft_applies(dtype: np.dtype, length: int) -> bool:
    """Whether torch computes the STFT's FFT (and then its framing too): float32, a power-of-two length, torch single-threaded."""
    return dtype == np.float32 and length >= 256 and length & (length - 1) == 0 and torch.get_num_threads() == 1


def magnitude_phase(signal: np.ndarray, params: StftParams) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude and phase (radians) of the STFT, both float32 (..., freq, frames)."""
    spectrum = stft(signal, params)
    return np.abs(spectrum).astype(np.float32), np.angle(spectrum).astype(np.float32)


def _check_spectrogram(shape: tuple[int, ...], params: StftParams) -> None:
    if len(shape) < 2:
        raise ValueError(f"a spectrogram must be (..., freq, frames), got shape {shape}")
    if shape[-2] != params.num_freq_bins:
        raise ValueError(
            f"spectrogram has {shape[-2]} frequency bins on axis -2 but n_fft {params.n_fft} needs "
            f"{params.num_freq_bins} (shape {shape})"
        )
    if shape[-1] < 1:
        raise ValueError(f"spectrogram has no frames (shape {shape})")


def _overlap_add(frames: np.ndarray, hop: int) -> np.ndarray:
    """Sum of (..., frames, size) frames placed hop samples apart -> float64 (..., size + hop * (frames - 1)).

    Vectorised: each frame is cut into ceil(size / hop) hop-long blocks and the blocks that land on the same
    output block are summed, the earliest frame first (the order a frame-by-frame loop adds them in).
    """
    num_frames, size = frames.shape[-2], frames.shape[-1]
    blocks = -(-size // hop)
    padded = np.zeros(frames.shape[:-1] + (blocks * hop,), dtype=np.float64)
    padded[..., :size] = frames
    padded = padded.reshape(frames.shape[:-1] + (blocks, hop))
    signal = np.zeros(frames.shape[:-2] + (num_frames + blocks - 1, hop), dtype=np.float64)
    for block in range(blocks - 1, -1, -1):  # block b of frame f lands on output block f + b
        signal[..., block : block + num_frames, :] += padded[..., block, :]
    return signal.reshape(frames.shape[:-2] + (-1,))[..., : size + hop * (num_frames - 1)]


@functools.lru_cache(maxsize=32)
def _inverse_envelope(params: StftParams, num_frames: int) -> np.ndarray:
    """1 / the overlap-added squared window of num_frames frames (what the inverse STFT divides by), 0 where
    no window reaches (left as they are: zero); read-only."""
    squared = params.window() ** 2
    envelope = _overlap_add(np.broadcast_to(squared, (num_frames, squared.size)), params.hop_length)
    covered = envelope > np.finfo(np.float64).tiny
    inverse = np.zeros_like(envelope)
    inverse[covered] = 1.0 / envelope[covered]
    inverse.setflags(write=False)
    return inverse


def istft(spec: np.ndarray, params: StftParams, length: int | None = None) -> np.ndarray:
    """Inverse STFT (weighted overlap-add, as librosa.istft) -> float32 (..., samples).

    length: output samples (cropped or zero-padded); None gives fft_size + (frames - 1) * hop minus the
    centring padding on both sides, as librosa. In fast mode a zero Nyquist bin is put back first.
    """
    spectrum = np.asarray(spec)
    _check_spectrogram(spectrum.shape, params)
    spectrum = spectrum.astype(np.complex64 if spectrum.dtype == np.complex64 else np.complex128, copy=False)
    real_dtype = np.float32 if spectrum.dtype == np.complex64 else np.float64
    num_frames = spectrum.shape[-1]
    fft_size, hop = params.fft_size, params.hop_length
    frames = np.fft.irfft(spectrum, n=fft_size, axis=-2)  # missing Nyquist bin is taken as zero
    window = params.window()
    frames = np.swapaxes(frames * window.astype(real_dtype)[:, None], -1, -2)  # (..., frames, fft_size)
    signal = _overlap_add(frames, hop)
    total = signal.shape[-1]
    signal *= _inverse_envelope(params, num_frames)

    start = params.pad_amount
    if length is None:
        stop = total - params.pad_amount
    else:
        if length < 0:
            raise ValueError(f"istft length must be >= 0, got {length}")
        stop = start + length
    out = signal[..., start:stop]
    if length is not None and out.shape[-1] < length:
        widths = [(0, 0)] * (out.ndim - 1) + [(0, length - out.shape[-1])]
        out = np.pad(out, widths)
    return out.astype(np.float32)


def reconstruct_waveform(
    magnitude: np.ndarray,
    phase: np.ndarray,
    params: StftParams,
    length: int = 16000,
    quirk_n_fft_1022: bool = False,
) -> np.ndarray:
    """Waveform from a magnitude and a phase: inverse STFT of magnitude * exp(i phase), float32.

    This is THE inversion the separation metrics use. By default it inverts with the STFT that made the
    spectrogram (n_fft 1023 for the paper). quirk_n_fft_1022=True reproduces the original code, which
    called an inverse STFT that infers n_fft = 2 * (bins - 1) = 1022 from 512 bins (window 1022, same
    hop, centred): a slightly wrong inverse that the published SI-SDR numbers were computed with.
    length should be the step length in samples (cfg.AUDIO.SAMPLE_RATE * cfg.AUDIO.STEP_SECONDS).
    The phase may have fewer leading axes than the magnitude (one phase for a stack of magnitudes).
    """
    magnitude = np.asarray(magnitude)
    phase = np.asarray(phase)
    try:
        broadcast = np.broadcast_shapes(magnitude.shape, phase.shape)
    except ValueError:
        broadcast = None
    if broadcast != magnitude.shape:
        raise ValueError(
            f"magnitude shape {magnitude.shape} != phase shape {phase.shape} (nor does the phase broadcast to it)"
        )
    phase64 = phase.astype(np.float64, copy=False)
    phasor = np.empty(phase.shape, dtype=np.complex64)  # e^(i phase) on the phase's own shape, once
    phasor.real, phasor.imag = np.cos(phase64), np.sin(phase64)
    spectrum = magnitude.astype(np.float32, copy=False) * phasor
    if quirk_n_fft_1022:
        if spectrum.ndim < 2 or spectrum.shape[-2] < 2:
            raise ValueError(f"a spectrogram must be (..., freq, frames), got shape {spectrum.shape}")
        inferred_n_fft = 2 * (spectrum.shape[-2] - 1)
        params = StftParams(
            n_fft=inferred_n_fft,
            hop_length=params.hop_length,
            win_length=inferred_n_fft,
            center=params.center,
            pad_mode=params.pad_mode,
            fast=False,
        )
    return istft(spectrum, params, length=length)


# ---------------------------------------------------------------------------------------------------
# torch (same parameters, same numbers; runs on whatever device the input lives on)
# ---------------------------------------------------------------------------------------------------
def _torch_window(params: StftParams, like: torch.Tensor) -> torch.Tensor:
    real_dtype = like.real.dtype if like.is_complex() else like.dtype
    return torch.from_numpy(params.window()).to(device=like.device, dtype=real_dtype)


def stft_torch(signal: torch.Tensor, params: StftParams) -> torch.Tensor:
    """torch.stft with the project parameters: real (..., samples) -> complex (..., freq, frames)."""
    if signal.dim() == 0:
        raise ValueError("stft_torch needs a signal with time on the last axis, got a scalar")
    if signal.is_complex() or not signal.is_floating_point():
        raise ValueError(f"stft_torch expects a real floating-point tensor, got {signal.dtype}")
    params.num_frames(signal.shape[-1])  # raises if too short
    leading = signal.shape[:-1]
    flat = signal.reshape(-1, signal.shape[-1])
    spectrum = torch.stft(
        flat,
        n_fft=params.fft_size,
        hop_length=params.hop_length,
        win_length=params.fft_size,
        window=_torch_window(params, flat),
        center=params.center,
        pad_mode=params.pad_mode,
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    spectrum = spectrum[:, : params.num_freq_bins, :]
    return spectrum.reshape(*leading, params.num_freq_bins, spectrum.shape[-1])


def istft_torch(spec: torch.Tensor, params: StftParams, length: int | None = None) -> torch.Tensor:
    """torch.istft with the project parameters: complex (..., freq, frames) -> real (..., samples).

    Same result as the numpy istft. torch refuses non-centred Hann inversion (zero window envelope at
    the edges); use the numpy istft for center=False.
    """
    if not spec.is_complex():
        raise ValueError(f"istft_torch expects a complex tensor, got {spec.dtype}")
    _check_spectrogram(tuple(spec.shape), params)
    full_bins = params.fft_size // 2 + 1
    if full_bins > params.num_freq_bins:  # fast mode: put back a zero Nyquist bin
        zeros = spec.new_zeros(*spec.shape[:-2], full_bins - params.num_freq_bins, spec.shape[-1])
        spec = torch.cat([spec, zeros], dim=-2)
    leading = spec.shape[:-2]
    flat = spec.reshape(-1, spec.shape[-2], spec.shape[-1])
    signal = torch.istft(
        flat,
        n_fft=params.fft_size,
        hop_length=params.hop_length,
        win_length=params.fft_size,
        window=_torch_window(params, flat),
        center=params.center,
        normalized=False,
        onesided=True,
        length=length,
        return_complex=False,
    )
    return signal.reshape(*leading, signal.shape[-1])
