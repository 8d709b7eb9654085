"""NAF models: the paper's sizes and shapes, and that both models' outputs line up with their inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audio_separation.common.parameters import count_parameters
from audio_separation.config import get_config
from audio_separation.naf.model import FourierFeatures, LocalFeatureGrid, build_model


def test_paper_embedding_sizes_and_parameter_count() -> None:
    assert FourierFeatures(10, 7).output_size(4) == 84
    assert FourierFeatures(10, 10).output_size(1) == 21
    model = build_model(get_config(opts=["NAF.MODEL", "pixel"]), (0.0, 0.0, 4.0, 4.0), 4, 256, 100)
    assert model.input_layer.in_features == 254  # grid 128 + positions 84 + freq 21 + time 21
    assert 2.0e6 < count_parameters(model) < 2.4e6  # ~2.2 M in the paper (grid size depends on the scene)


def test_grid_lookup_is_a_gaussian_average_with_clamped_widths() -> None:
    grid = LocalFeatureGrid((0.0, 0.0, 1.0, 1.0), 0.5, 3, 0.1, 0.25, 0.1, 0.5)
    assert grid.points.shape == (9, 2)
    with torch.no_grad():
        grid.features.copy_(torch.arange(9, dtype=torch.float32)[:, None].repeat(1, 3))
        grid.widths.fill_(0.01)  # clamped up to 0.1: a point on a grid node still sees mostly itself
    value = grid(torch.tensor([[0.5, 0.5]]))
    assert value.shape == (1, 3)
    assert value[0, 0].item() == pytest.approx(4.0, abs=1e-3)


@pytest.mark.parametrize("name", ["pixel", "frame"])
def test_spectrogram_shapes(name: str) -> None:
    config = get_config(opts=["NAF.MODEL", name, "NAF.HIDDEN", "16", "NAF.NUM_BLOCKS", "2", "NAF.SKIP_AFTER", "1"])
    model = build_model(config, (0.0, 0.0, 3.0, 2.0), 4, 256, 12)
    listener, emitter = torch.rand(3, 2), torch.rand(3, 2)
    heading = torch.tensor([0, 1, 3])
    with torch.no_grad():
        spectrogram = model.predict_spectrogram(listener, emitter, heading, 10)
        features = model.hidden_features(listener, emitter, heading, 10)
    assert spectrogram.shape == (3, 2, 256, 10)
    assert features.shape == (3, 16)
    if name == "pixel":  # predict_spectrogram puts pixel (t, f, ear) where forward computed it
        with torch.no_grad():
            pixel = model(listener, emitter, heading, torch.tensor([[4]] * 3), torch.tensor([[100]] * 3))
        np.testing.assert_allclose(pixel[:, 0].numpy(), spectrogram[:, :, 100, 4].numpy(), atol=1e-5)
