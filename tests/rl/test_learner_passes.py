"""The learner's cheaper passes compute what the plain ones do: the memory's loss decoded in chunks, and
PPO's policy passes on inputs prepared once per update."""

from __future__ import annotations

import copy

import pytest
import torch

from audio_separation.models.memory import TransformerMemory
from audio_separation.models.policy import ActorCritic
from audio_separation.rl.ppo import loss_chunk_tokens, memory_l1_backward
from audio_separation.rl.rollout_storage import episode_memory_queries

F, T = 32, 8  # small spectrograms: 4 squares of 8 x 8


def _episodes(mixture: bool, length: int = 6, envs: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    shape = (length, envs, F, T, 3) if mixture else (length, envs, F, T)
    return torch.rand(shape, generator=generator), torch.rand(length, envs, F, T, generator=generator)


def _gradients(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: parameter.grad.clone() for name, parameter in module.named_parameters() if parameter.grad is not None}


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"predict_residual": True, "negative_slope": 0.2},
        {"predict_residual": True, "token_skip": False},
        {"predict_residual": True, "mixture_input": True, "negative_slope": 0.2},
    ],
)
@pytest.mark.parametrize("chunk", [0, 1, 7, 1000])
def test_chunked_memory_loss_equals_the_one_pass_loss_and_gradient(options: dict, chunk: int) -> None:
    torch.manual_seed(0)
    memory = TransformerMemory(F, T, channels=4, num_heads=2, ffn_size=16, **options)
    if memory.predict_residual:  # a zero last layer would leave most gradients trivially equal
        torch.nn.init.normal_(memory.decode_full.weight, std=0.1)
    passive, gt_mono = _episodes(memory.mixture_input)
    queries = episode_memory_queries(passive, gt_mono, list(range(passive.shape[0])), capacity=4, decode_window=2)

    reference = copy.deepcopy(memory)
    expected = torch.nn.functional.l1_loss(
        reference.refine(queries.entries, queries.window_index, queries.window_step, queries.decode), queries.targets
    )
    expected.backward()
    loss = memory_l1_backward(memory, queries, chunk)

    assert loss == pytest.approx(float(expected.detach()), rel=1e-5)
    ours, theirs = _gradients(memory), _gradients(reference)
    assert ours.keys() == theirs.keys() and len(ours) >= 8  # the encoder, transformer and decoder all learn
    for name, gradient in theirs.items():
        assert gradient.abs().max() > 0, name
        torch.testing.assert_close(ours[name], gradient, rtol=1e-4, atol=1e-6, msg=name)


def test_loss_chunk_setting() -> None:
    assert loss_chunk_tokens(-1, torch.device("cpu")) == 32
    assert loss_chunk_tokens(-1, torch.device("cuda", 0)) == 0  # a GPU decodes everything at once
    assert loss_chunk_tokens(0, torch.device("cpu")) == 0 and loss_chunk_tokens(5, torch.device("cpu")) == 5
    with pytest.raises(ValueError, match="LOSS_CHUNK_TOKENS"):
        loss_chunk_tokens(-2, torch.device("cpu"))


@pytest.mark.parametrize("interaural_bands, previous_action_size", [(0, 0), (4, 3)])
def test_prepared_policy_inputs_give_the_same_sequence(interaural_bands: int, previous_action_size: int) -> None:
    torch.manual_seed(0)
    policy = ActorCritic(
        F,
        T,
        view_resolution=48,
        hidden_size=8,
        embedding_size=8,
        interaural_bands=interaural_bands,
        previous_action_size=previous_action_size,
    )
    steps, envs = 3, 2
    inputs = {
        "rgb": torch.randint(0, 256, (steps * envs, 48, 48, 3), dtype=torch.uint8),
        "binaural": torch.rand(steps * envs, F, T, 2) - 0.1,  # negatives: the clamp is part of preparing
        "refined_mono": torch.rand(steps * envs, F, T),
        "previous_action": torch.randint(0, 4, (steps * envs,)),
    }
    plain = policy.sequence(inputs, steps, policy.initial_hidden(envs))
    prepared = policy.prepare(inputs)
    assert prepared.keys() == {"rgb", "binaural", "refined_mono"} | (
        {"interaural", "previous_action"} if interaural_bands else set()
    )
    ours = policy.sequence(prepared, steps, policy.initial_hidden(envs), prepared=True)
    torch.testing.assert_close(ours.distribution.logits, plain.distribution.logits)
    torch.testing.assert_close(ours.value, plain.value)
    assert ours.value.shape == (steps, envs)


def test_bucketed_attention_equals_one_pass_attention_at_the_entries() -> None:
    torch.manual_seed(0)
    memory = TransformerMemory(F, T, channels=4, num_heads=2, ffn_size=16, negative_slope=0.2)
    passive, gt_mono = _episodes(False, length=9, envs=2)
    queries = episode_memory_queries(passive, gt_mono, list(range(9)), capacity=8, decode_window=3)
    tokens = torch.randn(queries.entries.shape[0], memory.d_model, requires_grad=True)
    valid = queries.window_step >= 0
    index = torch.where(valid, queries.window_index, 0)
    assert sorted(set(valid.sum(dim=1).tolist())) == list(range(1, 9))  # windows of every fill, 4 buckets
    ours = memory.attend_buckets(tokens, index, queries.window_step, valid)
    plain = memory.attend(tokens[index], queries.window_step, valid)
    torch.testing.assert_close(ours[valid], plain[valid], rtol=1e-5, atol=1e-5)
    weights = torch.randn_like(plain[valid])
    (gradient,) = torch.autograd.grad((ours[valid] * weights).sum(), tokens)
    (expected,) = torch.autograd.grad((plain[valid] * weights).sum(), tokens)
    torch.testing.assert_close(gradient, expected, rtol=1e-4, atol=1e-5)
    # windows whose entries are not a suffix are attended in one pass, unchanged
    holes = valid.clone()
    holes[-1, 2] = False
    torch.testing.assert_close(
        memory.attend_buckets(tokens, index, queries.window_step, holes),
        memory.attend(tokens[index], queries.window_step, holes),
    )


def test_identical_views_go_through_the_rgb_cnn_once() -> None:
    from audio_separation.models.policy import RgbEncoder, unique_frames

    torch.manual_seed(0)
    encoder = RgbEncoder(48, 8)
    frames = torch.randint(0, 256, (4, 48, 48, 3), dtype=torch.uint8)[[0, 1, 0, 2, 3, 1]]  # 4 distinct of 6
    planes = RgbEncoder.prepare(frames)
    unique, inverse = unique_frames(planes)
    assert unique.shape[0] == 4 and torch.equal(unique[inverse], planes)
    assert unique_frames(planes[[0, 1, 3, 4]]) == (None, None)  # all distinct: no grouping
    calls = []
    encoder.cnn.register_forward_hook(lambda module, args, output: calls.append(args[0].shape[0]))
    ours = encoder.encode(planes)
    (grads,) = torch.autograd.grad((ours * torch.arange(8.0)).sum(), encoder.cnn[0].weight)
    plain = encoder.linear(encoder.cnn(planes))
    (expected,) = torch.autograd.grad((plain * torch.arange(8.0)).sum(), encoder.cnn[0].weight)
    assert calls == [4, 6]  # grouped, then the plain pass
    torch.testing.assert_close(ours, plain)
    torch.testing.assert_close(grads, expected, rtol=1e-4, atol=1e-5)
