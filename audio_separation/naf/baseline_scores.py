"""Score every NAF baseline on a scene's held-out items with the one scorer the NAF uses
(evaluate.score_paper_protocol), so all rows of a table are comparable.

Rows (METHODS, the default): mean, nearest, linear (baselines.py) and the paper's codec baselines
opus-nearest, opus-linear, aac-nearest, aac-linear (codec_baselines.py). Opt-in: opus-roundtrip and
aac-roundtrip, the test RIR itself through the codec (what the codec alone loses; not a baseline).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from audio_separation.naf import baselines
from audio_separation.naf.codec_baselines import (
    CODEC_INTERPOLATIONS,
    ROUNDTRIPS,
    CodecCache,
    codec_interpolation_predictions,
    codec_roundtrip_predictions,
)
from audio_separation.naf.data import NafSceneData
from audio_separation.naf.evaluate import score_paper_protocol

METHODS = ("mean", *baselines.INTERPOLATIONS, *CODEC_INTERPOLATIONS)
ALL_METHODS = (*METHODS, *ROUNDTRIPS)
LABELS = {name: f"{name} (test RIR itself)" for name in ROUNDTRIPS}  # how tables name a row


def label(method: str) -> str:
    return LABELS.get(method, method)


def evaluated_indices(config, data: NafSceneData) -> np.ndarray:
    """The held-out items the NAF eval scores: the first NAF.EVAL_MAX_ITEMS test items (0 = all)."""
    limit = int(config.NAF.EVAL_MAX_ITEMS)
    return data.test_indices[:limit] if limit > 0 else data.test_indices


def baseline_predictions(
    data: NafSceneData, indices: np.ndarray, method: str, cache: CodecCache | None = None
) -> tuple[list[np.ndarray], dict]:
    """Log-magnitudes (2, F, T_i) of `method` at `indices`, and its size facts (empty for non-codecs)."""
    if method == "mean":
        return baselines.mean_predictions(data, indices), {}
    if method in baselines.INTERPOLATIONS:
        return baselines.interpolation_predictions(data, indices, method), {}
    cache = cache if cache is not None else CodecCache(data)
    if method in CODEC_INTERPOLATIONS:
        return codec_interpolation_predictions(data, indices, method, cache)
    if method in ROUNDTRIPS:
        return codec_roundtrip_predictions(data, indices, method, cache)
    raise ValueError(f"unknown baseline {method!r}; choose from {ALL_METHODS}")


def score_baselines(
    config, data: NafSceneData, methods: Sequence[str] = METHODS, cache: CodecCache | None = None
) -> dict:
    """method -> paper-protocol scores on the evaluated test items (+ the size facts of codec rows)."""
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        raise ValueError(f"unknown baselines {unknown}; choose from {ALL_METHODS}")
    indices = evaluated_indices(config, data)
    ground_truth = [data.item_logmag(i) for i in indices]
    cache = cache if cache is not None else CodecCache(data)
    results = {}
    for method in methods:
        predictions, sizes = baseline_predictions(data, indices, method, cache)
        results[method] = {
            **score_paper_protocol(predictions, ground_truth, data.params, config.NAF.PHASE_SEED),
            **sizes,
        }
    return results
