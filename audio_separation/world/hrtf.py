"""Measured head-related impulse responses (MIT KEMAR, normal pinna) for the binaural model "kemar".

The data: audio_separation/world/hrtf_data/MIT_KEMAR_normal_pinna.sofa (Gardner & Martin, MIT Media Lab,
1994; see the NOTICE.md beside it), a SOFA SimpleFreeFieldHRIR file: 710 directions (elevation -40 to
+90 degrees in 10 degree rings, azimuth steps of about 5 degrees at the horizon), 2 ears, 512 taps at
44.1 kHz, measured at 1.4 m in an anechoic room. SOFA coordinates: SourcePosition = (azimuth in degrees
counter-clockwise from the front, i.e. +90 = left; elevation in degrees up; distance in metres);
ReceiverPosition y > 0 is the left ear (receiver 0 in this file; tests/world/test_hrtf.py checks it
through the rendered RIRs, not through this reading).

Processing, once per sample rate and process (load_hrtf is cached):
1. Diffuse-field equalisation: every HRIR is filtered by the minimum-phase inverse of the diffuse-field
   average magnitude (power mean over directions, weighted by the solid angle each measured point stands
   for, both ears; 1/3-octave smoothed). This removes the loudspeaker / microphone responses of the 1994
   measurement and the direction-independent ear-canal colouring, and scales the set so that a diffuse
   field has unit power at each ear, like the statistical tail and the spherical-head model. Below
   EQUALISE_FROM_HZ the equaliser stops rising: inverting the loudspeaker's roll-off there would need
   filters longer than the 11.6 ms measurements.
2. Resampling to the world's RIR rate (polyphase, anti-aliased; sample values scaled by the rate ratio so
   that the frequency response is kept).
3. Trimming to HRIR_TAPS samples from PRE_ONSET_SAMPLES before the earliest onset of the whole set (the
   common propagation delay of the measurement is removed, interaural and direction delays are kept), and
   a table of FRACTIONAL_PHASES sub-sample delayed copies (exact band-limited delays by FFT phase).
4. Low-frequency completion: the measurements hold almost nothing below ~100 Hz (-10 dB at 63 Hz, -23 dB
   at 31 Hz after step 1), where a head is acoustically transparent: each ear hears a pure delay. The set's
   average response relative to each ear's onset delay, S(f), is measured; the missing part
   (1 - S(f)), faded out between LOW_FILL_FROM_HZ and LOW_FILL_TO_HZ, is one shared low-pass kernel that
   every arrival adds at each ear's onset delay. Result: every direction within 3 dB of flat from 20 Hz
   to 150 Hz, the diffuse-field average within +-1.1 dB from 16 Hz to 7 kHz (the resampling filter rolls
   off above). The kernel starts LOW_FILL_PRE_SAMPLES before the onset (the measured low-frequency phase
   lags the onset and the fade is zero-phase): 13 % of its energy, all below 400 Hz, precedes the onset,
   almost all of it by less than 1 ms.
5. The diffuse-field interaural coherence of the completed set, Re(sum_d w_d H_L H_R*) /
   sqrt(sum_d w_d |H_L|^2 sum_d w_d |H_R|^2), and two zero-phase FIR filters a = sqrt((1 + g) / 2),
   b = sqrt((1 - g) / 2): ears (a * n1 + b * n2, a * n1 - b * n2) of two independent white noises have unit
   power each and interaural coherence g at every frequency. This is how the late tail gets a head's
   coherence.

Each image-source arrival takes the measured HRIR NEAREST to its direction (largest cosine; no
interpolation), see docs/hrtf.md for why. Directions below -40 degrees elevation (not measured) take the
nearest measured one, on the -40 degree ring. The measurement distance (1.4 m) is used for all distances:
no near-field effects.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve, resample_poly

SOFA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hrtf_data", "MIT_KEMAR_normal_pinna.sofa")
EQUALISE_FROM_HZ = 100.0  # Hz; the diffuse-field equaliser is held constant below this frequency
LOW_FILL_FROM_HZ = 150.0  # Hz; below this the low-frequency completion replaces the measurement fully
LOW_FILL_TO_HZ = 400.0  # Hz; above this the measurement is used alone (raised-cosine crossfade between)
LOW_FILL_TAPS = 256  # samples of the shared low-frequency completion kernel (16 ms at 16 kHz)
LOW_FILL_PRE_SAMPLES = 32  # of which this many precede the ear's onset
EQUALISER_RANGE_DB = 30.0  # the equaliser boosts at most this much above its smallest gain
HRIR_TAPS = 192  # samples kept per HRIR at the output rate (12 ms at 16 kHz; >= 26 dB of every HRIR's energy)
PRE_ONSET_SAMPLES = 6  # samples kept before the earliest onset of the set (room for band-limited ringing)
FRACTIONAL_PHASES = 16  # sub-sample delay steps of the table (1/16 sample = 3.9 us at 16 kHz)
TAIL_FILTER_TAPS = 255  # taps of the zero-phase filters that give the tail its interaural coherence
ONSET_THRESHOLD = 0.1  # an HRIR's onset: first sample whose magnitude reaches this fraction of its peak


class HrtfError(ValueError):
    """The HRTF file is missing or not the SOFA layout this module reads."""


@dataclass(frozen=True)
class SofaHrirs:
    """The raw HRIR set of a SOFA SimpleFreeFieldHRIR file, ear 0 = left."""

    impulse_responses: np.ndarray  # (directions, 2, taps), ear 0 = left
    directions: np.ndarray  # (directions, 3) unit vectors, head frame: x front, y left, z up
    azimuth_elevation: np.ndarray  # (directions, 2) degrees, SOFA convention (azimuth counter-clockwise)
    sample_rate: float


def read_sofa(path: str = SOFA_PATH) -> SofaHrirs:
    """Read a SOFA SimpleFreeFieldHRIR file (HDF5) with h5py; the left ear is the receiver with y > 0."""
    import h5py

    if not os.path.isfile(path):
        raise HrtfError(f"HRTF file not found: {path} (it ships inside the package: reinstall with pip install -e .)")
    try:
        with h5py.File(path, "r") as handle:
            convention = handle.attrs.get("SOFAConventions", b"")
            impulse_responses = np.asarray(handle["Data.IR"], dtype=np.float64)
            positions = np.asarray(handle["SourcePosition"], dtype=np.float64)
            position_type = handle["SourcePosition"].attrs.get("Type", b"spherical")
            receivers = np.asarray(handle["ReceiverPosition"], dtype=np.float64).reshape(2, 3, -1)[:, :, 0]
            sample_rate = float(np.asarray(handle["Data.SamplingRate"]).ravel()[0])
            delays = np.asarray(handle["Data.Delay"]).reshape(-1, 2) if "Data.Delay" in handle else np.zeros((1, 2))
    except (OSError, KeyError) as error:
        raise HrtfError(f"{path}: not a readable SOFA HRIR file ({error})") from None
    if isinstance(convention, bytes):
        convention = convention.decode()
    if isinstance(position_type, bytes):
        position_type = position_type.decode()
    if convention != "SimpleFreeFieldHRIR" or position_type != "spherical":
        raise HrtfError(f"{path}: expected SimpleFreeFieldHRIR with spherical SourcePosition, got {convention}")
    if impulse_responses.ndim != 3 or impulse_responses.shape[1] != 2 or len(positions) != len(impulse_responses):
        raise HrtfError(f"{path}: Data.IR must be (directions, 2, taps), got {impulse_responses.shape}")
    if np.any(delays != 0):
        raise HrtfError(f"{path}: non-zero Data.Delay is not supported")
    if receivers[0, 1] * receivers[1, 1] >= 0:
        raise HrtfError(f"{path}: ReceiverPosition does not put one ear on each side: {receivers.tolist()}")
    if receivers[0, 1] < 0:  # SOFA: +y points to the listener's left
        impulse_responses = impulse_responses[:, ::-1]
    azimuth, elevation = np.radians(positions[:, 0]), np.radians(positions[:, 1])
    directions = np.stack(
        [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)], axis=1
    )
    return SofaHrirs(np.ascontiguousarray(impulse_responses), directions, positions[:, :2].copy(), sample_rate)


def solid_angle_weights(elevation_degrees: np.ndarray) -> np.ndarray:
    """Weights (sum 1) for points on elevation rings: each ring's band of solid angle shared by its points."""
    rings, counts = np.unique(np.round(elevation_degrees, 6), return_counts=True)
    spacing = np.min(np.diff(rings)) if len(rings) > 1 else 180.0
    band = {}
    for ring in rings:
        low, high = max(ring - spacing / 2, -90.0), min(ring + spacing / 2, 90.0)
        band[ring] = np.sin(np.radians(high)) - np.sin(np.radians(low))
    per_ring = dict(zip(rings, counts, strict=True))
    weights = np.array([band[e] / per_ring[e] for e in np.round(elevation_degrees, 6)])
    return weights / weights.sum()


def _third_octave_smooth(frequencies: np.ndarray, power: np.ndarray) -> np.ndarray:
    cumulative = np.concatenate([[0.0], np.cumsum(power)])
    low = np.searchsorted(frequencies, frequencies * 2 ** (-1 / 6), side="left")
    high = np.searchsorted(frequencies, frequencies * 2 ** (1 / 6), side="right")
    high = np.maximum(high, low + 1)
    return (cumulative[high] - cumulative[low]) / (high - low)


def _minimum_phase(magnitude: np.ndarray, n_fft: int) -> np.ndarray:
    """Minimum-phase spectrum (rfft bins) with the given magnitude (homomorphic method)."""
    cepstrum = np.fft.irfft(np.log(magnitude), n_fft)
    folded = np.zeros(n_fft)
    folded[0] = cepstrum[0]
    folded[1 : n_fft // 2] = 2 * cepstrum[1 : n_fft // 2]
    folded[n_fft // 2] = cepstrum[n_fft // 2]
    return np.exp(np.fft.rfft(folded, n_fft))


def diffuse_field_equalise(hrirs: SofaHrirs, weights: np.ndarray, n_fft: int = 8192, keep: int = 1024) -> np.ndarray:
    """(directions, 2, keep) HRIRs filtered by the minimum-phase inverse of the diffuse-field magnitude."""
    spectra = np.fft.rfft(hrirs.impulse_responses, n_fft, axis=-1)
    frequencies = np.fft.rfftfreq(n_fft, 1.0 / hrirs.sample_rate)
    power = np.einsum("d,def->f", weights, np.abs(spectra) ** 2) / 2
    magnitude = np.sqrt(_third_octave_smooth(frequencies, power))
    magnitude = np.where(frequencies < EQUALISE_FROM_HZ, np.interp(EQUALISE_FROM_HZ, frequencies, magnitude), magnitude)
    magnitude = np.maximum(magnitude, magnitude.max() * 10 ** (-EQUALISER_RANGE_DB / 20))
    equaliser = _minimum_phase(1.0 / magnitude, n_fft)
    return np.fft.irfft(spectra * equaliser, n_fft, axis=-1)[..., :keep]


def onsets(impulse_responses: np.ndarray) -> np.ndarray:
    """Index of the first sample reaching ONSET_THRESHOLD of each response's peak magnitude (last axis)."""
    magnitude = np.abs(impulse_responses)
    return np.argmax(magnitude >= ONSET_THRESHOLD * magnitude.max(axis=-1, keepdims=True), axis=-1)


def _fractional_table(hrirs: np.ndarray, phases: int, taps: int) -> np.ndarray:
    """(directions, phases, 2, taps): hrirs delayed by p / phases samples (band-limited, FFT phase)."""
    n_fft = 2 * max(taps, hrirs.shape[-1])
    spectra = np.fft.rfft(hrirs, n_fft, axis=-1)
    frequencies = np.fft.rfftfreq(n_fft)  # cycles per sample
    shifts = np.exp(-2j * np.pi * frequencies[None, :] * (np.arange(phases) / phases)[:, None])
    shifts[:, -1] = shifts[:, -1].real  # the Nyquist bin of a real signal must stay real
    delayed = np.fft.irfft(spectra[:, None] * shifts[None, :, None], n_fft, axis=-1)[..., :taps]
    fade = np.ones(taps)
    fade_length = taps // 8
    fade[-fade_length:] = 0.5 + 0.5 * np.cos(np.pi * np.arange(1, fade_length + 1) / fade_length)
    return delayed * fade


def _zero_phase_filter(frequencies: np.ndarray, response: np.ndarray, taps: int) -> np.ndarray:
    """Odd-length zero-phase FIR (centred) with the given real response sampled at rfft frequencies."""
    kernel = np.fft.irfft(response)
    half = taps // 2
    centred = np.concatenate([kernel[-half:], kernel[: half + 1]])
    return centred * np.hanning(taps + 2)[1:-1]


@dataclass(frozen=True)
class HrtfSet:
    """The processed HRIR set at one sample rate: nearest-direction lookup, arrival rendering, tail noise."""

    sample_rate: int
    directions: np.ndarray  # (directions, 3) unit vectors, head frame: x front, y left, z up
    azimuth_elevation: np.ndarray  # (directions, 2) SOFA degrees
    table: np.ndarray  # (directions, FRACTIONAL_PHASES, 2, HRIR_TAPS); ear 0 = left
    reference_delay: float  # samples from a table entry's first tap to the head-centre arrival (frontal onset)
    ear_offsets: np.ndarray  # (directions, 2) samples from the head-centre arrival to each ear's onset
    low_kernel: np.ndarray  # (LOW_FILL_TAPS,) low-frequency completion, its sample LOW_FILL_PRE_SAMPLES at the onset
    coherence_frequencies: np.ndarray  # Hz
    diffuse_coherence: np.ndarray  # diffuse-field interaural coherence (real part) at those frequencies
    tail_filters: np.ndarray  # (2, TAIL_FILTER_TAPS): the common (a) and the difference (b) filter

    def nearest(self, local_directions: np.ndarray) -> np.ndarray:
        """Index of the measured direction nearest (largest cosine) to each (K, 3) head-frame direction."""
        return np.argmax(local_directions @ self.directions.T, axis=1)

    def render(self, length: int, delays: np.ndarray, amplitudes: np.ndarray, indices: np.ndarray) -> np.ndarray:
        """(length, 2): the sum of HRIR `indices[k]` x amplitudes[k], head-centre arrival at delays[k] samples
        (each with the shared low-frequency completion at its ears' onsets, rounded to whole samples)."""
        start = delays - self.reference_delay
        base = np.floor(start)
        phase = np.round((start - base) * FRACTIONAL_PHASES).astype(np.int64)
        base = base.astype(np.int64) + phase // FRACTIONAL_PHASES
        phase = phase % FRACTIONAL_PHASES
        kernels = self.table[indices, phase] * amplitudes[:, None, None]  # (K, 2, taps)
        positions = base[:, None] + np.arange(self.table.shape[-1])[None, :]  # (K, taps)
        valid = (positions >= 0) & (positions < length)
        out = np.empty((length, 2))
        onsets_at = np.rint(delays[:, None] + self.ear_offsets[indices]).astype(np.int64)  # (K, 2)
        for ear in range(2):
            out[:, ear] = np.bincount(positions[valid], weights=kernels[:, ear][valid], minlength=length)[:length]
            inside = (onsets_at[:, ear] >= 0) & (onsets_at[:, ear] < length)
            train = np.bincount(onsets_at[inside, ear], weights=amplitudes[inside], minlength=length)
            low = fftconvolve(train, self.low_kernel)
            out[:, ear] += low[LOW_FILL_PRE_SAMPLES : LOW_FILL_PRE_SAMPLES + length]
        return out

    def diffuse_noise(self, rng: np.random.Generator, length: int) -> np.ndarray:
        """(length, 2) unit-power white noise per ear with the diffuse-field interaural coherence."""
        taps = self.tail_filters.shape[1]
        noise = rng.standard_normal((2, length + taps - 1))
        common = fftconvolve(noise[0], self.tail_filters[0], mode="valid")
        difference = fftconvolve(noise[1], self.tail_filters[1], mode="valid")
        return np.stack([common + difference, common - difference], axis=1)


def _low_frequency_fill(
    trimmed: np.ndarray, weights: np.ndarray, arrivals: np.ndarray, sample_rate: float, n_fft: int = 8192
) -> np.ndarray:
    """(LOW_FILL_TAPS,) kernel, sample LOW_FILL_PRE_SAMPLES = an ear's onset: what the set lacks at low
    frequencies relative to a pure delay at each ear's onset (`arrivals`, (directions, 2) samples into
    `trimmed`), faded out between LOW_FILL_FROM_HZ and LOW_FILL_TO_HZ."""
    frequencies = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    spectra = np.fft.rfft(trimmed, n_fft, axis=-1)
    undelay = np.exp(2j * np.pi * frequencies[None, None, :] * arrivals[..., None] / sample_rate)
    measured = np.einsum("d,def->f", weights, spectra * undelay) / 2
    fade = np.clip((frequencies - LOW_FILL_FROM_HZ) / (LOW_FILL_TO_HZ - LOW_FILL_FROM_HZ), 0.0, 1.0)
    fade = 0.5 - 0.5 * np.cos(np.pi * fade)  # 0 below LOW_FILL_FROM_HZ, 1 above LOW_FILL_TO_HZ
    kernel = np.fft.irfft((1.0 - fade) * (1.0 - measured), n_fft)
    kernel = np.concatenate([kernel[-LOW_FILL_PRE_SAMPLES:], kernel[: LOW_FILL_TAPS - LOW_FILL_PRE_SAMPLES]])
    fade_length = LOW_FILL_TAPS // 8
    kernel[-fade_length:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, fade_length + 1) / fade_length)
    return kernel


@functools.lru_cache(maxsize=4)
def load_hrtf(sample_rate: int = 16000, path: str = SOFA_PATH) -> HrtfSet:
    """The KEMAR set processed for `sample_rate` (see the module docstring); cached per process."""
    raw = read_sofa(path)
    weights = solid_angle_weights(raw.azimuth_elevation[:, 1])
    equalised = diffuse_field_equalise(raw, weights)
    rate_in = int(round(raw.sample_rate))
    divisor = np.gcd(rate_in, int(sample_rate))
    resampled = resample_poly(equalised, int(sample_rate) // divisor, rate_in // divisor, axis=-1)
    resampled *= raw.sample_rate / sample_rate  # keep the frequency response (sum of samples scales with rate)
    onset_seconds = onsets(equalised) / raw.sample_rate  # (directions, 2)
    first = max(int(np.floor(onset_seconds.min() * sample_rate)) - PRE_ONSET_SAMPLES, 0)
    trimmed = resampled[..., first : first + HRIR_TAPS]
    front = int(np.argmax(raw.directions[:, 0]))
    reference_delay = float(onset_seconds[front].mean() * sample_rate - first)
    ear_offsets = (onset_seconds - onset_seconds[front].mean()) * sample_rate  # ear onset - head centre
    low_kernel = _low_frequency_fill(trimmed, weights, reference_delay + ear_offsets, sample_rate)
    table = _fractional_table(trimmed, FRACTIONAL_PHASES, HRIR_TAPS)

    n_fft = 1024
    frequencies = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    low_spectrum = np.fft.rfft(low_kernel, n_fft) * np.exp(
        2j * np.pi * frequencies * LOW_FILL_PRE_SAMPLES / sample_rate
    )
    arrival_phase = np.exp(
        -2j * np.pi * frequencies[None, None, :] * (reference_delay + ear_offsets)[..., None] / sample_rate
    )
    spectra = np.fft.rfft(table[:, 0], n_fft, axis=-1) + low_spectrum * arrival_phase
    power = np.einsum("d,def->ef", weights, np.abs(spectra) ** 2)
    cross = np.einsum("d,df->f", weights, spectra[:, 0] * np.conj(spectra[:, 1]))
    coherence = np.clip(np.real(cross) / np.sqrt(power[0] * power[1]), -1.0, 1.0)
    filters = np.stack(
        [
            _zero_phase_filter(frequencies, np.sqrt((1 + coherence) / 2), TAIL_FILTER_TAPS),
            _zero_phase_filter(frequencies, np.sqrt((1 - coherence) / 2), TAIL_FILTER_TAPS),
        ]
    )
    return HrtfSet(
        sample_rate=int(sample_rate),
        directions=raw.directions,
        azimuth_elevation=raw.azimuth_elevation,
        table=table,
        reference_delay=reference_delay,
        ear_offsets=ear_offsets,
        low_kernel=low_kernel,
        coherence_frequencies=frequencies,
        diffuse_coherence=coherence,
        tail_filters=filters,
    )
