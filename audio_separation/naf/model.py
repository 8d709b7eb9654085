"""NAF models: the paper's per-pixel implicit network and an amortised per-frame variant.

Both map (listener xy, emitter xy in metres, heading index) to the normalised log-magnitude of the
binaural RIR's STFT and share the same pieces: Fourier features of the positions, a local feature grid
shared by listener and emitter (learned offsets and Gaussian widths), and a LeakyReLU MLP with a
2-layer input skip and learned additive latents at every layer.

- NafPixelModel (NAF.MODEL "pixel", the paper): one MLP pass per (time, frequency, ear) pixel; the ear
  and heading are latents, the time and frequency coordinates are Fourier features of the input.
- NafFrameModel (NAF.MODEL "frame", amortised): one MLP pass per (RIR, time frame) predicting every
  frequency bin of both ears (2 x n_freq outputs); the per-RIR part of the first layer and of the skip
  is computed once per RIR. Same grid, same embeddings of positions and time, ~256 x 2 fewer passes.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F
from yacs.config import CfgNode


class FourierFeatures(nn.Module):
    """x -> [x, sin(2^k x), cos(2^k x)] for num_frequencies k evenly spaced in [0, max_log2]."""

    def __init__(self, num_frequencies: int, max_log2: float, include_input: bool = True) -> None:
        super().__init__()
        self.include_input = include_input
        self.register_buffer(
            "frequencies", 2.0 ** torch.linspace(0.0, float(max_log2), int(num_frequencies)), persistent=False
        )

    def output_size(self, input_size: int) -> int:
        return input_size * (int(self.include_input) + 2 * self.frequencies.numel())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scaled = (x[..., None] * self.frequencies).flatten(-2)  # (..., d * k)
        parts = [x] if self.include_input else []
        return torch.cat(parts + [torch.sin(scaled), torch.cos(scaled)], dim=-1)


class LocalFeatureGrid(nn.Module):
    """Features on a regular floor grid; a position's feature is the Gaussian-weighted average over
    every grid point (the paper's lookup), with learned per-point offsets and widths."""

    def __init__(
        self,
        box: tuple[float, float, float, float],
        spacing: float,
        features: int,
        offset_scale: float,
        width_init: float,
        width_min: float,
        width_max: float,
    ) -> None:
        super().__init__()
        x0, y0, x1, y1 = box
        xs = torch.arange(x0, x1 + 1e-6, spacing, dtype=torch.float32)
        ys = torch.arange(y0, y1 + 1e-6, spacing, dtype=torch.float32)
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="ij"), dim=-1).reshape(-1, 2)
        self.register_buffer("points", grid)
        self.features = nn.Parameter(torch.randn(grid.shape[0], features) * 0.1)
        self.offsets = nn.Parameter(torch.zeros(grid.shape[0], 2))
        self.widths = nn.Parameter(torch.full((grid.shape[0],), float(width_init)))
        self.offset_scale, self.width_min, self.width_max = float(offset_scale), float(width_min), float(width_max)

    def forward(self, xy: torch.Tensor) -> torch.Tensor:
        """(..., 2) metres -> (..., features)."""
        centres = self.points + torch.tanh(self.offsets) * self.offset_scale
        widths = self.widths.clamp(self.width_min, self.width_max)
        squared = ((xy[..., None, :] - centres) ** 2).sum(-1)  # (..., grid)
        weights = torch.exp(-squared / (2.0 * widths**2))
        weights = weights / (weights.sum(-1, keepdim=True) + 1e-8)
        return weights @ self.features


class _NafBase(nn.Module):
    """Shared position encoding: normalisation box, grid, Fourier features of positions and time."""

    def __init__(
        self,
        config: CfgNode,
        box: tuple[float, float, float, float],
        num_headings: int,
        num_freq_bins: int,
        max_len: int,
    ) -> None:
        super().__init__()
        naf = config.NAF
        self.register_buffer("box", torch.tensor(box, dtype=torch.float32))
        self.num_freq_bins, self.max_len, self.num_headings = int(num_freq_bins), int(max_len), int(num_headings)
        self.grid = LocalFeatureGrid(
            box,
            naf.GRID_SPACING,
            naf.GRID_FEATURES,
            naf.GRID_OFFSET_SCALE,
            naf.GRID_WIDTH_INIT,
            naf.GRID_WIDTH_MIN,
            naf.GRID_WIDTH_MAX,
        )
        self.position_features = FourierFeatures(naf.POSITION_FREQUENCIES, naf.POSITION_MAX_LOG2)
        self.coordinate_features = FourierFeatures(naf.COORD_FREQUENCIES, naf.COORD_MAX_LOG2)
        self.hidden, self.num_blocks, self.skip_after = int(naf.HIDDEN), int(naf.NUM_BLOCKS), int(naf.SKIP_AFTER)
        self.rir_input_size = 2 * naf.GRID_FEATURES + self.position_features.output_size(4)
        self.coordinate_size = self.coordinate_features.output_size(1)

    def normalise(self, xy: torch.Tensor) -> torch.Tensor:
        """Metres -> [-1, 1] over the box."""
        low, high = self.box[:2], self.box[2:]
        return 2.0 * (xy - low) / (high - low) - 1.0

    def rir_features(self, listener_xy: torch.Tensor, emitter_xy: torch.Tensor) -> torch.Tensor:
        """(B, 2), (B, 2) metres -> (B, 2 grid + Fourier(4-d)) per-RIR input."""
        grid = torch.cat([self.grid(listener_xy), self.grid(emitter_xy)], dim=-1)
        positions = torch.cat([self.normalise(listener_xy), self.normalise(emitter_xy)], dim=-1)
        return torch.cat([grid, self.position_features(positions)], dim=-1)

    def time_coordinate(self, frames: torch.Tensor) -> torch.Tensor:
        """Frame indices -> 2 t / (max_len - 1) - 1, as a (..., 1) tensor."""
        return (2.0 * frames.float() / max(self.max_len - 1, 1) - 1.0)[..., None]

    def grid_parameters(self) -> list[nn.Parameter]:
        return [self.grid.features]

    def predict_spectrogram(
        self, listener_xy: torch.Tensor, emitter_xy: torch.Tensor, heading: torch.Tensor, num_frames: int
    ) -> torch.Tensor:
        """Normalised log-magnitudes (B, 2 ears, n_freq, num_frames)."""
        raise NotImplementedError


class NafPixelModel(_NafBase):
    """The paper's network: an MLP pass per (t, f, ear) pixel, output Linear(hidden, 1) per ear."""

    def __init__(self, config: CfgNode, box, num_headings: int, num_freq_bins: int, max_len: int) -> None:
        super().__init__(config, box, num_headings, num_freq_bins, max_len)
        width = self.hidden
        input_size = self.rir_input_size + 2 * self.coordinate_size
        self.input_layer = nn.Linear(input_size, width)
        self.blocks = nn.ModuleList(nn.Linear(width, width) for _ in range(self.num_blocks))
        self.skip = nn.Sequential(nn.Linear(input_size, width), nn.LeakyReLU(0.1), nn.Linear(width, width))
        self.ear_latents = nn.Parameter(torch.zeros(self.num_blocks + 1, 2, width))
        self.heading_latents = nn.Parameter(torch.zeros(self.num_blocks + 1, num_headings, width))
        self.outputs = nn.ModuleList(nn.Linear(width, 1) for _ in range(2))

    def hidden_pixels(self, listener_xy, emitter_xy, heading, frames, bins) -> torch.Tensor:
        """Last hidden layer (B, P, 2 ears, hidden) for frames/bins (B, P) pixel indices."""
        rir = self.rir_features(listener_xy, emitter_xy)[:, None].expand(-1, frames.shape[1], -1)
        freq = (2.0 * bins.float() / max(self.num_freq_bins - 1, 1) - 1.0)[..., None]
        x = torch.cat(
            [
                rir,
                self.coordinate_features(freq * 2 * math.pi),
                self.coordinate_features(self.time_coordinate(frames) * 2 * math.pi),
            ],
            dim=-1,
        )
        x = x[:, :, None].expand(-1, -1, 2, -1)  # one pass per ear

        def latent(layer: int) -> torch.Tensor:
            return self.ear_latents[layer][None, None] + self.heading_latents[layer][heading][:, None, None]

        h = self.input_layer(x) + latent(0)
        for index, block in enumerate(self.blocks):
            h = block(F.leaky_relu(h, 0.1)) + latent(index + 1)
            if index + 1 == self.skip_after:
                h = h + self.skip(x)
        return F.leaky_relu(h, 0.1)

    def forward(self, listener_xy, emitter_xy, heading, frames, bins) -> torch.Tensor:
        """(B, P, 2 ears) normalised log-magnitudes at pixels (frames, bins) of shape (B, P)."""
        h = self.hidden_pixels(listener_xy, emitter_xy, heading, frames, bins)
        return torch.cat([self.outputs[ear](h[:, :, ear]) for ear in range(2)], dim=-1)

    def predict_spectrogram(self, listener_xy, emitter_xy, heading, num_frames: int, chunk: int = 8192) -> torch.Tensor:
        frames, bins = torch.meshgrid(torch.arange(num_frames), torch.arange(self.num_freq_bins), indexing="ij")
        frames, bins = frames.reshape(1, -1), bins.reshape(1, -1)
        outputs = []
        for start in range(0, frames.shape[1], chunk):
            f, b = frames[:, start : start + chunk], bins[:, start : start + chunk]
            batch = listener_xy.shape[0]
            outputs.append(
                self(
                    listener_xy,
                    emitter_xy,
                    heading,
                    f.expand(batch, -1).to(listener_xy.device),
                    b.expand(batch, -1).to(listener_xy.device),
                )
            )
        pixels = torch.cat(outputs, dim=1)  # (B, T * F, 2)
        return pixels.reshape(pixels.shape[0], num_frames, self.num_freq_bins, 2).permute(0, 3, 2, 1)

    def hidden_features(self, listener_xy, emitter_xy, heading, num_frames: int, bins_sampled: int = 8) -> torch.Tensor:
        """(B, hidden) last hidden layer averaged over frames, a few frequency bins and both ears."""
        frames, bins = torch.meshgrid(
            torch.arange(num_frames), torch.linspace(0, self.num_freq_bins - 1, bins_sampled).long(), indexing="ij"
        )
        batch = listener_xy.shape[0]
        h = self.hidden_pixels(
            listener_xy,
            emitter_xy,
            heading,
            frames.reshape(1, -1).expand(batch, -1),
            bins.reshape(1, -1).expand(batch, -1),
        )
        return h.mean(dim=(1, 2))


class NafFrameModel(_NafBase):
    """Amortised NAF: one MLP pass per (RIR, frame) -> (2 ears x n_freq) with a heading latent."""

    def __init__(self, config: CfgNode, box, num_headings: int, num_freq_bins: int, max_len: int) -> None:
        super().__init__(config, box, num_headings, num_freq_bins, max_len)
        width = self.hidden
        # first layer and skip split into a per-RIR part (computed once per RIR) and a per-frame part
        self.input_rir = nn.Linear(self.rir_input_size, width)
        self.input_time = nn.Linear(self.coordinate_size, width, bias=False)
        self.skip_rir = nn.Linear(self.rir_input_size, width)
        self.skip_time = nn.Linear(self.coordinate_size, width, bias=False)
        self.skip_out = nn.Linear(width, width)
        self.blocks = nn.ModuleList(nn.Linear(width, width) for _ in range(self.num_blocks))
        self.heading_latents = nn.Parameter(torch.zeros(self.num_blocks + 1, num_headings, width))
        self.output = nn.Linear(width, 2 * self.num_freq_bins)
        nn.init.zeros_(self.output.bias)

    def hidden_frames(self, listener_xy, emitter_xy, heading, frames) -> torch.Tensor:
        """Last hidden layer (B, T, hidden) for frame indices (B, T)."""
        rir = self.rir_features(listener_xy, emitter_xy)
        time = self.coordinate_features(self.time_coordinate(frames) * 2 * math.pi)  # (B, T, c)

        def latent(layer: int) -> torch.Tensor:
            return self.heading_latents[layer][heading][:, None]

        h = self.input_rir(rir)[:, None] + self.input_time(time) + latent(0)
        for index, block in enumerate(self.blocks):
            h = block(F.leaky_relu(h, 0.1)) + latent(index + 1)
            if index + 1 == self.skip_after:
                h = h + self.skip_out(F.leaky_relu(self.skip_rir(rir)[:, None] + self.skip_time(time), 0.1))
        return F.leaky_relu(h, 0.1)

    def forward(self, listener_xy, emitter_xy, heading, frames) -> torch.Tensor:
        """(B, T, 2 ears, n_freq) normalised log-magnitudes at frame indices (B, T)."""
        h = self.hidden_frames(listener_xy, emitter_xy, heading, frames)
        return self.output(h).reshape(*h.shape[:2], 2, self.num_freq_bins)

    def predict_spectrogram(self, listener_xy, emitter_xy, heading, num_frames: int) -> torch.Tensor:
        frames = torch.arange(num_frames, device=listener_xy.device)[None].expand(listener_xy.shape[0], -1)
        return self(listener_xy, emitter_xy, heading, frames).permute(0, 2, 3, 1)

    def hidden_features(self, listener_xy, emitter_xy, heading, num_frames: int) -> torch.Tensor:
        """(B, hidden) last hidden layer averaged over frames."""
        frames = torch.arange(num_frames, device=listener_xy.device)[None].expand(listener_xy.shape[0], -1)
        return self.hidden_frames(listener_xy, emitter_xy, heading, frames).mean(dim=1)


MODELS = {"pixel": NafPixelModel, "frame": NafFrameModel}


def scene_box(node_xy, margin: float) -> tuple[float, float, float, float]:
    """The nodes' floor bounding box grown by margin metres: (x0, y0, x1, y1)."""
    low, high = node_xy.min(axis=0) - margin, node_xy.max(axis=0) + margin
    return (float(low[0]), float(low[1]), float(high[0]), float(high[1]))


def build_model(config: CfgNode, box, num_headings: int, num_freq_bins: int, max_len: int) -> _NafBase:
    """The model NAF.MODEL names, sized by the config and the scene."""
    if config.NAF.MODEL not in MODELS:
        raise ValueError(f"NAF.MODEL must be one of {sorted(MODELS)}, got {config.NAF.MODEL!r}")
    return MODELS[config.NAF.MODEL](config, box, num_headings, num_freq_bins, max_len)
