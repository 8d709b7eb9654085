"""The passive separators: two U-Nets on "sliced" spectrograms (spec "Models").

    binaural_separator  log1p mixture (B, F, T, 2) + target class -> mask (B, F, T, 2);
                        predicted target binaural = mask x linear mixture magnitude
    binaural_to_mono    log1p(clamp(predicted binaural, 0)) (mask detached) -> mono magnitude (B, F, T, 1)

Both are the same U-Net: 5 x [Conv k4 s2 p1 no-bias, BatchNorm, LeakyReLU 0.2] with 64, 128, 256, 512,
512 channels (x `width`) down to 1 x 1, a mirrored decoder of 5 x [ConvTranspose k4 s2 p1 no-bias,
BatchNorm, ReLU] with skip concatenation, and a final 1 x 1 conv. At width 1 each has ~16.7 M
parameters (33.5 M together), the paper's sizes; a smaller width makes a laptop-CPU model.

Spectrograms are (B, freq, frames, channels), the env's observation layout. "Slicing" folds the 512
frequency bins into 16 stacked 32 x 32 squares: (B, 512, 32, C) -> (B, 16 C, 32, 32), and back. Inside
the networks tensors are NCHW in channels-last memory (NHWC), which the CPU (oneDNN) convolutions run
fastest on and which makes slicing a reshape of the observation layout.

QUIRK (mask): the original applies no activation to the mask. Because the mixture is the MEAN of the N
sources while the ground truth is the target's own binaural signal, the ideal mask is ~N where the
target dominates. mask_activation "none" keeps the original; "sigmoid" bounds it to [0, N] as
N x sigmoid(x) (N = number of sources in the mix).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

ENCODER_CHANNELS = (64, 128, 256, 512, 512)  # paper channels of the 5 encoder levels (x width)
MASK_ACTIVATIONS = ("none", "sigmoid")


# ============================================================================================ slicing
def slice_frequencies(spectrogram: torch.Tensor) -> torch.Tensor:
    """(B, F, T, C) -> (B, (F // T) * C, T, T): the frequency axis cut into F // T squares of T x T,
    stacked as channels (channel = square * C + c). The result is NCHW with channels-last memory."""
    batch, frequency, frames, channels = spectrogram.shape
    if frequency % frames:
        raise ValueError(f"cannot slice {frequency} frequency bins into squares of {frames} x {frames} (frames)")
    squares = frequency // frames
    nhwc = spectrogram.reshape(batch, squares, frames, frames, channels).permute(0, 2, 3, 1, 4)
    return nhwc.reshape(batch, frames, frames, squares * channels).permute(0, 3, 1, 2)


def unslice_frequencies(sliced: torch.Tensor, channels: int) -> torch.Tensor:
    """Inverse of slice_frequencies: (B, S * channels, T, T) -> (B, S * T, T, channels)."""
    batch, stacked, height, frames = sliced.shape
    if stacked % channels:
        raise ValueError(f"{stacked} sliced channels are not a multiple of {channels} spectrogram channels")
    squares = stacked // channels
    nhwc = sliced.permute(0, 2, 3, 1).reshape(batch, height, frames, squares, channels)
    return nhwc.permute(0, 3, 1, 2, 4).reshape(batch, squares * height, frames, channels)


# ============================================================================================ U-Net
def scaled_channels(width: float) -> list[int]:
    """Encoder channels at a width factor (at least 1 each)."""
    if not width > 0:
        raise ValueError(f"separator width must be > 0, got {width}")
    return [max(1, int(round(channels * width))) for channels in ENCODER_CHANNELS]


def _down(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(0.2, inplace=True),
    )


def _up(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """The separators' U-Net on 32 x 32 sliced spectrograms: in_channels -> out_channels, same size."""

    def __init__(self, in_channels: int, out_channels: int, width: float = 1.0) -> None:
        super().__init__()
        channels = scaled_channels(width)
        self.encoder = nn.ModuleList()
        previous = in_channels
        for level_channels in channels:
            self.encoder.append(_down(previous, level_channels))
            previous = level_channels
        # decoder level k maps (previous output [+ skip]) to the channels of the encoder level below
        decoder_outputs = [*reversed(channels[:-1]), out_channels]
        self.decoder = nn.ModuleList()
        for level, level_channels in enumerate(decoder_outputs):
            incoming = previous if level == 0 else 2 * previous
            self.decoder.append(_up(incoming, level_channels))
            previous = level_channels
        self.head = nn.Conv2d(out_channels, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for down in self.encoder:
            x = down(x)
            skips.append(x)
        skips.pop()  # the innermost level feeds the decoder directly
        for level, up in enumerate(self.decoder):
            if level > 0:
                x = torch.cat([x, skips.pop()], dim=1)
            x = up(x)
        return self.head(x)


# ============================================================================================ separators
class BinauralSeparator(nn.Module):
    """log1p binaural mixture + target class -> binaural mask (spec: 33 x 32 x 32 input, 32 channels out)."""

    def __init__(self, num_squares: int = 16, width: float = 1.0) -> None:
        super().__init__()
        self.unet = UNet(num_squares * 2 + 1, num_squares * 2, width)

    def forward(self, log_mixture: torch.Tensor, target_class: torch.Tensor) -> torch.Tensor:
        """(B, F, T, 2) log1p magnitude, (B,) or (B, 1) class labels -> raw mask (B, F, T, 2)."""
        sliced = slice_frequencies(log_mixture)
        batch, _, height, frames = sliced.shape
        plane = (target_class.reshape(batch, 1, 1, 1).to(sliced.dtype) + 1.0).expand(batch, height, frames, 1)
        nhwc = torch.cat([sliced.permute(0, 2, 3, 1), plane], dim=-1)  # class plane = the last channel
        return unslice_frequencies(self.unet(nhwc.permute(0, 3, 1, 2)), 2)


class BinauralToMono(nn.Module):
    """log1p predicted target binaural -> linear target mono magnitude (spec: 32 x 32 x 32 in, 16 out)."""

    def __init__(self, num_squares: int = 16, width: float = 1.0) -> None:
        super().__init__()
        self.unet = UNet(num_squares * 2, num_squares, width)

    def forward(self, log_binaural: torch.Tensor) -> torch.Tensor:
        """(B, F, T, 2) log1p magnitude -> (B, F, T, 1) mono magnitude (unbounded, linear)."""
        return unslice_frequencies(self.unet(slice_frequencies(log_binaural)), 1)


@dataclass
class SeparatorOutput:
    """What the passive separator predicts for a batch (all (B, F, T, C), linear magnitudes)."""

    mask: torch.Tensor  # (B, F, T, 2) after the mask activation
    binaural: torch.Tensor  # (B, F, T, 2) mask x linear mixture magnitude: the target's binaural estimate
    mono: torch.Tensor  # (B, F, T, 1) raw output of binaural_to_mono (the loss is taken on this)

    def mono_estimate(self) -> torch.Tensor:
        """The mono magnitude estimate used downstream and for metrics: mono clamped at 0, (B, F, T)."""
        return self.mono[..., 0].clamp(min=0.0)


class PassiveSeparator(nn.Module):
    """binaural_separator followed by binaural_to_mono, the pair pretrained by trainer "passive"."""

    def __init__(
        self,
        num_freq_bins: int = 512,
        num_frames: int = 32,
        width: float = 1.0,
        mask_activation: str = "none",
        num_sources: int = 2,
    ) -> None:
        super().__init__()
        if num_freq_bins % num_frames:
            raise ValueError(f"{num_freq_bins} frequency bins do not fold into {num_frames} x {num_frames} squares")
        if mask_activation not in MASK_ACTIVATIONS:
            raise ValueError(f"mask activation must be one of {MASK_ACTIVATIONS}, got {mask_activation!r}")
        squares = num_freq_bins // num_frames
        self.mask_activation = mask_activation
        self.num_sources = int(num_sources)
        self.binaural_separator = BinauralSeparator(squares, width)
        self.binaural_to_mono = BinauralToMono(squares, width)

    def forward(self, log_mixture: torch.Tensor, target_class: torch.Tensor) -> SeparatorOutput:
        """log_mixture: (B, F, T, 2) log1p |STFT| of the binaural mixture (the env's observation)."""
        mask = self.binaural_separator(log_mixture, target_class)
        if self.mask_activation == "sigmoid":
            mask = torch.sigmoid(mask) * float(self.num_sources)
        binaural = mask * torch.expm1(log_mixture)
        mono = self.binaural_to_mono(torch.log1p(binaural.detach().clamp(min=0.0)))
        return SeparatorOutput(mask=mask, binaural=binaural, mono=mono)
