"""The gymnasium env on the tiny world: spaces, episode timing, cursors, mixing, determinism, errors."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from scipy.signal import fftconvolve

from audio_separation.audio.stft import StftParams, stft
from audio_separation.env import make_env
from audio_separation.env.episode_set import EpisodeError, load_split
from audio_separation.env.navigation import MOVE_FORWARD, TURN_LEFT
from audio_separation.env.settings import EnvSettings
from audio_separation.world.soundspaces import SoundSpacesLayout, load_packed_cache, read_sound
from tests.env.conftest import derive_config


def run_episode(env, actions, **reset_arguments):
    observation, info = env.reset(**reset_arguments)
    observations, infos = [observation], [info]
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(action)
        observations.append(observation)
        infos.append(info)
        if terminated or truncated:
            break
    return observations, infos


def test_observations_match_the_declared_spaces(env_config) -> None:
    env = make_env(EnvSettings.from_config(env_config))
    observations, _ = run_episode(env, [MOVE_FORWARD, TURN_LEFT, MOVE_FORWARD])
    space = env.observation_space
    assert set(space.spaces) == {
        "mixed_binaural_magnitude",
        "gt_mono_magnitude",
        "gt_mono_phase",
        "gt_binaural_magnitude",
        "gt_binaural_phase",
        "target_class",
        "pose",
        "rgb",
        "depth",
    }
    assert space["mixed_binaural_magnitude"].shape == (512, 32, 2)
    assert space["gt_mono_magnitude"].shape == (512, 32, 2)
    assert space["gt_binaural_magnitude"].shape == (512, 32, 4)
    assert space["rgb"].shape == (128, 128, 3) and space["depth"].shape == (128, 128, 1)
    for observation in observations:
        assert set(observation) == set(space.spaces)
        for key, value in observation.items():
            assert value.shape == space[key].shape and value.dtype == space[key].dtype, key
        assert space.contains(observation)
    assert env.action_space.n == 3


def test_an_episode_is_max_steps_observations(env_config) -> None:
    env = make_env(EnvSettings.from_config(env_config))
    observation, info = env.reset()
    assert info["step"] == 0 and observation["pose"][3] == 0
    np.testing.assert_array_equal(observation["pose"][:3], 0.0)
    for step in range(1, 20):
        observation, reward, terminated, truncated, info = env.step(TURN_LEFT)
        assert reward == 0.0 and not truncated
        assert terminated == (step == 19)
        assert info["step"] == step and observation["pose"][3] == step
    with pytest.raises(RuntimeError, match="reset"):
        env.step(TURN_LEFT)
    with pytest.raises(ValueError, match="unknown action"):
        env.reset()
        env.step(7)


def test_source_cursors_advance_one_second_per_step(env_config) -> None:
    env = make_env(EnvSettings.from_config(env_config))
    env.reset()
    episode = env.simulator.episode
    lengths = [env.simulator.renderer.clips.num_seconds(path) for path in episode.sound_paths]
    for step in range(19):
        expected = [(start + step) % seconds for start, seconds in zip(episode.start_seconds, lengths)]
        assert env.simulator.clip_seconds() == expected
        env.step(TURN_LEFT)


@pytest.mark.parametrize("crop", ["causal", "same"])
def test_mixture_equals_direct_convolution(env_config, tiny_config, crop) -> None:
    """The env's observations against a plain per-source, per-ear convolution of the same chunks and RIRs."""
    env = make_env(EnvSettings.from_config(derive_config(env_config, "AUDIO.CONVOLUTION_CROP", crop)))
    run_episode(env, [MOVE_FORWARD, TURN_LEFT, MOVE_FORWARD, MOVE_FORWARD])
    observation = env._observe()
    simulator = env.simulator
    episode = simulator.episode
    layout = SoundSpacesLayout(tiny_config.WORLD.DATA_ROOT, tiny_config.WORLD.DATASET)
    rirs = load_packed_cache(layout, episode.scene, [0, 90, 180, 270], 16000)
    params = StftParams.from_config(tiny_config.AUDIO)
    binaural, mono = [], []
    for path, second, node in zip(episode.sound_paths, simulator.clip_seconds(), episode.source_nodes):
        chunk = read_sound(path, 16000)[second * 16000 : (second + 1) * 16000].astype(np.float64)
        rir = rirs.get(simulator.node, node, simulator.heading).astype(np.float64)
        if crop == "same":
            binaural.append(np.stack([fftconvolve(chunk, rir[:, ear], mode="same") for ear in range(2)]))
        else:  # the first 16000 samples of the full convolution
            binaural.append(np.stack([fftconvolve(chunk, rir[:, ear], mode="full")[:16000] for ear in range(2)]))
        mono.append(np.abs(stft(chunk.astype(np.float32), params)))
    mixture = np.mean(binaural, axis=0).astype(np.float32)
    expected = np.log1p(np.abs(stft(mixture, params)))  # (2, F, T)
    np.testing.assert_allclose(observation["mixed_binaural_magnitude"], np.moveaxis(expected, 0, -1), atol=2e-5)
    for source, signal in enumerate(binaural):
        magnitude = np.abs(stft(signal.astype(np.float32), params))
        np.testing.assert_allclose(
            observation["gt_binaural_magnitude"][..., 2 * source : 2 * source + 2],
            np.moveaxis(magnitude, 0, -1),
            atol=2e-5,
        )
    target = observation["gt_mono_magnitude"][..., 0]
    assert np.sqrt(np.mean(target.astype(np.float64) ** 2)) == pytest.approx(1.2, rel=1e-4)
    np.testing.assert_allclose(
        target, mono[0] * (1.2 / np.sqrt(np.mean(mono[0].astype(np.float64) ** 2))), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(observation["gt_mono_magnitude"][..., 1], mono[1], atol=1e-5)


def test_rendered_audio_and_the_observations_agree_bit_for_bit(env_config) -> None:
    env = make_env(EnvSettings.from_config(env_config))
    run_episode(env, [MOVE_FORWARD, TURN_LEFT])
    observation = env._observe()
    audio = env.simulator.render_audio(with_source_binaural=True)
    count = len(audio.mono)
    # the mixture is summed source by source: exactly the mean the spec describes, np.add.reduce order
    np.testing.assert_array_equal(audio.mixture, np.add.reduce(audio.source_binaural, axis=0) * np.float32(1.0 / count))
    np.testing.assert_array_equal(
        observation["mixed_binaural_magnitude"], np.moveaxis(np.log1p(np.abs(audio.mixture)), 0, -1)
    )
    # gt_mono is written plane by plane from the clip-second cache; the (N, F, T) properties hold the same numbers
    np.testing.assert_array_equal(observation["gt_mono_magnitude"], np.moveaxis(audio.mono_magnitude, 0, -1))
    np.testing.assert_array_equal(observation["gt_mono_phase"], np.moveaxis(audio.mono_phase, 0, -1))
    np.testing.assert_array_equal(audio.mono_magnitude[0], audio.mono[0][0] * np.float32(audio.target_mono_scale))
    assert not audio.mono[0][0].flags.writeable and not audio.mono[0][1].flags.writeable  # the cache's own arrays


def test_causal_crop_option(env_config) -> None:
    causal_env = make_env(EnvSettings.from_config(derive_config(env_config, "AUDIO.CONVOLUTION_CROP", "causal")))
    same = run_episode(
        make_env(EnvSettings.from_config(derive_config(env_config, "AUDIO.CONVOLUTION_CROP", "same"))), [MOVE_FORWARD]
    )[0][-1]
    causal = run_episode(causal_env, [MOVE_FORWARD])[0][-1]
    assert causal_env.observation_space.contains(causal)
    assert not np.allclose(same["mixed_binaural_magnitude"], causal["mixed_binaural_magnitude"])
    np.testing.assert_array_equal(same["gt_mono_magnitude"], causal["gt_mono_magnitude"])


def test_same_seed_same_observations(env_config) -> None:
    actions = [MOVE_FORWARD, TURN_LEFT, MOVE_FORWARD] * 7
    first = [run_episode(make_env(EnvSettings.from_config(env_config), env_index=0), actions)[0] for _ in range(2)]
    for one, two in zip(*first):
        for key in one:
            np.testing.assert_array_equal(one[key], two[key])
    env_a, env_b = make_env(EnvSettings.from_config(env_config)), make_env(EnvSettings.from_config(env_config))
    order_a = [env_a.reset()[1]["episode_id"] for _ in range(6)]
    order_b = [env_b.reset()[1]["episode_id"] for _ in range(6)]
    assert order_a == order_b
    reseeded = [env_a.reset(seed=123)[1]["episode_id"]] + [env_a.reset()[1]["episode_id"] for _ in range(5)]
    again = [env_b.reset(seed=123)[1]["episode_id"]] + [env_b.reset()[1]["episode_id"] for _ in range(5)]
    assert reseeded == again


def test_observation_buffers_receive_the_same_observations(env_config) -> None:
    actions = [MOVE_FORWARD, TURN_LEFT, MOVE_FORWARD, MOVE_FORWARD]
    fresh, _ = run_episode(make_env(EnvSettings.from_config(env_config)), actions)
    env = make_env(EnvSettings.from_config(env_config))
    buffers = {key: np.full(space.shape, 7, dtype=space.dtype) for key, space in env.observation_space.spaces.items()}
    env.set_observation_buffers(buffers)
    observation, _ = env.reset()
    for key in buffers:
        assert observation[key] is buffers[key]
        np.testing.assert_array_equal(observation[key], fresh[0][key])
    for action, expected in zip(actions, fresh[1:]):
        observation, *_ = env.step(action)
        for key in buffers:
            assert observation[key] is buffers[key]
            np.testing.assert_array_equal(buffers[key], expected[key])
    wrong = dict(buffers, pose=np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="observation buffer 'pose'"):
        env.set_observation_buffers(wrong)
    env.set_observation_buffers(None)
    assert env.reset()[0]["pose"] is not buffers["pose"]


def test_sensors_can_be_switched_off(env_config) -> None:
    env = make_env(
        EnvSettings.from_config(derive_config(env_config, "TASK.SENSORS", ["POSE", "RGB", "MIXED_BINAURAL_PHASE"]))
    )
    observation, _ = env.reset()
    assert set(observation) == {"pose", "rgb", "mixed_binaural_phase"}
    assert env.simulator.renderer.rir_lookups > 0  # the phase still needs the audio
    only_views = make_env(EnvSettings.from_config(derive_config(env_config, "TASK.SENSORS", ["DEPTH"])))
    observation, _ = only_views.reset()
    assert set(observation) == {"depth"} and only_views.simulator.renderer.rir_lookups == 0
    with pytest.raises(ValueError, match="unknown sensors"):
        make_env(EnvSettings.from_config(derive_config(env_config, "TASK.SENSORS", ["SMELL"])))


def test_a_view_of_the_wrong_resolution_is_named(env_config) -> None:
    # the view's file, node and heading are formatted only for this message (sensors.view_observations)
    resolution = int(env_config.WORLD.VIEW_RESOLUTION) + 1
    env = make_env(
        EnvSettings.from_config(derive_config(env_config, "WORLD.VIEW_RESOLUTION", resolution, "TASK.SENSORS", ["RGB"]))
    )
    with pytest.raises(
        ValueError, match=rf"\(node \d+, heading \d+\): rgb view is .* expected \({resolution}, {resolution}, 3\)"
    ):
        env.reset()


def test_int16_quirk_and_fast_stft(env_config) -> None:
    actions = [MOVE_FORWARD, TURN_LEFT]
    plain = run_episode(make_env(EnvSettings.from_config(env_config)), actions)[0][-1]
    quantised = run_episode(
        make_env(EnvSettings.from_config(derive_config(env_config, "AUDIO.INT16_ROUNDTRIP", True))), actions
    )[0][-1]
    difference = np.abs(plain["gt_binaural_magnitude"] - quantised["gt_binaural_magnitude"]).max()
    assert 0 < difference < 0.05
    fast_env = make_env(EnvSettings.from_config(derive_config(env_config, "AUDIO.FAST_STFT", True)))
    fast = run_episode(fast_env, actions)[0][-1]
    assert fast["mixed_binaural_magnitude"].shape == (512, 32, 2)
    assert fast_env.observation_space.contains(fast)
    assert not np.allclose(fast["mixed_binaural_magnitude"], plain["mixed_binaural_magnitude"])


def test_episodes_without_the_extra_fields_resolve_the_same(env_config) -> None:
    env = make_env(EnvSettings.from_config(env_config))
    layout = env.layout
    episodes = load_split(layout, env_config.WORLD.EPISODE_VERSION, env_config.TASK.SPLIT)[:3]
    stripped = copy.deepcopy(episodes)
    for episode in stripped:
        for key in ("start_node", "goal_nodes", "start_heading", "sound_classes"):
            episode.pop(key)
    with_extras = make_env(EnvSettings.from_config(env_config), episodes=episodes).episodes.episodes
    without = make_env(EnvSettings.from_config(env_config), episodes=stripped).episodes.episodes
    assert with_extras == without


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("scene_id", "procedural/no_such_scene/no_such_scene.glb", "no_such_scene"),
        ("sound", "speaker0_999.wav", "speaker0_999.wav"),
        ("start_node", 9999, "9999"),
        ("start_position", [100.0, 0.0, 100.0], "nearest node"),
        ("goals", [], "NUM_SOUNDS_IN_MIX"),
        ("start_idx", 10_000, "start_idx 10000"),
    ],
)
def test_bad_episodes_fail_naming_the_problem(env_config, field, value, message) -> None:
    episode = copy.deepcopy(load_split(make_env(EnvSettings.from_config(env_config)).layout, "v1", "train")[0])
    if field in ("sound", "start_idx"):
        episode["info"][1][field] = value
    elif field == "start_position":
        episode.pop("start_node")
        episode["start_position"] = value
    else:
        episode[field] = value
    with pytest.raises(EpisodeError, match=message):
        make_env(EnvSettings.from_config(env_config), episodes=[episode])
