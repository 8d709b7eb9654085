"""NAF data: HDF5 round trip against the world's RIRs, a deterministic saved split, stats."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest

from audio_separation.config import get_config
from audio_separation.naf.data import (
    NafAudioParams,
    NafDataError,
    ensure_scene_data,
    item_key,
    load_scene_data,
    logmag_of_waveform,
    make_split,
    scene_data_dir,
)
from audio_separation.world.soundspaces import HEADINGS, SoundSpacesLayout, azimuth_of_heading, read_rir
from tests.naf.conftest import naf_opts


def test_hdf5_round_trip_matches_the_world_rirs(naf_config, naf_scene) -> None:
    layout = SoundSpacesLayout(naf_config.WORLD.DATA_ROOT, naf_config.WORLD.DATASET)
    nodes = naf_scene.nodes
    assert len(naf_scene.keys) == len(HEADINGS) * len(nodes) ** 2
    params = NafAudioParams.from_config(naf_config)
    assert naf_scene.num_freq_bins == params.n_fft // 2 == 256
    for heading, listener, emitter in [(0, nodes[0], nodes[-1]), (270, nodes[-1], nodes[1])]:
        index = naf_scene.keys.index(item_key(heading, listener, emitter))
        rir = read_rir(
            layout.rir_path(naf_config.NAF.SCENE, azimuth_of_heading(heading), listener, emitter), params.sample_rate
        )
        expected = logmag_of_waveform(rir.T, params)
        stored = naf_scene.item_logmag(index)
        assert stored.shape == expected.shape
        np.testing.assert_allclose(stored, expected, atol=1e-2)  # fp16 storage
        np.testing.assert_allclose(
            naf_scene.waveform(index), rir.T[:, : naf_scene.waveform(index).shape[-1]], atol=1e-7
        )
    with h5py.File(naf_scene.path, "r") as handle:
        assert handle.attrs["sample_rate"] == 16000 and handle.attrs["hop_length"] == 128
        assert handle["logmag"][naf_scene.keys[0]].dtype == np.float16


def test_split_is_seeded_saved_and_reused(naf_config, naf_scene) -> None:
    keys = naf_scene.keys
    train, test = make_split(keys, 0.9, seed=0)
    assert (train, test) == make_split(list(reversed(keys)), 0.9, seed=0)
    assert make_split(keys, 0.9, seed=1) != (train, test)
    assert not set(train) & set(test) and sorted(train + test) == sorted(keys)
    assert len(train) == round(0.9 * len(keys))
    split_path = os.path.join(scene_data_dir(naf_config), "split.json")
    before = open(split_path).read()
    ensure_scene_data(naf_config, progress=False)  # a second call reuses the saved split
    assert open(split_path).read() == before
    assert json.loads(before)["test"] == sorted(naf_scene.keys[i] for i in naf_scene.test_indices)
    assert naf_scene.mean.shape == naf_scene.std.shape == (256, naf_scene.max_len)
    assert naf_scene.std.min() >= naf_config.NAF.STD_OFFSET - 1e-6


def test_missing_files_name_the_path(tiny_world, tmp_path) -> None:
    config = get_config(opts=naf_opts(tiny_world[0], str(tmp_path)))
    with pytest.raises(NafDataError, match="logmag.h5"):
        load_scene_data(config)
