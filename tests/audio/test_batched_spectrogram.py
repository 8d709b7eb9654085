"""spectrogram_channels_last on the CPU: magnitudes bit-equal to numpy's (the sync env's maths, which RL
results depend on), phases within one float32 ulp of np.angle, on one thread and split over several;
a forked child (a DataLoader or async env worker) can still call it after the parent made its threads."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
import torch

from audio_separation.audio.batched_render import BatchedStft, spectrogram_channels_last
from audio_separation.audio.stft import StftParams

ULP_AT_PI = float(np.spacing(np.float32(np.pi)))


@pytest.fixture(params=[1, 2, 3])
def threads(request):
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


def _spectra(rows: int) -> dict[str, torch.Tensor]:
    """A binaural mixture (rows, 2, F, T) and per-source binaural spectra (rows, 2, 2, F, T) as the STFT
    makes them (a (F, T) view of (T, F) memory), and a plain contiguous complex tensor."""
    signal = torch.from_numpy(np.random.default_rng(rows).standard_normal((rows, 2, 2, 4000)).astype(np.float32))
    stft = BatchedStft(StftParams(fast=True), "cpu")
    plain = torch.complex(torch.randn(rows, 3, 40, 7), torch.randn(rows, 3, 40, 7))
    return {"mixture": stft(signal[:, 0]), "sources": stft(signal), "plain": plain}


def _reference(spectrum: torch.Tensor, kind: str) -> np.ndarray:
    array = spectrum.reshape(spectrum.shape[0], -1, *spectrum.shape[-2:]).numpy()
    if kind == "phase":
        value = np.angle(array)
    elif kind == "real":
        value = array
    else:
        value = np.abs(array)
        value = np.log1p(value) if kind == "log1p_magnitude" else value
    return np.ascontiguousarray(value.transpose(0, 2, 3, 1), dtype=np.float32)


@pytest.mark.parametrize("rows", [1, 5])
def test_channels_last_matches_numpy(threads: int, rows: int) -> None:
    for name, spectrum in _spectra(rows).items():
        for kind in ("magnitude", "log1p_magnitude", "phase"):
            got = spectrogram_channels_last(spectrum, kind)
            expected = _reference(spectrum, kind)
            assert got.is_contiguous() and got.dtype == torch.float32 and tuple(got.shape) == expected.shape
            if kind == "phase":
                difference = float(np.abs(got.numpy() - expected).max())
                assert difference <= ULP_AT_PI, (name, difference)
            else:
                np.testing.assert_array_equal(got.numpy(), expected, err_msg=f"{name} {kind} on {threads} threads")
        real = spectrum.abs()
        np.testing.assert_array_equal(spectrogram_channels_last(real, "real").numpy(), _reference(real, "real"))


def _child(spectrum: torch.Tensor, queue) -> None:
    queue.put(float(spectrogram_channels_last(spectrum, "log1p_magnitude").sum()))


def test_forked_child_makes_its_own_threads() -> None:
    """The magnitude path's thread pool only (the child makes no torch op of its own: torch's intra-op
    threads after a fork are torch's matter)."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        spectrum = _spectra(4)["mixture"]
        expected = float(spectrogram_channels_last(spectrum, "log1p_magnitude").sum())  # the pool exists now
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=_child, args=(spectrum, queue))
        child.start()
        child.join(timeout=60)
        alive = child.is_alive()
        if alive:
            child.kill()
        assert not alive, "the forked child hung on the parent's thread pool"
        assert queue.get(timeout=5) == expected
    finally:
        torch.set_num_threads(before)


def test_double_precision_spectra_give_float32(threads: int) -> None:
    spectrum = torch.complex(torch.randn(3, 2, 8, 5, dtype=torch.float64), torch.randn(3, 2, 8, 5, dtype=torch.float64))
    for kind in ("magnitude", "log1p_magnitude", "phase"):
        got = spectrogram_channels_last(spectrum, kind)
        assert got.dtype == torch.float32 and got.is_contiguous() and tuple(got.shape) == (3, 8, 5, 2), kind
