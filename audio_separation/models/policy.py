"""The active separation policy: RGB, binaural and mono encoders, a GRU, an actor and a critic.

    rgb               (B, H, W, 3) uint8          -> RGB CNN (3->32 k8 s4, 32->64 k4 s2, 64->32 k3 s1) -> Linear -> E
    binaural estimate (B, F, T, 2) linear target binaural from the frozen separator; log1p, sliced
                      (2F/T x T x T)              -> audio CNN -> E
    refined mono      (B, F, T) linear current refined estimate from the memory; log1p, sliced -> audio CNN -> E
    optional (interaural_bands = K > 0): the same binaural estimate -> per band of F/K bins, log energy
                      of each ear averaged over frames -> [left - right (interaural level difference),
                      mean level / 10] (2K) -> Linear -> E
    optional (previous_action_size = P > 0): the agent's own previous action (B,) int, 0 at an episode's
                      start, action + 1 after -> Embedding -> P
    concat (3E, or 2E without RGB, + E with the interaural features, + P) -> 1-layer GRU(H) -> actor
    Linear(H -> 3) (orthogonal, gain 0.01), critic Linear(H -> 1)

Paper sizes: E = H = 512 (6.2 M parameters here; the spec quotes ~5.8 M). The audio CNN is this project's choice (the spec
names only "a 3-conv CNN"): 3 strided convs (32, 64, 32 channels) on the sliced spectrogram down to
T/8 x T/8, then a linear layer. The interaural features are this project's addition (off in the paper
settings): in the log1p domain of the audio CNN the level difference between the ears, which says on
which side the target is, is ~0.01 against spectrogram values ~0.1-3, so a small CNN trained on ~20 k
steps does not pick it up; in the log-energy domain it is ~1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from audio_separation.models.separators import slice_frequencies

POLICY_INPUTS = ("rgb", "binaural", "refined_mono", "previous_action")


def policy_observation_keys(use_rgb: bool) -> tuple[str, ...]:
    """The env observation keys the policy reads itself (its other inputs come from the separator, the
    memory and its own actions); rollout storage keeps exactly these."""
    return ("rgb",) if use_rgb else ()


def _flat_size(module: nn.Module, shape: tuple[int, ...]) -> int:
    with torch.no_grad():
        return int(module(torch.zeros(1, *shape)).flatten(1).shape[1])


class RgbEncoder(nn.Module):
    """uint8 (B, H, W, 3) -> (B, out_size); pixels scaled to [0, 1]."""

    def __init__(self, resolution: int, out_size: int) -> None:
        super().__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(3, 32, kernel_size=8, stride=4),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, kernel_size=4, stride=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(64, 32, kernel_size=3, stride=1),
            nn.ReLU(inplace=True),
            nn.Flatten(),
        )
        self.linear = nn.Sequential(
            nn.Linear(_flat_size(self.cnn, (3, resolution, resolution)), out_size), nn.ReLU(inplace=True)
        )

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.encode(self.prepare(rgb))

    @staticmethod
    def prepare(rgb: torch.Tensor) -> torch.Tensor:
        """The parameter-free part: uint8 (B, H, W, 3) -> float (B, 3, H, W) in [0, 1]."""
        return rgb.permute(0, 3, 1, 2).float() / 255.0

    def encode(self, planes: torch.Tensor) -> torch.Tensor:
        """Prepared planes (B, 3, H, W) -> (B, out_size). Identical frames (an agent turning in place
        sees the same cached views again) go through the CNN once: the same outputs, and gradients summed
        over the copies as autograd would (a rollout's PPO passes do ~40 % less RGB work)."""
        unique, inverse = unique_frames(planes)
        if unique is None:
            return self.linear(self.cnn(planes))
        return self.linear(self.cnn(unique))[inverse]


def unique_frames(planes: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(B, ...) float32 -> (the distinct frames (U, ...), each frame's index among them (B,)), or
    (None, None) when no two frames are equal. Exact: frames are grouped by an integer fingerprint of the
    bits of every 97th value, then every frame is checked equal to its group's representative (a
    fingerprint collision falls back to no grouping)."""
    batch = planes.shape[0]
    if batch < 2 or planes.dtype != torch.float32:
        return None, None
    flat = planes.detach().flatten(1)
    sampled = flat[:, ::97].contiguous().view(torch.int32).long()
    weights = torch.arange(1, sampled.shape[1] + 1, device=flat.device)
    keys, inverse = torch.unique((sampled * weights).sum(dim=1), return_inverse=True)
    if keys.numel() == batch:
        return None, None
    representative = torch.empty(keys.numel(), dtype=torch.long, device=flat.device)
    representative.scatter_(0, inverse, torch.arange(batch, device=flat.device))
    if not torch.equal(flat[representative][inverse], flat):
        return None, None
    return planes[representative], inverse


class SpectrogramEncoder(nn.Module):
    """Linear magnitude (B, F, T, C) -> log1p, sliced to (B, C F/T, T, T) -> 3 strided convs -> (B, out_size)."""

    def __init__(self, num_freq_bins: int, num_frames: int, channels: int, out_size: int) -> None:
        super().__init__()
        sliced_channels = channels * (num_freq_bins // num_frames)
        self.cnn = nn.Sequential(
            nn.Conv2d(sliced_channels, 32, kernel_size=4, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, kernel_size=4, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(64, 32, kernel_size=3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Flatten(),
        )
        self.linear = nn.Sequential(
            nn.Linear(_flat_size(self.cnn, (sliced_channels, num_frames, num_frames)), out_size), nn.ReLU(inplace=True)
        )

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        return self.encode(self.prepare(magnitude))

    @staticmethod
    def prepare(magnitude: torch.Tensor) -> torch.Tensor:
        """The parameter-free part: linear magnitude (B, F, T, C) -> sliced log1p (B, C F/T, T, T)."""
        return slice_frequencies(torch.log1p(magnitude.clamp(min=0.0)))

    def encode(self, planes: torch.Tensor) -> torch.Tensor:
        """Prepared planes (B, C F/T, T, T) -> (B, out_size)."""
        return self.linear(self.cnn(planes))


class InterauralEncoder(nn.Module):
    """Linear binaural magnitude (B, F, T, 2) -> per band: log-energy difference of the ears and mean
    log-energy / 10, averaged over frames (B, 2K) -> Linear -> ReLU -> (B, out_size)."""

    def __init__(self, num_freq_bins: int, num_bands: int, out_size: int) -> None:
        super().__init__()
        if num_bands < 1 or num_freq_bins % num_bands:
            raise ValueError(f"RL.POLICY.INTERAURAL_BANDS {num_bands} must divide the {num_freq_bins} frequency bins")
        self.num_bands = int(num_bands)
        self.linear = nn.Sequential(nn.Linear(2 * self.num_bands, out_size), nn.ReLU(inplace=True))

    def features(self, magnitude: torch.Tensor) -> torch.Tensor:
        batch, bins, frames, _ = magnitude.shape
        energy = (
            magnitude.clamp(min=0.0)
            .pow(2)
            .reshape(batch, self.num_bands, bins // self.num_bands, frames, 2)
            .mean(dim=(2, 3))
        )
        level = torch.log(energy + 1e-6)  # (B, K, 2)
        return torch.cat([level[..., 0] - level[..., 1], level.mean(dim=-1) / 10.0], dim=1)

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        return self.linear(self.features(magnitude))


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
        interaural_bands: int = 0,
        previous_action_size: int = 0,
    ) -> None:
        super().__init__()
        self.use_rgb = bool(use_rgb)
        self.hidden_size = int(hidden_size)
        self.rgb_encoder = RgbEncoder(view_resolution, embedding_size) if self.use_rgb else None
        self.binaural_encoder = SpectrogramEncoder(num_freq_bins, num_frames, 2, embedding_size)
        self.mono_encoder = SpectrogramEncoder(num_freq_bins, num_frames, 1, embedding_size)
        self.interaural_encoder = (
            InterauralEncoder(num_freq_bins, interaural_bands, embedding_size) if interaural_bands > 0 else None
        )
        num_encoders = 2 + int(self.use_rgb) + int(self.interaural_encoder is not None)
        self.previous_action_embedding = (
            nn.Embedding(num_actions + 1, previous_action_size) if previous_action_size > 0 else None
        )
        self.gru = nn.GRU(embedding_size * num_encoders + max(int(previous_action_size), 0), hidden_size)
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

    @property
    def observation_keys(self) -> tuple[str, ...]:
        """The env observation keys this policy consumes (policy_observation_keys)."""
        return policy_observation_keys(self.use_rgb)

    def initial_hidden(self, num_envs: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.zeros(1, num_envs, self.hidden_size, device=device)

    def features(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Encoded inputs (B, embedding x 2, 3 or 4) from rgb, binaural (B, F, T, 2) and refined_mono (B, F, T)
        (+ previous_action (B,) when the policy embeds it)."""
        return self.encode(self.prepare(inputs))

    def prepare(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The parameter-free part of `features` (scaling, log1p, slicing, interaural band levels), batch
        first like the inputs: PPO prepares a rollout once and encodes it every epoch."""
        prepared = {
            "binaural": SpectrogramEncoder.prepare(inputs["binaural"]),
            "refined_mono": SpectrogramEncoder.prepare(inputs["refined_mono"].unsqueeze(-1)),
        }
        if self.rgb_encoder is not None:
            prepared["rgb"] = RgbEncoder.prepare(inputs["rgb"])
        if self.interaural_encoder is not None:
            prepared["interaural"] = self.interaural_encoder.features(inputs["binaural"])
        if self.previous_action_embedding is not None:
            prepared["previous_action"] = inputs["previous_action"]
        return prepared

    def encode(self, prepared: dict[str, torch.Tensor]) -> torch.Tensor:
        """`prepare`'s output -> the encoded inputs (as `features`)."""
        parts = [self.binaural_encoder.encode(prepared["binaural"]), self.mono_encoder.encode(prepared["refined_mono"])]
        if self.rgb_encoder is not None:
            parts.insert(0, self.rgb_encoder.encode(prepared["rgb"]))
        if self.interaural_encoder is not None:
            parts.append(self.interaural_encoder.linear(prepared["interaural"]))
        if self.previous_action_embedding is not None:
            parts.append(self.previous_action_embedding(prepared["previous_action"]))
        return torch.cat(parts, dim=1)

    def _heads(self, core: torch.Tensor, hidden: torch.Tensor) -> PolicyOutput:
        return PolicyOutput(
            torch.distributions.Categorical(logits=self.actor(core)), self.critic(core).squeeze(-1), hidden
        )

    def step(self, inputs: dict[str, torch.Tensor], hidden: torch.Tensor) -> PolicyOutput:
        """One step for N envs: inputs of batch N, hidden (1, N, H) (zeros at an episode's start)."""
        core, hidden = self.gru(self.features(inputs).unsqueeze(0), hidden)
        return self._heads(core.squeeze(0), hidden)

    def sequence(
        self, inputs: dict[str, torch.Tensor], num_steps: int, hidden: torch.Tensor, prepared: bool = False
    ) -> PolicyOutput:
        """Whole sequences: inputs flattened time-major (T x N, ...), hidden (1, N, H) at their start ->
        distributions and values over (T, N). prepared: the inputs are `prepare`'s output."""
        features = self.encode(inputs) if prepared else self.features(inputs)
        core, hidden = self.gru(features.reshape(num_steps, -1, features.shape[-1]), hidden)
        return self._heads(core, hidden)
