#!/usr/bin/env python
"""Score the NAF baselines on a scene's held-out split: mean spectrogram, nearest and linear interpolation
(4-d positions, per heading), Opus and AAC codecs (need opus-tools and ffmpeg installed).

    python scripts/naf_baselines.py --exp-config configs/quickstart/naf.yaml --output runs/naf_baselines.json [KEY VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from audio_separation.config import get_config  # noqa: E402
from audio_separation.naf.data import NafSceneData, ensure_scene_data, load_scene_data  # noqa: E402

METHODS = ("mean", "nearest", "linear", "opus", "aac")


def run_baselines(config, data: NafSceneData, methods=METHODS) -> dict:
    """method -> paper-protocol scores (+ bytes_per_rir for codecs) on the test split."""
    from audio_separation.naf import baselines
    from audio_separation.naf.evaluate import score_paper_protocol

    naf = config.NAF
    indices = data.test_indices[: naf.EVAL_MAX_ITEMS] if naf.EVAL_MAX_ITEMS > 0 else data.test_indices
    ground_truth = [data.item_logmag(i) for i in indices]
    results = {}
    for method in methods:
        size = None
        if method == "mean":
            predictions = baselines.mean_predictions(data, indices)
        elif method in baselines.INTERPOLATIONS:
            predictions = baselines.interpolation_predictions(data, indices, method)
        elif method in baselines.CODECS:
            predictions, size = baselines.codec_predictions(data, indices, method)
        else:
            raise ValueError(f"unknown baseline {method!r}; choose from {METHODS}")
        results[method] = score_paper_protocol(predictions, ground_truth, data.params, naf.PHASE_SEED)
        if size is not None:
            results[method]["bytes_per_rir"] = size
            results[method]["scene_megabytes"] = size * len(data.keys) / 1e6
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp-config", required=True)
    parser.add_argument("--output", default="", help="JSON file for the scores (printed either way)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides as KEY VALUE pairs")
    args = parser.parse_args(argv)
    config = get_config(args.exp_config, args.opts)
    ensure_scene_data(config)
    results = run_baselines(config, load_scene_data(config), args.methods)
    for method, scores in results.items():
        print(
            f"{method:8s} spectral {scores['spectral_error']:.4f}  T60 {scores['t60_error_percent']:.2f} % ({scores['t60_failures']} failed)  "
            f"C50 {scores['c50_error_db']:.3f} dB  EDT {scores['edt_error_seconds']:.4f} s"
            + (f"  {scores['bytes_per_rir']:.0f} B/RIR" if "bytes_per_rir" in scores else "")
        )
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as handle:
            json.dump(results, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
