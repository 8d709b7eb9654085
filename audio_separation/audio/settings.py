"""What the audio pipeline needs from the config, as one frozen value: rates, the STFT, the step's
length, the target's RMS and the mixing quirks. Shapes (bins, frames, samples per step) are derived from
the STFT parameters, never stored twice."""

from __future__ import annotations

from dataclasses import dataclass, field

from audio_separation.audio.mixing import CROPS
from audio_separation.audio.stft import StftParams


@dataclass(frozen=True)
class AudioSettings:
    """The AUDIO section of the config (config/default.py documents each field)."""

    sample_rate: int = 16000  # AUDIO.SAMPLE_RATE, Hz
    step_seconds: float = 1.0  # AUDIO.STEP_SECONDS: seconds of audio heard per agent step
    stft: StftParams = field(
        default_factory=StftParams
    )  # AUDIO.N_FFT, HOP_LENGTH, WIN_LENGTH, CENTER, PAD_MODE, FAST_STFT
    target_mono_rms: float = 1.2  # AUDIO.TARGET_MONO_RMS
    int16_roundtrip: bool = False  # AUDIO.INT16_ROUNDTRIP (QUIRK of the original)
    convolution_crop: str = "causal"  # AUDIO.CONVOLUTION_CROP: "causal" or "same"

    def __post_init__(self) -> None:
        if self.convolution_crop not in CROPS:
            raise ValueError(f"AUDIO.CONVOLUTION_CROP must be one of {CROPS}, got {self.convolution_crop!r}")
        if self.step_samples < 1:
            raise ValueError(
                f"AUDIO.SAMPLE_RATE x AUDIO.STEP_SECONDS must be >= 1 sample, got {self.sample_rate} x {self.step_seconds}"
            )

    @classmethod
    def from_config(cls, config) -> AudioSettings:
        """The settings of config.AUDIO; the spectrogram shapes are derived from them."""
        audio = config.AUDIO
        return cls(
            sample_rate=int(audio.SAMPLE_RATE),
            step_seconds=float(audio.STEP_SECONDS),
            stft=StftParams.from_config(audio),
            target_mono_rms=float(audio.TARGET_MONO_RMS),
            int16_roundtrip=bool(audio.INT16_ROUNDTRIP),
            convolution_crop=str(audio.CONVOLUTION_CROP),
        )

    @property
    def step_samples(self) -> int:
        """Samples of one step's chunk."""
        return int(self.sample_rate * self.step_seconds)

    @property
    def num_freq_bins(self) -> int:
        """Frequency bins of a step's spectrogram (n_fft // 2 + 1)."""
        return self.stft.num_freq_bins

    @property
    def num_frames(self) -> int:
        """STFT frames of a step's chunk."""
        return self.stft.num_frames(self.step_samples)
