"""scripts/build_world.py's options reach build_world: the binaural model, real recordings, resume rules."""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import build_world as build_world_script  # noqa: E402


def _capture(monkeypatch) -> list[dict]:
    calls: list[dict] = []

    def fake_build_world(output_dir, **kwargs):
        calls.append({"output_dir": output_dir, **kwargs})
        return {"preset": kwargs["preset"]}

    monkeypatch.setattr(build_world_script, "build_world", fake_build_world)
    monkeypatch.setattr(build_world_script, "world_summary", lambda report: "summary")
    return calls


def test_binaural_model_flag_sets_the_config(monkeypatch, tmp_path):
    calls = _capture(monkeypatch)
    for model in ("kemar", "sphere"):
        out = str(tmp_path / model)
        assert build_world_script.main(["--preset", "tiny", "--output-dir", out, "--binaural-model", model]) == 0
        assert calls[-1]["config"].WORLD.BINAURAL_MODEL == model
    assert build_world_script.main(["--preset", "tiny", "--output-dir", str(tmp_path / "default")]) == 0
    from audio_separation.config.default import get_default_config

    assert calls[-1]["config"].WORLD.BINAURAL_MODEL == get_default_config().WORLD.BINAURAL_MODEL


def test_sounds_from_and_distractors_are_passed_on(monkeypatch, tmp_path):
    calls = _capture(monkeypatch)
    argv = ["--preset", "tiny", "--output-dir", str(tmp_path / "w"), "--sounds-from", "recordings"]
    assert build_world_script.main([*argv, "--distractor-classes", "traffic", "rain"]) == 0
    assert calls[-1]["sounds_from"] == "recordings" and calls[-1]["distractor_classes"] == ("traffic", "rain")


def test_resume_only_for_resumable_presets_and_a_full_folder_needs_a_flag(monkeypatch, tmp_path, capsys):
    calls = _capture(monkeypatch)
    full = tmp_path / "full"
    full.mkdir()
    (full / "something").write_text("x")
    assert build_world_script.main(["--preset", "benchmark", "--output-dir", str(full)]) == 2
    assert build_world_script.main(["--preset", "default", "--output-dir", str(full), "--resume"]) == 2
    assert "rebuilt whole" in capsys.readouterr().err
    assert calls == []
    assert build_world_script.main(["--preset", "benchmark", "--output-dir", str(full), "--resume"]) == 0
    assert calls[-1]["preset"] == "benchmark"
