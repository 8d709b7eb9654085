"""scripts/bench/eval.py's argument checks (its measurements need a trained checkpoint: run by hand)."""

from __future__ import annotations

import argparse
import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _bench():
    spec = importlib.util.spec_from_file_location("bench_eval", os.path.join(ROOT, "scripts", "bench", "eval.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_settings_parse_and_bad_ones_are_named() -> None:
    bench = _bench()
    assert bench.parse_setting("batched:20") == ("batched", 20)
    assert bench.parse_setting("sync:2") == ("sync", 2)
    for bad in ("batched", "batched:0", "cuda:2", "sync:x"):
        with pytest.raises(argparse.ArgumentTypeError, match=bad):
            bench.parse_setting(bad)


def test_missing_checkpoint_and_bad_against_are_refused(tmp_path) -> None:
    bench = _bench()
    with pytest.raises(SystemExit, match="--checkpoint .*no such file"):
        bench.main(["--checkpoint", str(tmp_path / "nope.pth"), "--separator", str(tmp_path / "nope.pth")])
    checkpoint = tmp_path / "ckpt.pth"
    checkpoint.write_bytes(b"")
    with pytest.raises(SystemExit, match="--against .*not a checkout"):
        bench.main(["--checkpoint", str(checkpoint), "--separator", str(checkpoint), "--against", str(tmp_path)])
