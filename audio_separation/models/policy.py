"""The active separation policy: RGB, binaural and mono encoders, a GRU, an actor and a critic.

    rgb               (B, H, W, 3) uint8          -> RGB CNN (3->32 k8 s4, 32->64 k4 s2, 64->32 k3 s1) -> Linear -> E
    binaural estimate (B, F, T, 2) linear target binaural from the frozen separator; log1p, sliced
                      (2F/T x T x T)              -> audio CNN -> E
    refined mono      (B, F, T) linear current refined estimate from the memory; log1p, sliced -> audio CNN -> E
    concat (3E, or 2E without RGB) -> 1-layer GRU(H) -> actor Linear(H -> 3) (orthogonal, gain 0.01), critic Linear(H -> 1)

Paper sizes: E = H = 512 (6.2 M parameters here; the spec quotes ~5.8 M). The audio CNN is this project's choice (the spec
names only "a 3-conv CNN"): 3 strided convs (32, 64, 32 channels) on the sliced spectrogram down to
T/8 x T/8, then a linear layer.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from audio_separation.models.separators import slice_frequencies

POLICY_INPUTS = ("rgb", "binaural", "refined_mono")


def _flat_size(module: nn.Module, shape: tuple[int, ...]) -> int:
    with torch.no_grad():
        return int(module(torch.zeros(1, *shape)).flatten(1).shape[1])


class RgbEncoder(nn.Module):
    """uint8 (B, H, W, 3) -> (B, out_size); pixels scaled to [0, 1]."""

    def __init__(self, resolution: int, out_size: int) -> None:
        super().__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(3, 32, kernel_size=8, stride=4), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, kernel_size=4, stride=2), nn.ReLU(inplace=True),
            nn.Conv2d(64, 32, kernel_size=3, stride=1), nn.ReLU(inplace=True),
            nn.Flatten(),
        )
        self.linear = nn.Sequential(nn.Linear(_flat_size(self.cnn, (3, resolution, resolution)), out_size), nn.ReLU(inplace=True))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.linear(self.cnn(rgb.permute(0, 3, 1, 2).float() / 255.0))


class SpectrogramEncoder(nn.Module):
    """Linear magnitude (B, F, T, C) -> log1p, sliced to (B, C F/T, T, T) -> 3 strided convs -> (B, out_size)."""

    def __init__(self, num_freq_bins: int, num_frames: int, channels: int, out_size: int) -> None:
        super().__init__()
        sliced_channels = channels * (num_freq_bins // num_frames)
        self.cnn = nn.Sequential(
            nn.Conv2d(sliced_channels, 32, kernel_size=4, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, kernel_size=4, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(64, 32, kernel_size=3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Flatten(),
        )
        self.linear = nn.Sequential(nn.Linear(_flat_size(self.cnn, (sliced_channels, num_frames, num_frames)), out_size), nn.ReLU(inplace=True))

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        return self.linear(self.cnn(slice_frequencies(torch.log1p(magnitude.clamp(min=0.0)))))


@dataclass
class PolicyOutput:
    """One forward pass: action distribution, value and the GRU state after the step(s)."""

    distribution: torch.distributions.Categorical
    value: torch.Tensor  # (B,) or (T, N)
    hidden: torch.Tensor  # (1, N, H)


class ActorCritic(nn.Module):
    """Encoders -> GRU -> actor (3 actions) and critic."""

    def __init__(
        self,
        num_freq_bins: int = 512,
        num_frames: int = 32,
        view_resolution: int = 128,
        hidden_size: int = 512,
        embedding_size: int = 512,
        use_rgb: bool = True,
        num_actions: int = 3,
    ) -> None:
        super().__init__()
        self.use_rgb = bool(use_rgb)
        self.hidden_size = int(hidden_size)
        self.rgb_encoder = RgbEncoder(view_resolution, embedding_size) if self.use_rgb else None
        self.binaural_encoder = SpectrogramEncoder(num_freq_bins, num_frames, 2, embedding_size)
        self.mono_encoder = SpectrogramEncoder(num_freq_bins, num_frames, 1, embedding_size)
        self.gru = nn.GRU(embedding_size * (3 if self.use_rgb else 2), hidden_size)
        self.actor = nn.Linear(hidden_size, num_actions)
        self.critic = nn.Linear(hidden_size, 1)
        for name, parameter in self.gru.named_parameters():
            if "weight" in name:
                nn.init.orthogonal_(parameter)
            else:
                nn.init.zeros_(parameter)
        nn.init.orthogonal_(self.actor.weight, gain=0.01)
        nn.init.zeros_(self.actor.bias)
        nn.init.orthogonal_(self.critic.weight)
        nn.init.zeros_(self.critic.bias)

    def initial_hidden(self, num_envs: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.zeros(1, num_envs, self.hidden_size, device=device)

    def features(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Encoded inputs (B, embedding x 2 or 3) from rgb, binaural (B, F, T, 2) and refined_mono (B, F, T)."""
        parts = [self.binaural_encoder(inputs["binaural"]), self.mono_encoder(inputs["refined_mono"].unsqueeze(-1))]
        if self.rgb_encoder is not None:
            parts.insert(0, self.rgb_encoder(inputs["rgb"]))
        return torch.cat(parts, dim=1)

    def _heads(self, core: torch.Tensor, hidden: torch.Tensor) -> PolicyOutput:
        return PolicyOutput(torch.distributions.Categorical(logits=self.actor(core)), self.critic(core).squeeze(-1), hidden)

    def step(self, inputs: dict[str, torch.Tensor], hidden: torch.Tensor) -> PolicyOutput:
        """One step for N envs: inputs of batch N, hidden (1, N, H) (zeros at an episode's start)."""
        core, hidden = self.gru(self.features(inputs).unsqueeze(0), hidden)
        return self._heads(core.squeeze(0), hidden)

    def sequence(self, inputs: dict[str, torch.Tensor], num_steps: int, hidden: torch.Tensor) -> PolicyOutput:
        """Whole sequences: inputs flattened time-major (T x N, ...), hidden (1, N, H) at their start ->
        distributions and values over (T, N)."""
        features = self.features(inputs)
        core, hidden = self.gru(features.reshape(num_steps, -1, features.shape[-1]), hidden)
        return self._heads(core, hidden)
