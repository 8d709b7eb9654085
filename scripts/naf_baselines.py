#!/usr/bin/env python
"""Score the NAF baselines on a scene's held-out split: mean spectrogram, nearest and linear interpolation
(4-d positions, per heading) and the paper's codec baselines, the training RIRs through Opus / AAC then
nearest or linear (need opus-tools and ffmpeg installed); --methods opus-roundtrip aac-roundtrip adds the
test RIR itself through each codec (what the codec alone loses; not a baseline).

    python scripts/naf_baselines.py --exp-config configs/quickstart/naf.yaml --output runs/naf_baselines.json [KEY VALUE ...]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from audio_separation.common.files import write_json_atomic  # noqa: E402
from audio_separation.config import get_config  # noqa: E402
from audio_separation.naf.baseline_scores import ALL_METHODS, METHODS, label, score_baselines  # noqa: E402
from audio_separation.naf.data import NafSceneData, ensure_scene_data, load_scene_data  # noqa: E402


def run_baselines(config, data: NafSceneData, methods=METHODS) -> dict:
    """method -> paper-protocol scores (+ bytes_per_scene / bytes_per_rir for codec rows) on the test split."""
    return score_baselines(config, data, methods)


def size_text(scores: dict) -> str:
    """'12345 B/scene (512 RIRs)', '1424 B/RIR' or ''."""
    if "bytes_per_scene" in scores:
        return f"{scores['bytes_per_scene']} B/scene ({scores['training_rirs']} training RIRs)"
    if "bytes_per_rir" in scores:
        return f"{scores['bytes_per_rir']:.0f} B/RIR"
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp-config", required=True)
    parser.add_argument("--output", default="", help="JSON file for the scores (printed either way)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=ALL_METHODS)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides as KEY VALUE pairs")
    args = parser.parse_args(argv)
    config = get_config(args.exp_config, args.opts)
    ensure_scene_data(config)
    results = run_baselines(config, load_scene_data(config), args.methods)
    for method, scores in results.items():
        print(
            f"{label(method):32s} spectral {scores['spectral_error']:.4f}  T60 {scores['t60_error_percent']:.2f} % ({scores['t60_failures']} failed)  "
            f"C50 {scores['c50_error_db']:.3f} dB  EDT {scores['edt_error_seconds']:.4f} s  {size_text(scores)}"
        )
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        write_json_atomic(args.output, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
