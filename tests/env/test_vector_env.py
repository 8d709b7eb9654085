"""Vectorised envs: scene sharing, per-env seeds, and sync == async."""

from __future__ import annotations

import numpy as np
import pytest

from audio_separation.env import make_env, make_vector_env
from audio_separation.env.episode_set import episodes_for_env
from audio_separation.env.settings import EnvSettings
from audio_separation.world.soundspaces import EmptySplitError
from tests.env.conftest import derive_config


def fake_episodes(counts: dict[str, int]) -> list[dict]:
    return [
        {"episode_id": f"{scene}-{i}", "scene_id": f"d/{scene}/{scene}.glb"}
        for scene, count in counts.items()
        for i in range(count)
    ]


def test_scenes_go_round_robin_over_envs() -> None:
    episodes = fake_episodes({"a": 3, "b": 2, "c": 2, "d": 1})
    shares = [episodes_for_env(episodes, index, 2) for index in range(2)]
    assert {e["scene_id"].split("/")[1] for e in shares[0]} == {"a", "c"}
    assert {e["scene_id"].split("/")[1] for e in shares[1]} == {"b", "d"}
    # fewer scenes than envs: envs sharing a scene split its episodes
    shares = [episodes_for_env(episodes, index, 6) for index in range(6)]
    assert [e["episode_id"] for e in shares[0]] == ["a-0", "a-2"]
    assert [e["episode_id"] for e in shares[4]] == ["a-1"]
    assigned = sorted(e["episode_id"] for share in shares for e in share)
    assert assigned == sorted(e["episode_id"] for e in episodes)  # every episode exactly once
    with pytest.raises(EmptySplitError, match="no episodes"):
        episodes_for_env(fake_episodes({"a": 1}), 1, 2)


def test_sync_and_async_give_identical_observations(env_config) -> None:
    config = derive_config(
        env_config,
        "NUM_PROCESSES",
        2,
        "ENV.MULTIPROCESSING_CONTEXT",
        "fork",
        "TASK.SENSORS",
        ["MIXED_BINAURAL_MAGNITUDE", "GT_MONO", "POSE", "RGB"],
    )
    actions = np.random.default_rng(0).integers(3, size=(22, 2))
    runs = []
    for kind in ("sync", "async"):
        envs = make_vector_env(EnvSettings.from_config(config), vector_env_type=kind)
        observations, infos = envs.reset()
        trace = [(observations, infos["episode_id"].copy())]
        for step_actions in actions:  # crosses the episode boundary at step 19
            observations, _, terminated, _, infos = envs.step(step_actions)
            trace.append(({key: value.copy() for key, value in observations.items()}, infos["episode_id"].copy()))
        envs.close()
        runs.append(trace)
    for (sync_observations, sync_ids), (async_observations, async_ids) in zip(*runs):
        assert list(sync_ids) == list(async_ids)
        for key in sync_observations:
            np.testing.assert_array_equal(sync_observations[key], async_observations[key])
    # the two envs hear different episodes, and env i is the env make_env builds for index i
    assert runs[0][0][1][0] != runs[0][0][1][1]
    single, _ = make_env(EnvSettings.from_config(config), env_index=1, num_envs=2).reset()
    np.testing.assert_array_equal(single["mixed_binaural_magnitude"], runs[0][0][0]["mixed_binaural_magnitude"][1])
