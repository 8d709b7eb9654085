"""naf/renderer_measure.observation_errors: errors split by trained / held-out pairs (synthetic steps)."""

from __future__ import annotations

import numpy as np
import pytest

from audio_separation.naf.renderer_measure import observation_errors


def _step(pairs, mixture: float, sources: list[float]) -> dict:
    return {
        "pairs": pairs,
        "mixed_binaural_magnitude": np.full((4, 3, 2), mixture, dtype=np.float32),
        "gt_binaural_magnitude": np.concatenate([np.full((4, 3, 2), value, np.float32) for value in sources], -1),
    }


def test_observation_errors_split_steps_and_pairs_by_the_naf_split() -> None:
    trained = {(0, 1, 2), (0, 1, 3)}
    wav = [_step([(0, 1, 2), (0, 1, 3)], 1.0, [1.0, 1.0]), _step([(0, 1, 2), (90, 1, 3)], 1.0, [1.0, 1.0])]
    naf = [_step(wav[0]["pairs"], 1.5, [1.0, 2.0]), _step(wav[1]["pairs"], 0.0, [1.0, 0.0])]
    errors = observation_errors(wav, naf, trained)
    assert errors["steps"] == 2 and errors["held_out_steps"] == 1
    assert errors["mixture_relative_all"] == pytest.approx(0.75)  # (0.5 + 1.0) / 2 over a mean wav of 1
    assert errors["mixture_relative_trained_steps"] == pytest.approx(0.5)
    assert errors["mixture_relative_held_out_steps"] == pytest.approx(1.0)
    assert errors["source_pairs_trained"] == 3 and errors["source_pairs_held_out"] == 1
    log1p = np.log1p
    assert errors["source_relative_held_out_pairs"] == pytest.approx(1.0)  # log1p(0) vs log1p(1)
    expected = (log1p(2.0) - log1p(1.0)) / 3 / log1p(1.0)  # one of three trained pairs differs
    assert errors["source_relative_trained_pairs"] == pytest.approx(expected)
