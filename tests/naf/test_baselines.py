"""NAF baselines on the tiny world: interpolation, mean predictor, codecs (or a clear missing-tool error)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from audio_separation.naf import baselines

CODECS_INSTALLED = all(shutil.which(tool) for tool in ("opusenc", "opusdec", "ffmpeg"))


@pytest.mark.parametrize("method", baselines.INTERPOLATIONS)
def test_interpolation_reproduces_training_points_and_predicts_test_items(naf_scene, method) -> None:
    train = naf_scene.train_indices[:3]
    for index, prediction in zip(train, baselines.interpolation_predictions(naf_scene, train, method)):
        np.testing.assert_allclose(prediction, naf_scene.item_logmag(index), atol=2e-2)
    test = naf_scene.test_indices[:5]
    predictions = baselines.interpolation_predictions(naf_scene, test, method)
    assert [p.shape for p in predictions] == [naf_scene.item_logmag(i).shape for i in test]
    assert all(np.all(np.isfinite(p)) for p in predictions)


def test_mean_predictor_has_each_items_shape(naf_scene) -> None:
    test = naf_scene.test_indices[:3]
    for index, prediction in zip(test, baselines.mean_predictions(naf_scene, test)):
        assert prediction.shape == naf_scene.item_logmag(index).shape


def test_missing_codec_names_the_tool_and_package(naf_scene, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(baselines.MissingToolError, match="opusenc.*opus-tools"):
        baselines.codec_roundtrip(naf_scene.waveform(0), 16000, "opus", str(tmp_path))
    with pytest.raises(baselines.MissingToolError, match="ffmpeg.*apt-get install -y ffmpeg"):
        baselines.codec_roundtrip(naf_scene.waveform(0), 16000, "aac", str(tmp_path))


@pytest.mark.skipif(not CODECS_INSTALLED, reason="opus-tools / ffmpeg not installed (.ci/run installs them)")
@pytest.mark.parametrize("codec", baselines.CODECS)
def test_codec_round_trip_is_close_and_small(naf_scene, codec) -> None:
    from audio_separation.naf.codec_baselines import CodecCache, codec_roundtrip_predictions

    test = naf_scene.test_indices[:2]
    predictions, sizes = codec_roundtrip_predictions(naf_scene, test, f"{codec}-roundtrip", CodecCache(naf_scene))
    raw_bytes = naf_scene.waveform(int(test[0])).size * 4
    assert 0 < sizes["bytes_per_rir"] < raw_bytes / 5
    for index, prediction in zip(test, predictions):
        truth = naf_scene.item_logmag(index)
        assert prediction.shape == truth.shape
        assert np.mean(np.abs(prediction - truth)) < np.mean(np.abs(truth - np.log(1e-3)))
