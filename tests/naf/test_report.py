"""NAF eval's index.html: audio players for a few held-out pairs, wavs of the expected length, pictures."""

from __future__ import annotations

import dataclasses
import os
import re

import numpy as np
import soundfile

from audio_separation.config import get_config
from audio_separation.naf.trainer import NafTrainer
from tests.naf.conftest import naf_opts


def test_eval_writes_a_page_to_listen_and_look(naf_config, naf_scene, tmp_path) -> None:
    root, data_dir = naf_config.WORLD.DATA_ROOT, naf_config.NAF.DATA_DIR
    model_dir = str(tmp_path / "report")
    NafTrainer.from_config(
        get_config(opts=naf_opts(root, data_dir, "NAF.MAX_TRAIN_SECONDS", "1e-6"), model_dir=model_dir)
    ).train()
    pairs, seconds, phases = 2, 0.5, ["random", "minimum"]
    result = NafTrainer.from_config(
        get_config(
            opts=naf_opts(
                root,
                data_dir,
                "NAF.REPORT_PAIRS",
                str(pairs),
                "NAF.REPORT_SECONDS",
                str(seconds),
                "NAF.PHASE_METHODS",
                str(phases),
                "NAF.EVAL_PLOTS",
                "True",
                "NAF.VIS_RESOLUTION",
                "0.5",
            ),
            model_dir=model_dir,
            run_type="eval",
        )
    ).eval()
    page = open(os.path.join(model_dir, "eval", "index.html")).read()
    per_pair = 1 + len(phases) + 1  # ground truth, NAF per phase method, nearest
    assert len(re.findall(r"<audio\b", page)) == 1 + pairs * per_pair  # + the dry clip
    for picture in ("loudness.png", "tsne.png", "wall_probe.png"):
        assert f"src='{picture}'" in page
    rate = naf_scene.params.sample_rate
    expected = int(round(seconds * rate)) + (naf_scene.max_len - 1) * naf_scene.params.hop_length - 1
    sources = re.findall(r"<audio[^>]*src='([^']+)'", page)
    assert len(set(sources)) == len(sources)
    for source in sources:
        signal, file_rate = soundfile.read(os.path.join(model_dir, "eval", source), always_2d=True)
        assert file_rate == rate and np.all(np.isfinite(signal)) and np.abs(signal).max() > 0
        assert signal.shape == ((int(round(seconds * rate)), 1) if source.endswith("dry.wav") else (expected, 2))
    assert len(result["report"]["pairs"]) == pairs
    for pair in result["report"]["pairs"]:
        for name in ("spectrogram", "decay"):
            assert f"src='{pair['files'][name]}'" in page
            assert os.path.getsize(os.path.join(model_dir, "eval", pair["files"][name])) > 1000


def test_without_a_sound_bank_the_page_plays_the_rirs(naf_config, naf_scene, tmp_path) -> None:
    from audio_separation.naf.report import ReportSettings, write_eval_report
    from audio_separation.world.soundspaces import SoundSpacesLayout

    settings = dataclasses.replace(ReportSettings.from_config(naf_config), pairs=1, phase_methods=("random",))
    indices = naf_scene.test_indices[:3]
    truths = [naf_scene.item_logmag(i) for i in indices]  # stand-in predictions: no model needed here
    written = write_eval_report(
        str(tmp_path), naf_scene, indices, truths, {}, SoundSpacesLayout(str(tmp_path / "no_world"), "x"), settings
    )
    page = open(written["index"]).read()
    assert written["dry_clip"] is None and "no sound bank" in page
    sources = re.findall(r"<audio[^>]*src='([^']+)'", page)
    assert len(sources) == 3  # ground truth, NAF (random phase), nearest
    for source in sources:
        signal, _ = soundfile.read(os.path.join(tmp_path, source), always_2d=True)
        assert signal.shape == ((naf_scene.max_len - 1) * naf_scene.params.hop_length, 2)
