"""The world's sound bank from real recordings (world/sound_source.py) instead of the synthetic bank."""

from __future__ import annotations

import json

import numpy as np
import soundfile as sf

from audio_separation.world.sound_source import write_world_sounds


def test_recordings_replace_the_synthetic_bank(tmp_path):
    source = tmp_path / "recordings"
    rng = np.random.default_rng(0)
    for name in ("voice", "drums", "traffic"):
        (source / name).mkdir(parents=True)
        for index in range(4):
            sf.write(source / name / f"take{index}.wav", 0.1 * rng.standard_normal(16000 * 21), 16000)
    sounds = tmp_path / "world" / "sounds"
    content = write_world_sounds(
        str(sounds), "tiny", seed=0, sample_rate=16000, sounds_from=str(source), distractor_classes=("traffic",)
    )
    written = json.loads((sounds / "classes.json").read_text())
    assert written["classes"] == content["classes"]
    targets = {entry["name"]: entry["target"] for entry in written["classes"]}
    assert targets == {"drums": True, "traffic": False, "voice": True}
    clips = written["heard"] + written["unheard"]
    assert len(clips) == 12 and all(
        (sounds / pool / name).exists() for pool in ("heard", "unheard") for name in written[pool]
    )
    assert not any(name.startswith("speaker") for name in clips)  # nothing synthetic


def test_without_recordings_the_preset_bank_is_built(tmp_path):
    content = write_world_sounds(str(tmp_path / "sounds"), "tiny", seed=0, sample_rate=16000, progress=False)
    assert content["preset"] == "tiny" and any(entry["name"] == "speaker0" for entry in content["classes"])
