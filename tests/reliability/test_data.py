"""Fault suite, broken world data: NaN/Inf, truncation, silence and corrupt files are errors naming the
file when read (never silently zero-padded or trained on). Works on a private copy of the tiny world."""

from __future__ import annotations

import io
import logging
import os

import numpy as np
import pytest
import soundfile as sf

from audio_separation.config import get_config
from audio_separation.naf.data import build_scene_hdf5
from audio_separation.pretrain.dataset import PassiveDataset
from audio_separation.run_context import build_run_context
from audio_separation.world.soundspaces import (
    NonFiniteDataError,
    SilentClipError,
    SoundSpacesLayout,
    TruncatedFileError,
    WorldDataError,
    azimuth_of_heading,
    load_packed_cache,
    read_passive,
    read_rir,
    read_sound,
    write_rir,
)
from audio_separation.world_stage import WorldCheckError, WorldTrainer
from tests.reliability.conftest import replace_file

SCENE = "apartment_00"
HEADINGS = [0, 90, 180, 270]


def _layout(root: str) -> SoundSpacesLayout:
    return SoundSpacesLayout(root, "procedural")


def _wav_bytes(data: np.ndarray, rate: int = 16000, subtype: str = "FLOAT") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, data, rate, subtype=subtype, format="WAV")
    return buffer.getvalue()


def _first_rir_path(layout: SoundSpacesLayout) -> tuple[str, int, int]:
    import json

    with open(os.path.join(layout.packed_cache_dir(SCENE), "index.json")) as handle:
        nodes = json.load(handle)["nodes"]
    return layout.rir_path(SCENE, azimuth_of_heading(0), nodes[0], nodes[1]), nodes[0], nodes[1]


def test_nan_and_truncated_rir_wavs_name_the_file(tmp_path) -> None:
    path = str(tmp_path / "0_1.wav")
    rir = np.zeros((8000, 2), dtype=np.float32)
    rir[10] = 1.0
    write_rir(path, rir, 16000)
    assert read_rir(path, 16000).shape == (8000, 2)
    with open(path, "rb") as handle:
        payload = handle.read()
    replace_file(path, payload[: len(payload) - (8000 - 790) * 8])  # 790 of 8000 frames
    with pytest.raises(TruncatedFileError, match=r"0_1\.wav: truncated: holds 790 of the 8000 frames"):
        read_rir(path, 16000)
    rir[5, 1] = np.nan
    replace_file(path, _wav_bytes(rir))
    with pytest.raises(NonFiniteDataError, match=r"0_1\.wav: the RIR holds 1 NaN/Inf value"):
        read_rir(path, 16000)


def test_nan_rir_in_a_world_stops_the_packed_cache_build(world_copy) -> None:
    layout = _layout(world_copy)
    path, _, _ = _first_rir_path(layout)
    rir = read_rir(path, 16000).copy()
    rir[3, 0] = np.inf
    replace_file(path, _wav_bytes(rir))
    os.unlink(os.path.join(layout.packed_cache_dir(SCENE), "index.json"))  # the cache is rebuilt from the wavs
    with pytest.raises(NonFiniteDataError, match=os.path.basename(path)):
        load_packed_cache(layout, SCENE, HEADINGS, 16000)


def _nan_packed_cache(layout: SoundSpacesLayout) -> None:
    array_path = os.path.join(layout.packed_cache_dir(SCENE), "rirs.npy")
    rirs = np.load(array_path)
    rirs[0, 0, 1, 7, 0] = np.nan  # one RIR of 4 x nodes x nodes
    buffer = io.BytesIO()
    np.save(buffer, rirs)
    replace_file(array_path, buffer.getvalue())


def test_nan_in_the_packed_cache_fails_the_world_check_passive_and_naf(world_copy, tmp_path, passive_config) -> None:
    layout = _layout(world_copy)
    _nan_packed_cache(layout)
    _, receiver, source = _first_rir_path(layout)
    packed = load_packed_cache(layout, SCENE, HEADINGS, 16000)
    with pytest.raises(NonFiniteDataError, match=rf"rirs\.npy \[receiver {receiver}, source {source}, heading 0\]"):
        packed.get(receiver, source, 0)
    config = get_config(opts=["WORLD.DATA_ROOT", world_copy], model_dir=str(tmp_path / "check"), run_type="eval")
    os.makedirs(tmp_path / "check")
    with pytest.raises(WorldCheckError, match=rf"{SCENE}: 1 RIRs hold NaN or Inf"):
        WorldTrainer(build_run_context(config)).eval()  # the world check reports every failing scene
    naf = get_config(opts=["WORLD.DATA_ROOT", world_copy, "NAF.SCENE", SCENE, "NAF.DATA_DIR", str(tmp_path / "naf")])
    with pytest.raises(NonFiniteDataError, match=r"rirs\.npy \[receiver \d+, source \d+, heading \d+\]"):
        build_scene_hdf5(naf, progress=False)
    assert not os.path.exists(tmp_path / "naf" / "procedural" / SCENE / "logmag.h5")


def test_truncated_rirs_npy_names_the_cache(world_copy) -> None:
    layout = _layout(world_copy)
    array_path = os.path.join(layout.packed_cache_dir(SCENE), "rirs.npy")
    with open(array_path, "rb") as handle:
        payload = handle.read(100_000)
    replace_file(array_path, payload)
    with pytest.raises(TruncatedFileError, match=r"rirs\.npy: cannot be memory-mapped .*delete"):
        load_packed_cache(layout, SCENE, HEADINGS, 16000)


def test_corrupt_passive_pkl_names_the_file(world_copy) -> None:
    layout = _layout(world_copy)
    path = layout.passive_path("v1", "train", SCENE)
    replace_file(path, b"\x80\x04garbage")
    with pytest.raises(WorldDataError, match=rf"{SCENE}\.pkl: cannot unpickle passive datapoints"):
        read_passive(layout, "v1", "train", SCENE)


def test_clips_with_nan_truncation_or_silence_name_the_file(tmp_path) -> None:
    path = str(tmp_path / "speech_0.wav")
    clip = (0.1 * np.sin(np.arange(16000 * 3) / 5.0)).astype(np.float32)
    replace_file(path, _wav_bytes(clip, subtype="PCM_16"))
    assert read_sound(path, 16000).shape == (48000,)
    with open(path, "rb") as handle:
        payload = handle.read()
    replace_file(path, payload[:20000])
    with pytest.raises(TruncatedFileError, match=r"speech_0\.wav: truncated"):
        read_sound(path, 16000)
    broken = clip.copy()
    broken[100] = np.nan
    replace_file(path, _wav_bytes(broken))
    with pytest.raises(NonFiniteDataError, match=r"speech_0\.wav: the clip holds 1 NaN"):
        read_sound(path, 16000)
    replace_file(path, _wav_bytes(np.zeros(48000, dtype=np.float32)))
    with pytest.raises(SilentClipError, match=r"speech_0\.wav: the clip is all silence"):
        read_sound(path, 16000)


def test_clips_shorter_than_an_episode_are_left_out_of_passive_with_a_warning(
    world_copy, passive_config, caplog
) -> None:
    layout = _layout(world_copy)
    folder = os.path.join(layout.sounds_dir(), "heard")
    name = sorted(os.listdir(folder))[0]
    clip = read_sound(os.path.join(folder, name), 16000)
    replace_file(os.path.join(folder, name), _wav_bytes(clip[: 3 * 16000]))  # a 3-s clip
    config = passive_config(None, root=world_copy)
    logger = logging.getLogger("audio_separation")
    logger.addHandler(caplog.handler)
    try:
        dataset = PassiveDataset(config, layout, "train", seed=0)
    finally:
        logger.removeHandler(caplog.handler)
    assert all(name not in clips for clips in dataset.pool.clips_by_class.values())
    assert "shorter than 20 s are left out" in caplog.text


def test_episode_clips_shorter_than_an_episode_are_named(world_copy) -> None:
    from audio_separation.world.episodes import short_episode_clips

    layout = _layout(world_copy)
    assert short_episode_clips(layout, "v1", "train", 20) == []
    folder = os.path.join(layout.sounds_dir(), "heard")
    name = sorted(os.listdir(folder))[0]
    clip = read_sound(os.path.join(folder, name), 16000)
    replace_file(os.path.join(folder, name), _wav_bytes(clip[: 5 * 16000]))  # a 5-s clip in 20-step episodes
    short = short_episode_clips(layout, "v1", "train", 20)
    assert short == [(os.path.join(folder, name), 5)]  # the RL trainer logs these before training
