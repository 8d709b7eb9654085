"""The passive dataset: item layout, draws (fresh for train, fixed for val), clip pools, and mixing that
matches an independent scipy rendering (mixture = MEAN of sources, GT binaural = the target's own)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from audio_separation.audio.stft import StftParams, stft
from audio_separation.pretrain.dataset import EpochSampler, PassiveDataset
from audio_separation.world.soundspaces import (
    SoundSpacesLayout,
    WorldDataError,
    azimuth_of_heading,
    read_passive,
    read_rir,
    read_sound,
    read_sound_classes,
    sound_class,
)


def _dataset(config, split: str, seed: int = 0, **kwargs) -> PassiveDataset:
    return PassiveDataset(
        config, SoundSpacesLayout(config.WORLD.DATA_ROOT, config.WORLD.DATASET), split, seed, **kwargs
    )


def test_item_layout(passive_config) -> None:
    item = _dataset(passive_config(), "train")[(0, 0, 3)]
    assert item["mixed_binaural_magnitude"].shape == item["gt_binaural_magnitude"].shape == (512, 32, 2)
    assert item["gt_mono_magnitude"].shape == item["gt_mono_phase"].shape == (512, 32, 1)
    assert all(item[key].dtype == np.float32 for key in item if key != "target_class")
    assert item["target_class"].dtype == np.int64
    rms = np.sqrt(np.mean(item["gt_mono_magnitude"] ** 2))
    assert rms == pytest.approx(1.2, rel=1e-4)  # AUDIO.TARGET_MONO_RMS


def test_draw_rules_and_pools(passive_config) -> None:
    config = passive_config()
    layout = SoundSpacesLayout(config.WORLD.DATA_ROOT, config.WORLD.DATASET)
    classes = read_sound_classes(layout)["classes"]
    eligible = {entry["name"] for entry in classes if entry["target"]}
    labels = {entry["name"]: entry["label"] for entry in classes}
    for split, folder in (("train", "heard"), ("val", "heard"), ("nonoverlapping_val", "unheard")):
        dataset = _dataset(config, split)
        keys = [(0, p, p % len(dataset.datapoints)) for p in range(20)] if split == "train" else range(len(dataset))
        for key in keys:
            datapoint, draw = dataset.resolve(key)
            names = [sound_class(path) for path in draw.clip_paths]
            assert names[0] in eligible and draw.target_label == labels[names[0]]
            assert all(name != names[0] for name in names[1:])
            assert all(f"/{folder}/" in path for path in draw.clip_paths)
            assert all(0 <= second < 20 for second in draw.clip_seconds)


def test_train_draws_change_per_epoch_and_val_draws_are_fixed(passive_config) -> None:
    config = passive_config()
    train = _dataset(config, "train")
    draws = {train.resolve((epoch, 0, 0))[1] for epoch in range(6)}
    assert len(draws) > 1
    assert train.resolve((2, 5, 1)) == _dataset(config, "train").resolve((2, 5, 1))  # no hidden state
    val = _dataset(config, "val", seed=7)
    assert val.resolve(3) == _dataset(config, "val", seed=7).resolve(3)
    assert val.resolve(3) != _dataset(config, "val", seed=8).resolve(3)
    doubled = _dataset(config, "val", seed=7, draws_per_datapoint=2)
    assert len(doubled) == 2 * len(val)
    assert doubled.resolve(3)[0] == doubled.resolve(3 + len(val))[0]


def test_epoch_sampler_covers_datapoints_and_is_seeded() -> None:
    sampler = EpochSampler(num_datapoints=5, items_per_epoch=12, seed=3)
    sampler.set_epoch(4)
    keys = list(sampler)
    assert len(keys) == len(sampler) == 12
    assert [k[1] for k in keys] == list(range(12)) and {k[0] for k in keys} == {4}
    assert sorted(k[2] for k in keys[:5]) == list(range(5))  # each pass is a permutation
    assert keys == list(sampler)
    sampler.set_epoch(5)
    assert [k[2] for k in sampler] != [k[2] for k in keys]


@pytest.mark.parametrize("crop", ["causal", "same"])
def test_mixture_matches_an_independent_rendering(passive_config, crop: str) -> None:
    """scipy's full convolution of each source cropped as AUDIO.CONVOLUTION_CROP says, MEAN over sources
    -> the model input; the target's own (undivided) binaural signal -> the binaural ground truth."""
    config = passive_config(None, "AUDIO.CONVOLUTION_CROP", crop)
    dataset = _dataset(config, "val")
    datapoint, draw = dataset.resolve(2)
    layout = dataset.layout
    raw = read_passive(layout, "v1", "val", datapoint.scene)
    assert (
        datapoint.heading == (-raw[2]["azimuth"]) % 360 and azimuth_of_heading(datapoint.heading) == raw[2]["azimuth"]
    )
    binaural = []
    for path, second, node in zip(draw.clip_paths, draw.clip_seconds, datapoint.source_nodes):
        chunk = read_sound(path, 16000)[second * 16000 : (second + 1) * 16000]
        rir = read_rir(
            layout.rir_path(datapoint.scene, azimuth_of_heading(datapoint.heading), datapoint.receiver, node), 16000
        )
        start = 0 if crop == "causal" else (rir.shape[0] - 1) // 2  # "same": scipy's centred crop
        full = [scipy.signal.fftconvolve(chunk, rir[:, ear], mode="full") for ear in range(2)]
        binaural.append(np.stack([signal[start : start + 16000] for signal in full]))
    params = StftParams.from_config(config.AUDIO)
    expected_mixture = np.abs(stft(np.mean(binaural, axis=0).astype(np.float32), params)).transpose(1, 2, 0)
    expected_target = np.abs(stft(binaural[0].astype(np.float32), params)).transpose(1, 2, 0)
    item = dataset[2]
    scale = expected_target.max()
    np.testing.assert_allclose(np.expm1(item["mixed_binaural_magnitude"]), expected_mixture, atol=1e-4 * scale)
    np.testing.assert_allclose(item["gt_binaural_magnitude"], expected_target, atol=1e-4 * scale)


def test_sources_count_must_match_the_config(passive_config) -> None:
    with pytest.raises(WorldDataError, match="NUM_SOUNDS_IN_MIX"):
        _dataset(passive_config(None, "TASK.NUM_SOUNDS_IN_MIX", "3"), "train")
