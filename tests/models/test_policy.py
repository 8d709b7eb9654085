"""The policy's optional interaural features: the level difference has the sign of the louder ear, the
size of the ratio in log-energy units, and the encoder is wired in only when asked for."""

from __future__ import annotations

import math

import pytest
import torch

from audio_separation.common.parameters import count_parameters
from audio_separation.models.policy import ActorCritic, InterauralEncoder


def test_interaural_level_difference_sign_and_scale() -> None:
    encoder = InterauralEncoder(num_freq_bins=64, num_bands=4, out_size=8)
    magnitude = torch.rand(3, 64, 8, 2) + 0.5
    magnitude[0, ..., 0] = magnitude[0, ..., 1] * 2.0  # env 0: left ear 2x the right (+6 dB)
    magnitude[1, ..., 1] = magnitude[1, ..., 0] * 2.0  # env 1: right ear louder
    magnitude[2, ..., 1] = magnitude[2, ..., 0]  # env 2: equal
    features = encoder.features(magnitude)
    difference = features[:, :4]
    assert torch.allclose(difference[0], torch.full((4,), math.log(4.0)), atol=1e-3)  # energy ratio 4
    assert torch.allclose(difference[1], torch.full((4,), -math.log(4.0)), atol=1e-3)
    assert torch.allclose(difference[2], torch.zeros(4), atol=1e-5)
    # negative magnitudes (the separator's mask has no activation) are clamped: no NaN
    assert torch.isfinite(encoder(-magnitude)).all()
    with pytest.raises(ValueError, match="INTERAURAL_BANDS"):
        InterauralEncoder(num_freq_bins=64, num_bands=5, out_size=8)


def test_policy_uses_interaural_features_only_when_asked() -> None:
    plain = ActorCritic(num_freq_bins=64, num_frames=8, hidden_size=16, embedding_size=16, use_rgb=False)
    with_ild = ActorCritic(
        num_freq_bins=64, num_frames=8, hidden_size=16, embedding_size=16, use_rgb=False, interaural_bands=8
    )
    assert plain.interaural_encoder is None and with_ild.interaural_encoder is not None
    assert count_parameters(with_ild) > count_parameters(plain)
    inputs = {"binaural": torch.rand(2, 64, 8, 2), "refined_mono": torch.rand(2, 64, 8)}
    output = with_ild.step(inputs, with_ild.initial_hidden(2))
    assert output.distribution.probs.shape == (2, 3) and output.value.shape == (2,)
    # swapping the ears changes what the interaural policy sees
    swapped = {**inputs, "binaural": inputs["binaural"].flip(-1)}
    assert not torch.equal(with_ild.features(inputs), with_ild.features(swapped))


def test_previous_action_input_is_the_agents_own_last_action() -> None:
    from audio_separation.rl.rollout_storage import RolloutStorage

    storage = RolloutStorage(4, 2, 64, 8, None)
    storage.actions[:] = torch.tensor([[0, 2], [1, 1], [2, 0]])
    assert storage.policy_inputs(0)["previous_action"].tolist() == [0, 0]  # episode start
    assert storage.policy_inputs(2)["previous_action"].tolist() == [2, 2]  # action 1 at step 1, + 1
    assert storage.policy_inputs(slice(0, 3))["previous_action"].tolist() == [[0, 0], [1, 3], [2, 2]]
    policy = ActorCritic(
        num_freq_bins=64, num_frames=8, hidden_size=16, embedding_size=16, use_rgb=False, previous_action_size=4
    )
    inputs = {
        "binaural": torch.rand(2, 64, 8, 2),
        "refined_mono": torch.rand(2, 64, 8),
        "previous_action": torch.tensor([0, 3]),
    }
    changed = {**inputs, "previous_action": torch.tensor([1, 3])}
    features, other = policy.features(inputs), policy.features(changed)
    assert not torch.equal(features[0], other[0]) and torch.equal(features[1], other[1])
