"""scripts/import_sounds.py: a folder of audio files -> the sound bank layout."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
import soundfile as sf

from audio_separation.world.import_sounds import ShortClipError, import_sounds
from audio_separation.world.soundspaces import SoundSpacesLayout, read_sound, read_sound_classes

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))


def tone(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    samples = 0.2 * np.sin(2 * np.pi * 330 * np.arange(int(seconds * rate)) / rate).astype(np.float32)
    return np.stack([samples] * channels, axis=1) if channels > 1 else samples


@pytest.fixture
def source(tmp_path):
    folder = tmp_path / "my_sounds"
    (folder / "bird").mkdir(parents=True)
    sf.write(folder / "bird" / "a.flac", tone(21, 16000), 16000)
    sf.write(folder / "bird" / "b.ogg", tone(22, 22050), 22050)
    sf.write(folder / "bird" / "c.wav", tone(21, 44100, channels=2), 44100)  # stereo, 44.1 kHz
    sf.write(folder / "cello_take1.wav", tone(25, 16000), 16000)
    sf.write(folder / "cello_take2.wav", tone(23, 48000), 48000)
    sf.write(folder / "hum_x.wav", tone(20.5, 16000), 16000)
    sf.write(folder / "hum_short.wav", tone(3, 16000), 16000)  # shorter than an episode
    return str(folder)


def test_short_clips_are_refused_or_listed(source, tmp_path) -> None:
    with pytest.raises(ShortClipError, match=r"hum_short\.wav \(3\.0 s\)"):
        import_sounds(source, str(tmp_path / "world"), 16000)
    result = import_sounds(source, str(tmp_path / "world"), 16000, skip_short=True, distractor_classes=("hum",))
    assert [entry.split(" ")[0].endswith("hum_short.wav") for entry in result["too_short"]] == [True]


def test_import_writes_mono_clips_at_the_rir_rate_and_classes_json(source, tmp_path) -> None:
    from import_sounds import main  # scripts/import_sounds.py

    root = str(tmp_path / "world")
    assert main([source, "--world", root, "--distractor-classes", "hum", "--skip-short", "--seed", "3"]) == 0
    layout = SoundSpacesLayout(root, "mp3d")
    classes = read_sound_classes(layout)
    assert [(c["name"], c["target"], c["label"]) for c in classes["classes"]] == [
        ("bird", True, 0),
        ("cello", True, 1),
        ("hum", False, 2),
    ]
    assert classes["sample_rate"] == 16000
    assert len(classes["heard"]) + len(classes["unheard"]) == 6
    assert {name.rsplit("_", 1)[0] for name in classes["unheard"]} <= {"bird", "cello"}  # one-clip hum: heard
    for pool in ("heard", "unheard"):
        for name in classes[pool]:
            clip = read_sound(os.path.join(root, "sounds", pool, name), 16000)  # mono, 16 kHz (checked)
            assert clip.shape[0] >= 20 * 16000
    # the split depends on the seed only
    again = import_sounds(source, str(tmp_path / "again"), 16000, ("hum",), seed=3, skip_short=True)
    assert (
        again["unheard"] == classes["unheard"] and again["imported_from"]["clips"] == classes["imported_from"]["clips"]
    )
    converted = json.dumps(again["converted"])
    assert "2 channels averaged to mono" in converted and "44100 Hz resampled to 16000 Hz" in converted
