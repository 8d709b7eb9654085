"""The transformer memory: refines the passive mono estimates of the current AND past steps of an episode.

An entry per step is the frozen passive separator's mono magnitude estimate (F, T) of that step. Each
entry is encoded on its own by a small CNN on the sliced spectrogram (16 x 32 x 32 -> conv k2 s2 ->
C x 16 x 16, kept as the entry's skip -> conv k2 s2 -> C x 8 x 8 -> a token of C x 64 = d_model; the
paper's C = 16 gives d_model 1024). A sinusoidal encoding of the entry's step index t (its only pose
input) is added. A window of up to `capacity` entries (the current step and its most recent valid past
steps) goes through a pre-LayerNorm transformer encoder with a final LayerNorm; an up-sampling CNN that
takes each token's own skip returns a refined (F, T) estimate for EVERY token.

Window convention: position j = 0 .. W - 1 of a window holds the entry at offset k = W - 1 - j steps
before the current step (the current entry is last). At episode step t only offsets k <= t exist
(`window_mask`). The supervised loss covers the current token and the `refinement_window` most recent
valid past tokens (`refinement_mask`); the final estimate of step s is the refined token of step s made
at step min(s + refinement_window, episode_length - 1) (`final_estimate_source`).

The network sees log1p(max(entry, 0)); its output is a linear magnitude. With predict_residual the
output is the entry plus a learned correction whose last layer starts at zero, so an untrained memory
returns the passive estimate (this project's option; the spec's memory predicts the magnitude directly).

The spec does not name the CNNs' activation; ReLU is the default. With few channels (the quickstart's 4)
ReLU units can die early in RL training, and the memory then stays at the passive estimate (the
measurement: docs/rl.md); negative_slope > 0 uses LeakyReLU,
whose units cannot die.

token_skip=False (this project's option) decodes from the attended token alone, without the entry's own
skip: with the skip the trained quickstart memories act as a per-step post-filter and ignore their
past (an evaluation with a window of 1 entry scores the same to 0.001 dB; docs/rl.md), so without it
the correction has to pass through the attention. With predict_residual the entry itself still carries
the fine detail.

mixture_input=True (this project's option) makes each entry the passive estimate AND the step's log1p
binaural mixture (entries (M, F, T, 3): channel 0 the linear passive magnitude, channels 1-2 the mixture
as the env observes it): the entry CNN then sees what the separator discarded, so the memory can correct
the separator instead of only smoothing its output. Measured (docs/rl.md "A memory that sees the
mixture"): the estimate-only memory's gain is capped by its input, not by training.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from audio_separation.models.separators import slice_frequencies, unslice_frequencies


# ============================================================================================ windows
def window_mask(step_index: torch.Tensor, capacity: int) -> torch.Tensor:
    """(B,) episode step of the current entry -> (B, capacity) bool: which window positions hold an entry
    of the same episode (position j holds offset capacity - 1 - j; valid iff that offset <= t)."""
    offsets = torch.arange(capacity - 1, -1, -1, device=step_index.device)
    return offsets[None, :] <= step_index.reshape(-1, 1)


def window_steps(step_index: torch.Tensor, capacity: int) -> torch.Tensor:
    """(B,) current step -> (B, capacity) the episode step of each window position (negative = padding)."""
    offsets = torch.arange(capacity - 1, -1, -1, device=step_index.device)
    return step_index.reshape(-1, 1) - offsets[None, :]


def refinement_mask(step_index: torch.Tensor, capacity: int, refinement_window: int) -> torch.Tensor:
    """(B, capacity) bool: the tokens the supervised loss covers, the current one plus the
    `refinement_window` most recent valid past ones."""
    offsets = torch.arange(capacity - 1, -1, -1, device=step_index.device)
    return window_mask(step_index, capacity) & (offsets[None, :] <= refinement_window)


def final_estimate_source(step: int, episode_length: int, refinement_window: int) -> tuple[int, int]:
    """(query step, offset) whose refined token is the final estimate of `step`: the prediction made at
    step min(step + refinement_window, episode_length - 1), `offset` steps back from that query."""
    if not 0 <= step < episode_length:
        raise ValueError(f"step {step} is outside an episode of {episode_length} steps")
    query = min(step + refinement_window, episode_length - 1)
    return query, query - step


def step_encoding(steps: torch.Tensor, d_model: int) -> torch.Tensor:
    """Sinusoidal encoding (Vaswani et al.) of integer step indices: (...,) -> (..., d_model)."""
    half = d_model // 2
    frequencies = torch.exp(
        -math.log(10000.0) * torch.arange(half, device=steps.device, dtype=torch.float32) / max(half, 1)
    )
    angles = steps.to(torch.float32)[..., None] * frequencies
    encoding = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
    if d_model % 2:
        encoding = torch.nn.functional.pad(encoding, (0, 1))
    return encoding


# ============================================================================================ model
class TransformerMemory(nn.Module):
    """Passive mono estimates of a window of steps -> refined estimates of every step in it."""

    def __init__(
        self,
        num_freq_bins: int = 512,
        num_frames: int = 32,
        channels: int = 16,
        num_layers: int = 2,
        num_heads: int = 8,
        ffn_size: int = 1024,
        dropout: float = 0.0,
        predict_residual: bool = False,
        negative_slope: float = 0.0,
        token_skip: bool = True,
        mixture_input: bool = False,
    ) -> None:
        super().__init__()
        if num_freq_bins % num_frames or num_frames % 4:
            raise ValueError(
                f"memory needs F divisible by T and T divisible by 4, got F={num_freq_bins}, T={num_frames}"
            )
        squares = num_freq_bins // num_frames
        self.channels = int(channels)
        self.grid = num_frames // 4  # token grid side (8 for 32 frames)
        self.d_model = self.channels * self.grid * self.grid
        if self.d_model % num_heads:
            raise ValueError(
                f"d_model {self.d_model} (= {channels} channels x {self.grid}^2) is not divisible by {num_heads} heads"
            )
        self.predict_residual = bool(predict_residual)
        self.mixture_input = bool(mixture_input)
        activation = (
            (lambda: nn.LeakyReLU(negative_slope, inplace=True))
            if negative_slope > 0
            else (lambda: nn.ReLU(inplace=True))
        )
        planes = 3 if self.mixture_input else 1  # the estimate (+ the binaural mixture's two ears)
        self.encode_half = nn.Sequential(nn.Conv2d(planes * squares, channels, kernel_size=2, stride=2), activation())
        self.encode_quarter = nn.Sequential(nn.Conv2d(channels, channels, kernel_size=2, stride=2), activation())
        layer = nn.TransformerEncoderLayer(
            self.d_model, num_heads, ffn_size, dropout, batch_first=True, norm_first=True
        )
        self.transformer = nn.TransformerEncoder(
            layer, num_layers, norm=nn.LayerNorm(self.d_model), enable_nested_tensor=False
        )
        self.decode_half = nn.Sequential(nn.ConvTranspose2d(channels, channels, kernel_size=2, stride=2), activation())
        self.token_skip = bool(token_skip)
        self.decode_full = nn.ConvTranspose2d(
            (2 if self.token_skip else 1) * channels, squares, kernel_size=2, stride=2
        )
        if self.predict_residual:
            nn.init.zeros_(self.decode_full.weight)
            nn.init.zeros_(self.decode_full.bias)

    # ---------------------------------------------------------------------------------------- pieces
    def encode(self, entries: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(M, F, T) passive estimates (or (M, F, T, 3) with the mixture) -> tokens (M, d_model) and
        skips (M, C, T/2, T/2)."""
        planes = torch.log1p(self.estimates(entries).clamp(min=0.0)).unsqueeze(-1)
        if self.mixture_input:
            planes = torch.cat([planes, entries[..., 1:]], dim=-1)
        sliced = slice_frequencies(planes)
        skips = self.encode_half(sliced)
        tokens = self.encode_quarter(skips).flatten(1)
        return tokens, skips

    def attend(self, tokens: torch.Tensor, steps: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Windows of tokens (B, W, d) at episode steps (B, W) with validity (B, W) -> (B, W, d)."""
        encoded = tokens + step_encoding(steps.clamp(min=0), self.d_model).to(tokens.dtype)
        return self.transformer(encoded, src_key_padding_mask=~valid)

    def decode(self, tokens: torch.Tensor, skips: torch.Tensor, entries: torch.Tensor) -> torch.Tensor:
        """Tokens (K, d) with their entries' skips (K, C, T/2, T/2) and entries (K, F, T) -> raw refined
        magnitudes (K, F, T) (clamp at 0 for an estimate; the loss is taken on the raw output)."""
        output = unslice_frequencies(self.decode_sliced(tokens, skips), 1)[..., 0]
        return self.estimates(entries) + output if self.predict_residual else output

    def decode_sliced(self, tokens: torch.Tensor, skips: torch.Tensor) -> torch.Tensor:
        """The up-sampling CNN alone: tokens (K, d) and skips (K, C, T/2, T/2) -> (K, F/T, T, T), the
        output (with predict_residual: the correction to the entry) in slice_frequencies' layout."""
        grid = tokens.reshape(-1, self.channels, self.grid, self.grid)
        upsampled = self.decode_half(grid)
        if self.token_skip:
            upsampled = torch.cat([upsampled, skips], dim=1)
        return self.decode_full(upsampled)

    def estimates(self, entries: torch.Tensor) -> torch.Tensor:
        """The passive estimates (..., F, T) of entries (with mixture_input, channel 0 of (..., F, T, 3))."""
        if not self.mixture_input:
            return entries
        if entries.shape[-1] != 3:
            raise ValueError(f"a memory with mixture_input takes entries (..., F, T, 3), got {tuple(entries.shape)}")
        return entries[..., 0]

    # ---------------------------------------------------------------------------------------- whole
    def refine(
        self,
        entries: torch.Tensor,
        window_index: torch.Tensor,
        window_step: torch.Tensor,
        decode: torch.Tensor,
        encoded: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Refine windows gathered from a pool of entries, each entry encoded once.

        entries (M, F, T): the pool; window_index (B, W): pool index of each window position (any
        value where window_step < 0); window_step (B, W): episode step of each position (negative =
        no entry); decode (B, W) bool: which positions to return; encoded: the pool's `encode` output
        when the caller already has it (acting keeps each step's, so a step encodes only its new
        entries). Returns the raw refined magnitudes (K, F, T) of the decoded positions in row-major
        (window, position) order.
        """
        attended, skips, chosen = self.attend_windows(entries, window_index, window_step, decode, encoded)
        return self.decode(attended, skips[chosen], entries[chosen])

    def attend_windows(
        self,
        entries: torch.Tensor,
        window_index: torch.Tensor,
        window_step: torch.Tensor,
        decode: torch.Tensor,
        encoded: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The part of `refine` before decoding (same arguments): the attended tokens (K, d) of the
        decoded positions, the pool's skips (M, C, T/2, T/2) and each decoded position's pool index (K,).
        `decode(attended, skips[chosen], entries[chosen])` then gives refine's output, in any split of K."""
        tokens, skips = self.encode(entries) if encoded is None else encoded
        valid = window_step >= 0
        index = torch.where(valid, window_index, torch.zeros_like(window_index))
        attended = self.attend_buckets(tokens, index, window_step, valid)
        wanted = decode & valid
        return attended[wanted], skips, index[wanted]

    def attend_buckets(
        self, tokens: torch.Tensor, index: torch.Tensor, window_step: torch.Tensor, valid: torch.Tensor
    ) -> torch.Tensor:
        """`attend` on the windows (B, W) of pool tokens (M, d), skipping padding: where every window's
        entries are a suffix of it (the window convention), windows are grouped by their number of
        entries into quarters of W and each group is attended over only its last (most entries in the
        group) positions. Padding is masked out of attention, so this gives `attend`'s outputs at the
        valid positions (up to float summation order) at ~60 % of its cost for a whole episode's
        windows, and at a step-t query's t + 1 positions instead of W. Outputs at padding positions mean
        nothing (as `attend`'s)."""
        batch, width = index.shape
        counts = valid.sum(dim=1)
        positions = torch.arange(width, device=valid.device)
        if not torch.equal(valid, positions[None, :] >= (width - counts)[:, None]) or bool((counts == 0).any()):
            return self.attend(tokens[index], window_step, valid)  # not suffix windows: attend in one pass
        attended = tokens.new_zeros(batch, width, tokens.shape[-1])
        bounds = sorted({0, *(-(-width * quarter // 4) for quarter in range(1, 5))})
        for low, high in zip(bounds[:-1], bounds[1:]):
            rows = torch.nonzero((counts > low) & (counts <= high)).flatten()
            if rows.numel() == 0:
                continue
            span = int(counts[rows].max())
            columns = positions[width - span :]
            part = self.attend(tokens[index[rows][:, columns]], window_step[rows][:, columns], valid[rows][:, columns])
            attended = attended.index_put((rows[:, None], columns[None, :]), part)
        return attended

    def forward(self, entries: torch.Tensor, current_step: torch.Tensor) -> torch.Tensor:
        """Windows of entries (B, W, F, T) (or (B, W, F, T, 3), mixture_input) ending at the current step
        (B,) -> raw refined (B, W, F, T);
        positions that hold no entry (window_mask False) are ignored by attention and returned as 0."""
        batch, width = entries.shape[:2]
        steps = window_steps(current_step, width)
        index = torch.arange(batch * width, device=entries.device).reshape(batch, width)
        valid = steps >= 0
        refined = self.refine(entries.reshape(batch * width, *entries.shape[2:]), index, steps, valid)
        output = entries.new_zeros(self.estimates(entries).shape)
        output[valid] = refined
        return output
