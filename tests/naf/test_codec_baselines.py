"""The paper's codec baselines on a slice of the tiny scene: training RIRs coded once, then interpolated."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from audio_separation.naf.baseline_scores import METHODS, baseline_predictions, score_baselines
from audio_separation.naf.baselines import CODECS, codec_roundtrip, fit_frames
from audio_separation.naf.codec_baselines import CODEC_INTERPOLATIONS, CodecCache, codec_interpolation_predictions
from audio_separation.naf.data import logmag_of_waveform
from audio_separation.naf.evaluate import score_paper_protocol

CODECS_INSTALLED = all(shutil.which(tool) for tool in ("opusenc", "opusdec", "ffmpeg"))
pytestmark = pytest.mark.skipif(not CODECS_INSTALLED, reason="opus-tools / ffmpeg not installed")


@pytest.fixture(scope="module")
def small_scene(naf_scene):
    """Heading 0 only, 16 training and 3 test items: every codec call is a subprocess, so keep it small."""
    heading = naf_scene.heading_index
    train = naf_scene.train_indices[heading[naf_scene.train_indices] == 0][:16]
    test = naf_scene.test_indices[heading[naf_scene.test_indices] == 0][:3]
    return dataclasses.replace(naf_scene, train_indices=train, test_indices=test)


def test_codec_rows_interpolate_decoded_training_rirs_and_share_the_scorer(naf_config, small_scene, tmp_path) -> None:
    cache = CodecCache(small_scene, workers=2)
    results = score_baselines(naf_config, small_scene, METHODS, cache)
    assert set(CODEC_INTERPOLATIONS) <= set(results) and set(CODEC_INTERPOLATIONS) == {
        "opus-nearest",
        "opus-linear",
        "aac-nearest",
        "aac-linear",
    }
    train = small_scene.train_indices
    assert cache.encoded_count == len(CODECS) * len(train)  # nearest and linear share one encoding per RIR

    for codec in CODECS:
        sizes = cache.encoded_bytes(codec, train)
        for method in ("nearest", "linear"):
            row = results[f"{codec}-{method}"]
            assert row["bytes_per_scene"] == sum(sizes) and row["training_rirs"] == len(train)
        _, size = codec_roundtrip(
            small_scene.waveform(int(train[0])), small_scene.params.sample_rate, codec, str(tmp_path)
        )
        assert size == sizes[0]  # an independent encoding of the first training RIR has the cached size

        # nearest at a training position = that training RIR as decoded, not the stored one
        predictions, _ = codec_interpolation_predictions(small_scene, train[:3], f"{codec}-nearest", cache)
        for index, prediction, decoded in zip(train[:3], predictions, cache.decoded(codec, train[:3])):
            expected = fit_frames(
                logmag_of_waveform(decoded, small_scene.params),
                int(small_scene.lengths[index]),
                small_scene.params.log_eps,
            )
            np.testing.assert_allclose(prediction, expected, atol=1e-5)
            assert np.mean(np.abs(prediction - small_scene.item_logmag(index))) > 1e-3
    assert cache.encoded_count == len(CODECS) * len(train)

    test = small_scene.test_indices
    ground_truth = [small_scene.item_logmag(i) for i in test]
    for method in CODEC_INTERPOLATIONS:
        predictions, _ = baseline_predictions(small_scene, test, method, cache)
        scores = score_paper_protocol(predictions, ground_truth, small_scene.params, naf_config.NAF.PHASE_SEED)
        np.testing.assert_equal({k: v for k, v in results[method].items() if k in scores}, scores)  # NaN == NaN
        assert set(results[method]) - set(scores) == {"bytes_per_scene", "training_rirs", "bytes_per_rir"}
        assert set(scores) == set(results["nearest"])
