"""The procedural sound bank: layout, classes.json, clip properties, determinism, distinct speakers."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf

from audio_separation.world.sound_bank import SOUND_BANK_PRESETS, build_sound_bank

SAMPLE_RATE = 16000
CLIP_SECONDS = 20.0


@pytest.fixture(scope="module")
def tiny_bank(tmp_path_factory) -> tuple[str, dict]:
    output_dir = str(tmp_path_factory.mktemp("sound_bank_tiny"))
    content = build_sound_bank(output_dir, preset="tiny", seed=0, progress=False)
    return output_dir, content


def _read(output_dir: str, pool: str, name: str) -> np.ndarray:
    data, rate = sf.read(os.path.join(output_dir, pool, name), dtype="float64", always_2d=True)
    assert rate == SAMPLE_RATE
    assert data.shape[1] == 1, f"{name} is not mono"
    return data[:, 0]


def _tree_bytes(output_dir: str) -> dict[str, bytes]:
    files = {}
    for pool in ("heard", "unheard"):
        for name in sorted(os.listdir(os.path.join(output_dir, pool))):
            with open(os.path.join(output_dir, pool, name), "rb") as handle:
                files[f"{pool}/{name}"] = handle.read()
    return files


def test_presets_document_their_sizes():
    assert SOUND_BANK_PRESETS["tiny"]["speakers"] == 2
    assert SOUND_BANK_PRESETS["default"]["speakers"] == 6
    assert SOUND_BANK_PRESETS["default"]["heard_clips_per_class"] == 3
    assert SOUND_BANK_PRESETS["default"]["unheard_clips_per_class"] == 2


def test_classes_json_is_consistent(tiny_bank):
    output_dir, content = tiny_bank
    with open(os.path.join(output_dir, "classes.json")) as handle:
        assert json.load(handle) == content
    classes = content["classes"]
    assert content["sample_rate"] == SAMPLE_RATE
    assert [entry["label"] for entry in classes] == list(range(len(classes)))
    names = [entry["name"] for entry in classes]
    assert len(set(names)) == len(names)
    kinds = {entry["name"]: entry["kind"] for entry in classes}
    assert sorted(name for name, kind in kinds.items() if kind == "speech") == ["speaker0", "speaker1"]
    assert any(kind == "music" for kind in kinds.values())
    assert "noiseanimal" in kinds and "noisehum" in kinds
    for entry in classes:
        assert entry["target"] == (entry["kind"] != "noise"), entry
        assert "_" not in entry["name"]
    for pool in ("heard", "unheard"):
        listed = content[pool]
        assert listed == sorted(os.listdir(os.path.join(output_dir, pool)))
        assert sorted(name.rsplit("_", 1)[0] for name in listed) == sorted(names)  # one clip per class per pool
    assert not set(content["heard"]) & set(content["unheard"])  # clip ids are unique across pools


def test_clips_are_mono_16k_long_and_normalised(tiny_bank):
    output_dir, content = tiny_bank
    for pool in ("heard", "unheard"):
        for name in content[pool]:
            info = sf.info(os.path.join(output_dir, pool, name))
            assert info.subtype == "PCM_16"
            clip = _read(output_dir, pool, name)
            assert clip.shape[0] >= CLIP_SECONDS * SAMPLE_RATE, name
            assert 0.65 < np.max(np.abs(clip)) < 0.75, name


def test_heard_and_unheard_clips_differ(tiny_bank):
    output_dir, content = tiny_bank
    unheard_by_class = {name.rsplit("_", 1)[0]: name for name in content["unheard"]}
    for heard_name in content["heard"]:
        unheard_name = unheard_by_class[heard_name.rsplit("_", 1)[0]]
        heard, unheard = _read(output_dir, "heard", heard_name), _read(output_dir, "unheard", unheard_name)
        length = min(heard.shape[0], unheard.shape[0])
        correlation = np.corrcoef(heard[:length], unheard[:length])[0, 1]
        assert abs(correlation) < 0.5, f"{heard_name} and {unheard_name} look like the same clip"


def test_target_clips_have_sound_in_every_second(tiny_bank):
    output_dir, content = tiny_bank
    targets = {entry["name"] for entry in content["classes"] if entry["target"]}
    for pool in ("heard", "unheard"):
        for name in content[pool]:
            if name.rsplit("_", 1)[0] not in targets:
                continue
            clip = _read(output_dir, pool, name)
            seconds = clip.shape[0] // SAMPLE_RATE
            chunk_rms = np.sqrt(np.mean(clip[: seconds * SAMPLE_RATE].reshape(seconds, SAMPLE_RATE) ** 2, axis=1))
            assert chunk_rms.min() > 1e-3, f"{pool}/{name} has a silent second at {int(chunk_rms.argmin())} s"


def _median_pitch(clip: np.ndarray) -> float:
    import librosa

    f0 = librosa.yin(clip.astype(np.float32), fmin=60, fmax=400, sr=SAMPLE_RATE, frame_length=1024)
    return float(np.median(f0))


def test_speakers_are_distinct(tiny_bank):
    output_dir, content = tiny_bank
    speakers = [entry["name"] for entry in content["classes"] if entry["kind"] == "speech"]
    pitches = {}
    for speaker in speakers:
        clips = [
            _read(output_dir, pool, name)
            for pool in ("heard", "unheard")
            for name in content[pool]
            if name.rsplit("_", 1)[0] == speaker
        ]
        values = [_median_pitch(clip) for clip in clips]
        assert max(values) / min(values) < 1.1, f"{speaker} changes pitch between clips: {values}"  # same identity
        pitches[speaker] = float(np.mean(values))
    ordered = sorted(pitches.values())
    for lower, higher in zip(ordered, ordered[1:]):
        assert higher / lower > 1.15, f"speakers too similar in pitch: {pitches}"


def test_same_seed_is_byte_identical_and_other_seed_differs(tiny_bank, tmp_path):
    output_dir, content = tiny_bank
    again = build_sound_bank(str(tmp_path / "again"), preset="tiny", seed=0, progress=False)
    assert again == content
    assert _tree_bytes(str(tmp_path / "again")) == _tree_bytes(output_dir)
    build_sound_bank(str(tmp_path / "other"), preset="tiny", seed=1, progress=False)
    reference, other = _tree_bytes(output_dir), _tree_bytes(str(tmp_path / "other"))
    assert reference.keys() == other.keys()
    for key in reference:
        assert reference[key] != other[key], f"{key} is the same for seeds 0 and 1"


def test_rebuild_removes_stale_clips(tmp_path):
    output_dir = str(tmp_path / "bank")
    os.makedirs(os.path.join(output_dir, "heard"))
    stale = os.path.join(output_dir, "heard", "speaker5_7.wav")
    sf.write(stale, np.zeros(10), SAMPLE_RATE)
    build_sound_bank(output_dir, preset="tiny", seed=0, clip_seconds=2.0, progress=False)
    assert not os.path.exists(stale)


def test_bad_arguments_fail_loudly(tmp_path):
    with pytest.raises(ValueError, match="unknown sound bank preset"):
        build_sound_bank(str(tmp_path), preset="huge", progress=False)
    with pytest.raises(ValueError, match="clip_seconds"):
        build_sound_bank(str(tmp_path), preset="tiny", clip_seconds=0.0, progress=False)
