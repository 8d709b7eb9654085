"""BatchedVectorEnv: N envs as tensor operations on one device, the same results as SyncVectorEnv.

Tolerance (float32 rounding; measured on the tiny world): spectrogram magnitudes within 1e-6 of the
largest value of their key (measured <= 3e-7; the exact STFT's mixture is bit-identical on the CPU,
which uses the same FFT kernels as the numpy env), complex spectra (magnitude x e^(i phase)) likewise
(phases alone are ill-defined where the magnitude is ~0), everything else (pose, classes, views, infos,
terminations, rewards) exactly equal.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audio_separation.audio.batched_render import SlabCache
from audio_separation.env import make_vector_env
from audio_separation.env.settings import EnvSettings
from tests.env.conftest import derive_config

ALL_SENSORS = [
    "MIXED_BINAURAL_MAGNITUDE",
    "MIXED_BINAURAL_PHASE",
    "MIXED_BINAURAL_STAY",
    "MIXED_BINAURAL_START",
    "GT_MONO",
    "GT_BINAURAL",
    "TARGET_CLASS",
    "POSE",
    "RGB",
    "DEPTH",
]
RELATIVE_TOLERANCE = 1e-5
CUDA_RELATIVE_TOLERANCE = 1e-5  # cuFFT vs pocketfft: passed on one H200 (2026-12-04)


def _numpy(value):
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def _trace(envs, actions: np.ndarray, seed: int = 3) -> list:
    observations, infos = envs.reset(seed=seed)
    trace = [({key: _numpy(value).copy() for key, value in observations.items()}, infos, None)]
    for step_actions in actions:
        observations, rewards, terminated, truncated, infos = envs.step(step_actions)
        final = None
        if "final_obs" in infos:
            final = [
                None if obs is None else {key: _numpy(value).copy() for key, value in obs.items()}
                for obs in infos["final_obs"]
            ]
        trace.append(
            (
                {key: _numpy(value).copy() for key, value in observations.items()},
                infos,
                (rewards.copy(), terminated.copy(), truncated.copy(), final),
            )
        )
    return trace


def _assert_observations_close(expected: dict, actual: dict, worst: dict, tolerance: float) -> None:
    assert list(expected) == list(actual)
    for key, value in expected.items():
        got = actual[key]
        assert got.shape == value.shape and got.dtype == value.dtype, key
        if key.endswith("_phase"):
            magnitude_key = key.replace("_phase", "_magnitude")
            magnitude, got_magnitude = expected[magnitude_key], actual[magnitude_key]
            if key.startswith("mixed"):
                magnitude, got_magnitude = np.expm1(magnitude), np.expm1(got_magnitude)
            difference = np.abs(magnitude * np.exp(1j * value) - got_magnitude * np.exp(1j * got))
        elif value.dtype == np.float32 and key != "pose" and key != "depth":
            difference = np.abs(value.astype(np.float64) - got)
        else:
            np.testing.assert_array_equal(got, value, err_msg=key)
            continue
        scale = expected[key.replace("_phase", "_magnitude")] if key.endswith("_phase") else value
        relative = float(difference.max()) / max(float(np.abs(scale).max()), 1e-12)
        worst[key] = max(worst.get(key, 0.0), relative)
        assert relative <= tolerance, (key, relative)


def _assert_infos_equal(expected: dict, actual: dict) -> None:
    assert set(expected) == set(actual), set(expected) ^ set(actual)
    for key, value in expected.items():
        if key == "final_obs":
            continue
        if isinstance(value, dict):
            _assert_infos_equal(value, actual[key])
        else:
            assert value.dtype == actual[key].dtype, key
            np.testing.assert_array_equal(actual[key], value, err_msg=key)


def _compare(config, actions: np.ndarray, seed: int = 3, tolerance: float = RELATIVE_TOLERANCE) -> dict:
    settings = EnvSettings.from_config(config)
    traces = {}
    for kind in ("sync", "batched"):
        envs = make_vector_env(settings, vector_env_type=kind)
        traces[kind] = _trace(envs, actions, seed)
        envs.close()
    worst: dict = {}
    for (expected, expected_infos, expected_rest), (actual, actual_infos, actual_rest) in zip(
        traces["sync"], traces["batched"]
    ):
        _assert_observations_close(expected, actual, worst, tolerance)
        _assert_infos_equal(expected_infos, actual_infos)
        if expected_rest is not None:
            for a, b in zip(expected_rest[:3], actual_rest[:3]):
                assert a.dtype == b.dtype
                np.testing.assert_array_equal(b, a)
            for a, b in zip(expected_rest[3] or [], actual_rest[3] or []):
                assert (a is None) == (b is None)
                if a is not None:
                    _assert_observations_close(a, b, worst, tolerance)
            assert (expected_rest[3] is None) == (actual_rest[3] is None)
    return worst


@pytest.mark.slow
@pytest.mark.parametrize(
    "num_envs, stft, crop",
    [(1, "exact", "same"), (3, "exact", "causal"), (3, "fast", "same")],
)
def test_batched_matches_sync(env_config, num_envs: int, stft: str, crop: str) -> None:
    # every sensor, episodes crossing the autoreset boundary (same_step: final_obs and final_info)
    config = derive_config(
        env_config,
        "NUM_PROCESSES",
        num_envs,
        "TASK.SENSORS",
        ALL_SENSORS,
        "AUDIO.FAST_STFT",
        stft == "fast",
        "AUDIO.CONVOLUTION_CROP",
        crop,
        "ENV.AUTORESET_MODE",
        "same_step",
    )
    actions = np.random.default_rng(num_envs).integers(3, size=(22, num_envs))
    worst = _compare(config, actions)
    print(f"{num_envs} envs, {stft} STFT, {crop} crop: worst relative differences", worst)
    assert set(worst) >= {"mixed_binaural_magnitude", "gt_mono_magnitude", "gt_binaural_phase"}


@pytest.mark.parametrize("mode", ["next_step", "disabled"])
def test_batched_autoreset_modes_match_sync(env_config, mode: str) -> None:
    config = derive_config(
        env_config,
        "NUM_PROCESSES",
        2,
        "TASK.SENSORS",
        ["MIXED_BINAURAL_MAGNITUDE", "GT_MONO", "TARGET_CLASS", "POSE"],
        "TASK.MAX_EPISODE_STEPS",
        4,
        "ENV.AUTORESET_MODE",
        mode,
    )
    steps = 5 if mode == "next_step" else 3  # next_step crosses an episode end; disabled stops at it
    _compare(config, np.random.default_rng(0).integers(3, size=(steps, 2)))
    envs = make_vector_env(EnvSettings.from_config(config), vector_env_type="batched")
    envs.reset(seed=0)
    for _ in range(3):
        envs.step(np.zeros(2, dtype=np.int64))
    if mode == "disabled":
        with pytest.raises(RuntimeError, match="disabled"):
            envs.step(np.zeros(2, dtype=np.int64))
        observations, infos = envs.reset(options={"reset_mask": np.array([True, False])})
        assert infos["_episode_id"].tolist() == [True, False] and infos["step"][0] == 0
    envs.close()


def test_batched_env_takes_tensor_actions_and_returns_device_tensors(env_config) -> None:
    config = derive_config(env_config, "NUM_PROCESSES", 2, "TASK.SENSORS", ["MIXED_BINAURAL_MAGNITUDE", "RGB"])
    envs = make_vector_env(EnvSettings.from_config(config), vector_env_type="batched")
    observations, _ = envs.reset(seed=0)
    assert all(isinstance(value, torch.Tensor) and value.device.type == "cpu" for value in observations.values())
    assert observations["rgb"].dtype == torch.uint8 and observations["rgb"].shape[0] == 2
    observations, *_ = envs.step(torch.tensor([0, 1]))
    assert observations["mixed_binaural_magnitude"].shape == (
        2,
        *envs.single_observation_space["mixed_binaural_magnitude"].shape,
    )
    with pytest.raises(ValueError, match="unknown actions"):
        envs.step(np.array([0, 5]))
    envs.close()


def test_batched_env_refuses_sensors_it_lacks(env_config) -> None:
    from audio_separation.env.batched_vector import BatchedVectorEnv

    settings = EnvSettings.from_config(env_config)
    settings = settings.with_sensors("NO_SUCH_BATCHED_SENSOR")
    with pytest.raises(ValueError, match="NO_SUCH_BATCHED_SENSOR"):
        BatchedVectorEnv(settings)
    with pytest.raises(ValueError, match="CUDA is not available" if not torch.cuda.is_available() else "cpu, cuda"):
        BatchedVectorEnv(EnvSettings.from_config(env_config), device="cuda" if not torch.cuda.is_available() else "mps")


def test_slab_cache_is_bounded_and_least_recently_used() -> None:
    fields = {"value": ((4,), torch.float32)}
    cache = SlabCache(fields, max_bytes=16 * 16, device="cpu")  # 16 slots of 16 bytes
    computed = []

    def compute(keys):
        computed.extend(keys)
        return {"value": torch.tensor([[float(key)] * 4 for key in keys])}

    slots = cache.lookup(list(range(16)), compute)
    assert cache.capacity == 16 and sorted(slots.tolist()) == list(range(16))
    cache.lookup([0], compute)  # 0 becomes the most recent
    computed.clear()
    slots = cache.lookup([100, 0], compute)  # evicts 1, the least recently used, never 0
    assert computed == [100] and 1 not in cache.index and 0 in cache.index
    assert cache.slabs["value"][slots[0], 0] == 100.0 and cache.slabs["value"][slots[1], 0] == 0.0
    slots = cache.lookup(list(range(200, 240)), compute)  # one request larger than the bound: grows to hold it
    assert cache.capacity >= 40 and cache.slabs["value"][slots, 0].tolist() == [float(k) for k in range(200, 240)]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_batched_env_on_cuda_matches_sync(env_config) -> None:
    config = derive_config(
        env_config,
        "NUM_PROCESSES",
        3,
        "TASK.SENSORS",
        ALL_SENSORS,
        "ENV.DEVICE",
        "cuda",
        "ENV.AUTORESET_MODE",
        "same_step",
    )
    observations, _ = make_vector_env(EnvSettings.from_config(config), vector_env_type="batched").reset(seed=0)
    assert all(value.device.type == "cuda" for value in observations.values())
    worst = _compare(config, np.random.default_rng(5).integers(3, size=(21, 3)), tolerance=CUDA_RELATIVE_TOLERANCE)
    print("cuda vs sync, worst relative differences:", worst)
