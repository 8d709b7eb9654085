"""The separator U-Nets: paper-size shapes and parameter counts, slicing, conditioning, mask activation."""

from __future__ import annotations

import pytest
import torch

from audio_separation.common.parameters import count_parameters
from audio_separation.models.separators import (
    BinauralSeparator,
    PassiveSeparator,
    slice_frequencies,
    unslice_frequencies,
)

PAPER_PARAMETERS = 16.7e6  # spec "Models": ~16.7 M for each U-Net


def test_paper_size_shapes_and_parameter_counts() -> None:
    model = PassiveSeparator()  # defaults are the paper's sizes
    for name, module in (
        ("binaural_separator", model.binaural_separator),
        ("binaural_to_mono", model.binaural_to_mono),
    ):
        count = count_parameters(module)
        assert abs(count - PAPER_PARAMETERS) / PAPER_PARAMETERS < 0.01, f"{name}: {count} parameters"
    assert abs(count_parameters(model) - 33.5e6) / 33.5e6 < 0.01
    first = model.binaural_separator.unet.encoder[0][0]
    assert (first.in_channels, first.out_channels, first.kernel_size, first.stride, first.bias) == (
        33,
        64,
        (4, 4),
        (2, 2),
        None,
    )
    assert [level[0].out_channels for level in model.binaural_separator.unet.encoder] == [64, 128, 256, 512, 512]
    assert model.binaural_to_mono.unet.encoder[0][0].in_channels == 32
    mixture = torch.log1p(torch.rand(2, 512, 32, 2))
    with torch.no_grad():
        output = model.eval()(mixture, torch.tensor([0, 3]))
    assert output.mask.shape == output.binaural.shape == (2, 512, 32, 2)
    assert output.mono.shape == (2, 512, 32, 1)
    assert output.mono_estimate().shape == (2, 512, 32) and bool((output.mono_estimate() >= 0).all())


def test_width_factor_shrinks_the_model() -> None:
    small = PassiveSeparator(width=0.25)
    assert [level[0].out_channels for level in small.binaural_separator.unet.encoder] == [16, 32, 64, 128, 128]
    assert count_parameters(small) < count_parameters(PassiveSeparator()) / 10


def test_slicing_folds_frequency_squares_into_channels_and_back() -> None:
    spectrogram = torch.randn(3, 512, 32, 2)
    sliced = slice_frequencies(spectrogram)
    assert sliced.shape == (3, 32, 32, 32)
    assert sliced.is_contiguous(memory_format=torch.channels_last)
    for square in (0, 7, 15):
        for ear in (0, 1):
            assert torch.equal(sliced[:, square * 2 + ear], spectrogram[:, square * 32 : (square + 1) * 32, :, ear])
    assert torch.equal(unslice_frequencies(sliced, 2), spectrogram)
    with pytest.raises(ValueError, match="squares"):
        slice_frequencies(torch.randn(1, 500, 32, 2))


def test_target_class_conditions_the_mask() -> None:
    torch.manual_seed(0)
    separator = BinauralSeparator(width=0.125).eval()
    mixture = torch.log1p(torch.rand(1, 512, 32, 2))
    with torch.no_grad():
        first, second = separator(mixture, torch.tensor([0])), separator(mixture, torch.tensor([4]))
    assert not torch.allclose(first, second)


def test_sigmoid_mask_is_bounded_by_the_number_of_sources() -> None:
    torch.manual_seed(0)
    model = PassiveSeparator(width=0.125, mask_activation="sigmoid", num_sources=3).eval()
    with torch.no_grad():
        output = model(torch.log1p(10 * torch.rand(2, 512, 32, 2)), torch.tensor([1, 2]))
    assert float(output.mask.min()) >= 0.0 and float(output.mask.max()) <= 3.0
    with pytest.raises(ValueError, match="mask activation"):
        PassiveSeparator(width=0.125, mask_activation="relu")


def test_mono_network_does_not_backpropagate_into_the_mask() -> None:
    torch.manual_seed(0)
    model = PassiveSeparator(width=0.125)
    output = model(torch.log1p(torch.rand(2, 512, 32, 2)), torch.tensor([0, 1]))
    output.mono.sum().backward()
    assert all(p.grad is None or not p.grad.any() for p in model.binaural_separator.parameters())
    assert any(p.grad is not None and p.grad.any() for p in model.binaural_to_mono.parameters())
