"""The NAF as the env's renderer at any position: off-grid queries, batched queries, moving sources in
the sync and batched envs, and how close its observations are to the wav-rendered ones on training pairs."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from audio_separation.config import get_config
from audio_separation.env import make_env
from audio_separation.env.settings import EnvSettings
from audio_separation.naf.renderer_check import TrueMagnitudeRirSource, pair_observation_errors, split_triples
from audio_separation.naf.rir_source import NafRendererError
from audio_separation.naf.trainer import NafTrainer
from audio_separation.world.rir_store import open_rir_source, open_scene_rirs
from audio_separation.world.settings import WorldSettings
from audio_separation.world.soundspaces import HEADINGS, SoundSpacesLayout, list_sounds, sound_path
from tests.env.test_batched_vector import _compare
from tests.naf.conftest import naf_opts

SCENE = "apartment_02"  # the tiny world's train split is this scene's
# One source's observation (log1p |STFT| of its binaural 1-s signal) rendered with NAF RIRs vs with the wav
# RIRs, on 24 TRAINING pairs: mean |difference| relative to the mean wav observation. Measured (phase
# griffin_lim_minimum, the tiny config's 4 Griffin-Lim iterations): 0.41 for the true magnitudes rebuilt
# (the phase method's floor: a magnitude-only field keeps no exact reflection delays), 0.59 for the tiny NAF.
TRUE_MAGNITUDE_TOLERANCE = 0.45
NAF_TOLERANCE = 0.7


@pytest.fixture(scope="module")
def naf_checkpoints(tiny_world, naf_data_dir, tmp_path_factory) -> str:
    """A folder <scene>/data/ckpt.<N>.pth of a tiny NAF trained 2 epochs on SCENE."""
    root, _ = tiny_world
    folder = str(tmp_path_factory.mktemp("naf_checkpoints_motion"))
    config = get_config(opts=naf_opts(root, naf_data_dir, "NAF.SCENE", SCENE), model_dir=os.path.join(folder, SCENE))
    NafTrainer.from_config(config).train()
    return folder


def _config(tiny_world, tmp_path, naf_checkpoints, *opts):
    root, _ = tiny_world
    return get_config(
        opts=[
            "WORLD.DATA_ROOT",
            root,
            "WORLD.PRESET",
            "tiny",
            "WORLD.CACHE_DIR",
            str(tmp_path / "cache"),
            "WORLD.RIR_SOURCE",
            "naf",
            "WORLD.NAF_CHECKPOINTS",
            naf_checkpoints,
            "ENV.VECTOR_ENV_TYPE",
            "sync",
            "NUM_PROCESSES",
            "1",
            *opts,
        ]
    )


def _source(config):
    layout = SoundSpacesLayout(config.WORLD.DATA_ROOT, config.WORLD.DATASET)
    return open_rir_source(WorldSettings.from_config(config), layout, SCENE, list(HEADINGS), 16000)


def test_off_grid_queries_are_continuous_and_batched_queries_equal_single_ones(
    tiny_world, tmp_path, naf_checkpoints
) -> None:
    source = _source(_config(tiny_world, tmp_path, naf_checkpoints))
    node_xy = source.node_xy[1]
    np.testing.assert_allclose(source.get(0, node_xy, 90), source.get(0, 1, 90), rtol=0, atol=1e-6)
    nearby = source.get(0, (node_xy[0] + 1e-3, node_xy[1]), 90)
    halfway = source.get(0, (node_xy[0] + 0.5, node_xy[1] + 0.25), 90)
    reference = np.abs(source.get(0, 1, 90)).max()
    assert np.abs(nearby - source.get(0, 1, 90)).max() < 0.05 * reference  # 1 mm away: nearly the same RIR
    assert not np.allclose(halfway, source.get(0, 1, 90))
    queries = [(0, 1, 90), (0, node_xy, 90), ((0.3, 0.7), (node_xy[0] + 0.5, node_xy[1] + 0.25), 180), (2, 3, 0)]
    batch = source.get_batch(queries)
    assert batch.dtype == torch.float32 and batch.shape[:2] == (4, 2)
    for row, (receiver, emitter, heading) in enumerate(queries):
        np.testing.assert_allclose(batch[row].numpy().T, source.get(receiver, emitter, heading), rtol=0, atol=1e-6)
    with pytest.raises(NafRendererError, match="heading 45 was not trained"):
        source.get(0, (0.5, 0.5), 45)
    with pytest.raises(NafRendererError, match="not finite"):
        source.get(0, (float("nan"), 0.5), 0)


def test_observations_on_training_pairs_are_within_the_stated_tolerance(tiny_world, tmp_path, naf_checkpoints) -> None:
    config = _config(tiny_world, tmp_path, naf_checkpoints)
    naf = _source(config)
    layout = SoundSpacesLayout(config.WORLD.DATA_ROOT, config.WORLD.DATASET)
    wav = open_scene_rirs(layout, SCENE, list(HEADINGS), 16000)
    clip = sound_path(layout, list_sounds(layout, True)[0], True)
    train = split_triples(naf)["train"][:24]
    errors = pair_observation_errors(config, {"naf": naf, "true": TrueMagnitudeRirSource(naf)}, wav, train, clip)
    print("relative observation error on training pairs:", errors)
    assert errors["true"]["relative"] <= TRUE_MAGNITUDE_TOLERANCE
    assert errors["naf"]["relative"] <= NAF_TOLERANCE
    assert errors["true"]["relative"] < errors["naf"]["relative"]  # the NAF's fit adds to the phase's error


def test_batched_env_with_naf_and_motion_equals_the_sync_env(tiny_world, tmp_path, naf_checkpoints) -> None:
    config = _config(
        tiny_world,
        tmp_path,
        naf_checkpoints,
        "NUM_PROCESSES",
        "2",
        "TASK.SENSORS",
        ["MIXED_BINAURAL_MAGNITUDE", "GT_MONO", "GT_BINAURAL", "POSE"],
        "TASK.MAX_EPISODE_STEPS",
        "5",
        "TASK.SOURCE_MOTION.ENABLED",
        "True",
        "TASK.SOURCE_MOTION.SPEED",
        "0.8",
        "ENV.AUTORESET_MODE",
        "same_step",
    )
    worst = _compare(config, np.random.default_rng(1).integers(3, size=(6, 2)))
    print("NAF + motion, batched vs sync, worst relative differences:", worst)
    assert set(worst) >= {"mixed_binaural_magnitude", "gt_binaural_magnitude"}


def test_a_moving_source_sounds_different_from_a_static_one(tiny_world, tmp_path, naf_checkpoints) -> None:
    static = make_env(EnvSettings.from_config(_config(tiny_world, tmp_path, naf_checkpoints)))
    moving = make_env(
        EnvSettings.from_config(_config(tiny_world, tmp_path, naf_checkpoints, "TASK.SOURCE_MOTION.ENABLED", "True"))
    )
    first = [env.reset(seed=0)[0] for env in (static, moving)]
    np.testing.assert_allclose(  # t = 0: the moving source is at its node (an off-grid query of the node's xy)
        first[1]["gt_binaural_magnitude"], first[0]["gt_binaural_magnitude"], rtol=0, atol=1e-4
    )
    later = [env.step(0)[0] for env in (static, moving)]
    later = [env.step(0)[0] for env in (static, moving)]
    np.testing.assert_array_equal(
        later[1]["gt_binaural_magnitude"][..., :2], later[0]["gt_binaural_magnitude"][..., :2]
    )
    assert not np.allclose(later[1]["gt_binaural_magnitude"][..., 2:], later[0]["gt_binaural_magnitude"][..., 2:])
    static.close()
    moving.close()
