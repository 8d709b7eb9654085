"""NAF as the env's renderer (WORLD.RIR_SOURCE naf): RIRs of a tiny NAF trained for a few steps."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from audio_separation.common.registry import registry
from audio_separation.config import get_config
from audio_separation.env import make_env
from audio_separation.env.navigation import MOVE_FORWARD, TURN_LEFT, TURN_RIGHT
from audio_separation.env.settings import EnvSettings
from audio_separation.naf.renderer_check import compare_renderers
from audio_separation.naf.rir_source import NafRendererError, NafRirSource, find_checkpoint
from audio_separation.naf.trainer import NafTrainer
from audio_separation.world.rir_store import SceneRirs, open_rir_source
from audio_separation.world.settings import WorldSettings
from audio_separation.world.soundspaces import SoundSpacesLayout
from tests.naf.conftest import naf_opts

SCENE = "apartment_02"  # the tiny world's train split is this scene's


@pytest.fixture(scope="module")
def naf_checkpoints(tiny_world, naf_data_dir, tmp_path_factory) -> str:
    """A folder <scene>/data/ckpt.<N>.pth of a tiny NAF trained 2 epochs on SCENE."""
    root, _ = tiny_world
    folder = str(tmp_path_factory.mktemp("naf_checkpoints"))
    config = get_config(opts=naf_opts(root, naf_data_dir, "NAF.SCENE", SCENE), model_dir=os.path.join(folder, SCENE))
    NafTrainer.from_config(config).train()
    return folder


def _world_config(tiny_world, tmp_path, *opts: str):
    root, _ = tiny_world
    return get_config(
        opts=["WORLD.DATA_ROOT", root, "WORLD.PRESET", "tiny", "WORLD.CACHE_DIR", str(tmp_path / "cache"), *opts]
    )


def _naf_source(tiny_world, tmp_path, naf_checkpoints, *opts: str):
    config = _world_config(
        tiny_world, tmp_path, "WORLD.RIR_SOURCE", "naf", "WORLD.NAF_CHECKPOINTS", naf_checkpoints, *opts
    )
    layout = SoundSpacesLayout(config.WORLD.DATA_ROOT, config.WORLD.DATASET)
    return open_rir_source(WorldSettings.from_config(config), layout, SCENE, [0, 90, 180, 270], 16000)


def test_wav_stays_the_default(tiny_world, tmp_path) -> None:
    config = _world_config(tiny_world, tmp_path)
    world = WorldSettings.from_config(config)
    assert config.WORLD.RIR_SOURCE == "wav" and world.rir_source == "wav"
    layout = SoundSpacesLayout(config.WORLD.DATA_ROOT, config.WORLD.DATASET)
    assert isinstance(open_rir_source(world, layout, SCENE, [0, 90], 16000), SceneRirs)
    assert {"wav", "naf"} <= set(registry.known("rir_source"))
    with pytest.raises(ValueError, match="NAF_CHECKPOINTS"):
        WorldSettings.from_config(_world_config(tiny_world, tmp_path, "WORLD.RIR_SOURCE", "naf"))


@pytest.mark.parametrize("phase", ["minimum", "random"])
def test_naf_rirs_are_finite_float32_and_deterministic_per_pair(tiny_world, tmp_path, naf_checkpoints, phase) -> None:
    first = _naf_source(tiny_world, tmp_path, naf_checkpoints, "WORLD.NAF_PHASE", phase)
    second = _naf_source(tiny_world, tmp_path, naf_checkpoints, "WORLD.NAF_PHASE", phase)
    assert isinstance(first, NafRirSource)
    rir = first.get(0, 1, 90)
    assert rir.dtype == np.float32 and rir.ndim == 2 and rir.shape[1] == 2 and rir.shape[0] > 1000
    assert np.all(np.isfinite(rir)) and np.abs(rir).max() > 0
    np.testing.assert_array_equal(rir, second.get(0, 1, 90))  # another source, same pair: the same RIR
    np.testing.assert_array_equal(rir, first.get(0, 1, 90))
    assert not np.array_equal(rir, first.get(1, 0, 90))
    assert first.cache_key == second.cache_key and first.cache_key[0] == "naf"


def test_naf_source_errors_name_the_problem(tiny_world, tmp_path, naf_checkpoints) -> None:
    with pytest.raises(NafRendererError, match="no NAF checkpoint for scene 'apartment_00'"):
        find_checkpoint(naf_checkpoints, "apartment_00")
    source = _naf_source(tiny_world, tmp_path, naf_checkpoints)
    with pytest.raises(NafRendererError, match="node 99999"):
        source.get(99999, 0, 0)


def test_an_env_renders_with_the_naf_and_measures_it(tiny_world, tmp_path, naf_checkpoints) -> None:
    wav_config = _world_config(tiny_world, tmp_path, "ENV.VECTOR_ENV_TYPE", "sync", "NUM_PROCESSES", "1")
    naf_config = _world_config(
        tiny_world,
        tmp_path,
        "ENV.VECTOR_ENV_TYPE",
        "sync",
        "NUM_PROCESSES",
        "1",
        "WORLD.RIR_SOURCE",
        "naf",
        "WORLD.NAF_CHECKPOINTS",
        naf_checkpoints,
    )
    wav_env, naf_env = make_env(EnvSettings.from_config(wav_config)), make_env(EnvSettings.from_config(naf_config))
    for env in (wav_env, naf_env):
        env.reset(seed=0)
    for action in (MOVE_FORWARD, TURN_LEFT, MOVE_FORWARD):
        wav_observation, *_ = wav_env.step(action)
        naf_observation, *_ = naf_env.step(action)
        assert set(naf_observation) == set(wav_observation)
        for key, value in wav_observation.items():
            assert naf_observation[key].shape == value.shape and naf_observation[key].dtype == value.dtype, key
            assert np.all(np.isfinite(naf_observation[key])), key
        assert naf_env.observation_space.contains(naf_observation)
    assert not np.array_equal(naf_observation["mixed_binaural_magnitude"], wav_observation["mixed_binaural_magnitude"])
    np.testing.assert_array_equal(naf_observation["gt_mono_magnitude"], wav_observation["gt_mono_magnitude"])

    # the measurement of the docs (numbers of a 2-epoch tiny NAF: poor by design, printed for the report)
    result = compare_renderers(
        wav_config, naf_checkpoints, SCENE, [MOVE_FORWARD, TURN_LEFT, MOVE_FORWARD, TURN_RIGHT], max_episodes=4
    )
    print("NAF renderer check:", json.dumps(result, indent=1))
    assert result["scene"] == SCENE and result["steps"] > 0
    assert np.isfinite(result["mixture_mean_abs_difference"]) and result["mixture_mean_abs_difference"] > 0
    for key in ("wav_ms_per_step_cold", "wav_ms_per_step_warm", "naf_ms_per_step_cold", "naf_ms_per_step_warm"):
        assert result[key] > 0, key
    assert 0 < result["naf_model_bytes_fp32"] < result["naf_checkpoint_bytes"] and result["rir_wav_bytes"] > 0


def test_naf_rirs_are_resampled_to_the_env_rate(tiny_world, tmp_path, naf_checkpoints) -> None:
    native = _naf_source(tiny_world, tmp_path, naf_checkpoints)
    assert native.params.sample_rate == 16000
    other = NafRirSource(native.checkpoint, SCENE, native.node_xy, 8000)
    rir, low = native.get(0, 1, 0), other.get(0, 1, 0)
    assert low.dtype == np.float32 and low.shape == (rir.shape[0] // 2, 2) and np.all(np.isfinite(low))
    assert other.cache_key != native.cache_key
