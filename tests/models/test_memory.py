"""The transformer memory: window masks and refinement indices on hand-made sequences, sizes, and that
padding never leaks into valid tokens."""

from __future__ import annotations

import torch

from audio_separation.common.parameters import count_parameters
from audio_separation.models.memory import (
    TransformerMemory,
    final_estimate_source,
    refinement_mask,
    window_mask,
    window_steps,
)


def test_window_mask_and_steps_by_hand() -> None:
    steps = torch.tensor([0, 2, 7])
    # capacity 4: positions hold offsets 3, 2, 1, 0 (current last)
    assert window_mask(steps, 4).tolist() == [
        [False, False, False, True],
        [False, True, True, True],
        [True, True, True, True],
    ]
    assert window_steps(steps, 4).tolist() == [[-3, -2, -1, 0], [-1, 0, 1, 2], [4, 5, 6, 7]]


def test_refinement_mask_covers_current_and_recent_valid_past() -> None:
    steps = torch.tensor([0, 1, 3, 19])
    mask = refinement_mask(steps, 6, 2)  # current + 2 most recent valid past tokens
    assert mask.tolist() == [
        [False, False, False, False, False, True],
        [False, False, False, False, True, True],
        [False, False, False, True, True, True],
        [False, False, False, True, True, True],
    ]
    # paper: capacity 20, window 14 -> at t = 19 the current token and 14 past ones (steps 5..19)
    paper = refinement_mask(torch.tensor([19]), 20, 14)[0]
    assert paper.sum() == 15 and window_steps(torch.tensor([19]), 20)[0][paper].tolist() == list(range(5, 20))


def test_final_estimate_is_made_refinement_window_steps_later_or_at_the_end() -> None:
    assert final_estimate_source(0, 20, 14) == (14, 14)
    assert final_estimate_source(4, 20, 14) == (18, 14)
    assert final_estimate_source(5, 20, 14) == (19, 14)
    assert final_estimate_source(19, 20, 14) == (19, 0)
    # every step's final estimate lies inside the refinement window of its query
    for step in range(20):
        query, offset = final_estimate_source(step, 20, 14)
        assert refinement_mask(torch.tensor([query]), 20, 14)[0, 19 - offset]


def test_paper_size_matches_the_spec() -> None:
    memory = TransformerMemory()
    assert memory.d_model == 1024
    assert abs(count_parameters(memory) - 12.6e6) < 0.1e6


def test_padding_does_not_change_valid_tokens() -> None:
    torch.manual_seed(0)
    memory = TransformerMemory(num_freq_bins=64, num_frames=8, channels=4, num_heads=2, ffn_size=16).eval()
    entries = torch.rand(2, 5, 64, 8)
    current = torch.tensor([1, 4])
    refined = memory(entries, current)
    changed = entries.clone()
    changed[0, :3] = 100.0  # positions that hold no entry at step 1
    again = memory(changed, current)
    assert torch.allclose(refined[0, 3:], again[0, 3:], atol=1e-5)
    assert torch.equal(refined[0, :3], torch.zeros_like(refined[0, :3]))
    # a past token's refinement depends on later entries (the memory refines the past)
    later = entries.clone()
    later[1, 4] += 1.0
    assert not torch.allclose(memory(later, current)[1, 2], refined[1, 2])


def test_refine_gathers_windows_from_a_pool_like_forward() -> None:
    torch.manual_seed(1)
    memory = TransformerMemory(num_freq_bins=64, num_frames=8, channels=4, num_heads=2, ffn_size=16).eval()
    pool = torch.rand(6, 64, 8)  # entries of steps 0..5 of one episode
    steps = window_steps(torch.tensor([5]), 3)
    decoded = memory.refine(pool, steps.clamp(min=0), steps, torch.ones_like(steps, dtype=torch.bool))
    direct = memory(pool[3:6].unsqueeze(0), torch.tensor([5]))[0]
    assert torch.allclose(decoded, direct, atol=1e-6)


def test_residual_memory_starts_as_the_passive_estimate() -> None:
    memory = TransformerMemory(
        num_freq_bins=64, num_frames=8, channels=4, num_heads=2, ffn_size=16, predict_residual=True
    )
    entries = torch.rand(1, 3, 64, 8)
    assert torch.allclose(memory(entries, torch.tensor([2])), entries)


def test_negative_slope_keeps_every_cnn_unit_alive_where_relu_loses_them() -> None:
    """A unit whose pre-activation is negative on every input passes no gradient with ReLU (it is dead
    for good); with negative_slope > 0 its weights still get a gradient."""
    torch.manual_seed(0)
    entries = torch.rand(2, 3, 64, 8)
    for slope, expect_alive in ((0.0, False), (0.2, True)):
        memory = TransformerMemory(
            num_freq_bins=64, num_frames=8, channels=4, num_heads=2, ffn_size=16, negative_slope=slope
        )
        with torch.no_grad():  # kill skip channel 0: a large negative bias makes its pre-activation < 0 everywhere
            memory.encode_half[0].bias[0] = -100.0
        memory(entries, torch.tensor([2, 2])).abs().sum().backward()
        gradient = memory.encode_half[0].weight.grad[0].abs().sum()
        assert (gradient > 0) == expect_alive, (slope, gradient)
    activations = {
        type(module).__name__
        for module in TransformerMemory(64, 8, 4, num_heads=2, ffn_size=16, negative_slope=0.2).modules()
    }
    assert "LeakyReLU" in activations and "ReLU" not in activations


def test_memory_without_token_skip_decodes_through_the_attention() -> None:
    """token_skip=False: the refined current entry depends on the past entries (the attention is the only
    path), starts as the passive estimate with predict_residual, and round-trips through agent settings."""
    torch.manual_seed(0)
    memory = TransformerMemory(num_freq_bins=64, num_frames=8, channels=4, num_heads=2, ffn_size=16, token_skip=False)
    assert memory.decode_full.in_channels == 4
    entries = torch.rand(1, 3, 64, 8)
    other_past = entries.clone()
    other_past[0, :2] = torch.rand(2, 64, 8)
    current = memory(entries, torch.tensor([2]))[0, -1]
    assert not torch.allclose(current, memory(other_past, torch.tensor([2]))[0, -1])
    residual = TransformerMemory(
        num_freq_bins=64, num_frames=8, channels=4, num_heads=2, ffn_size=16, predict_residual=True, token_skip=False
    )
    assert torch.allclose(residual(entries, torch.tensor([2])), entries)
    from audio_separation.config import get_config
    from audio_separation.rl.agent_checkpoint import agent_settings

    assert agent_settings(get_config(opts=["RL.MEMORY.TOKEN_SKIP", "False"]))["memory"]["token_skip"] is False
    assert "token_skip" not in agent_settings(get_config())["memory"]  # older checkpoints stay valid
