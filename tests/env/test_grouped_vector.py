"""GroupedVectorEnv: several envs per worker process, the same results as SyncVectorEnv."""

from __future__ import annotations

import multiprocessing
import time

import numpy as np
import pytest

from audio_separation.env import make_vector_env
from audio_separation.env.grouped_vector import GroupedVectorEnv, WorkerError, _wait_for_message, split_into_groups
from audio_separation.env.settings import EnvSettings
from tests.env.conftest import derive_config

SENSORS = ["MIXED_BINAURAL_MAGNITUDE", "GT_MONO", "POSE", "RGB"]


def test_split_into_groups() -> None:
    assert split_into_groups(5, 2) == [range(0, 3), range(3, 5)]
    assert split_into_groups(2, 4) == [range(0, 1), range(1, 2)]  # never an empty group
    assert split_into_groups(4, 1) == [range(0, 4)]
    with pytest.raises(ValueError):
        split_into_groups(0, 1)


def test_wait_for_message_polls_for_a_bounded_time() -> None:
    receiving, sending = multiprocessing.Pipe(duplex=False)
    started = time.perf_counter()
    _wait_for_message(receiving, 0.02)  # nothing comes: gives up after its budget, leaving recv to block
    assert 0.02 <= time.perf_counter() - started < 1.0 and not receiving.poll()
    sending.send("step")
    started = time.perf_counter()
    _wait_for_message(receiving, 10.0)  # a message is there: returns at once
    assert time.perf_counter() - started < 1.0 and receiving.recv() == "step"


def _trace(envs, actions: np.ndarray) -> list:
    observations, infos = envs.reset(seed=3)
    trace = [({key: value.copy() for key, value in observations.items()}, list(infos["episode_id"]), None)]
    for step_actions in actions:  # crosses the episode boundary at step 19
        observations, rewards, terminated, truncated, infos = envs.step(step_actions)
        final = None
        if terminated.any():
            final = (
                list(infos["_final_obs"]),
                [None if obs is None else obs["mixed_binaural_magnitude"].copy() for obs in infos["final_obs"]],
                list(infos["final_info"]["episode_id"]),
            )
        trace.append(
            (
                {key: value.copy() for key, value in observations.items()},
                list(infos["episode_id"]),
                (terminated.copy(), final),
            )
        )
    return trace


@pytest.mark.parametrize("in_main", [True, False])
def test_grouped_matches_sync_with_uneven_groups(env_config, in_main: bool) -> None:
    # 3 envs in 2 groups (2 + 1 envs): observations, infos, episode ends and final observations as sync
    config = derive_config(
        env_config,
        "NUM_PROCESSES",
        3,
        "ENV.NUM_WORKERS",
        2,
        "ENV.MULTIPROCESSING_CONTEXT",
        "fork",
        "TASK.SENSORS",
        SENSORS,
        "ENV.STEP_IN_MAIN_PROCESS",
        in_main,
    )
    actions = np.random.default_rng(1).integers(3, size=(21, 3))
    traces = {}
    for kind in ("sync", "grouped"):
        envs = make_vector_env(EnvSettings.from_config(config), vector_env_type=kind)
        if kind == "grouped":
            assert isinstance(envs, GroupedVectorEnv) and [len(group) for group in envs.groups] == [2, 1]
            assert len(envs.processes) == (1 if in_main else 2) and (envs.local is not None) == in_main
            assert (
                envs.observation_space
                == make_vector_env(EnvSettings.from_config(config), vector_env_type="sync").observation_space
            )
        traces[kind] = _trace(envs, actions)
        envs.close()
    ends = 0
    for (sync_obs, sync_ids, sync_end), (grouped_obs, grouped_ids, grouped_end) in zip(
        traces["sync"], traces["grouped"]
    ):
        assert sync_ids == grouped_ids
        for key in sync_obs:
            np.testing.assert_array_equal(sync_obs[key], grouped_obs[key])
        if sync_end is not None:
            np.testing.assert_array_equal(sync_end[0], grouped_end[0])
            if sync_end[1] is not None:
                ends += 1
                assert sync_end[1][0] == grouped_end[1][0] and sync_end[1][2] == grouped_end[1][2]
                for a, b in zip(sync_end[1][1], grouped_end[1][1]):
                    assert (a is None) == (b is None)
                    if a is not None:
                        np.testing.assert_array_equal(a, b)
    assert ends >= 1  # the trace did cross an episode end


def test_grouped_copy_false_reuses_buffers_and_attributes(env_config) -> None:
    config = derive_config(
        env_config,
        "NUM_PROCESSES",
        2,
        "ENV.NUM_WORKERS",
        1,
        "ENV.MULTIPROCESSING_CONTEXT",
        "fork",
        "ENV.COPY_OBSERVATIONS",
        False,
        "TASK.SENSORS",
        SENSORS,
    )
    envs = make_vector_env(EnvSettings.from_config(config), vector_env_type="grouped")
    try:
        first, _ = envs.reset(seed=0)
        kept = first["pose"].copy()
        second, *_ = envs.step(np.array([0, 1]))
        assert second["pose"] is first["pose"]  # the shared buffer itself
        assert not np.array_equal(kept, second["pose"])  # t advanced
        assert envs.get_attr("max_steps") == (env_config.TASK.MAX_EPISODE_STEPS,) * 2
        envs.set_attr("probe_value", [1, 2])
        assert envs.get_attr("probe_value") == (1, 2)
        observations, infos = envs.reset(options={"reset_mask": np.array([False, True])})
        assert list(infos["_episode_id"]) == [False, True]
        np.testing.assert_array_equal(observations["pose"][1], 0.0)  # env 1 restarted
        assert observations["pose"][0][3] == 1.0  # env 0 untouched (t = 1)
        with pytest.raises(ValueError, match="expected 2 actions"):
            envs.step(np.array([0]))
    finally:
        envs.close()


@pytest.mark.parametrize("copy", [True, False])
def test_final_observations_come_through_shared_memory(env_config, copy: bool) -> None:
    # env 0 ends in this process, env 1 in a worker: both final observations are read from the final rows
    # (views of them with COPY_OBSERVATIONS False, copies otherwise); their values against sync are checked
    # in test_grouped_matches_sync_with_uneven_groups
    config = derive_config(
        env_config,
        "NUM_PROCESSES",
        2,
        "ENV.NUM_WORKERS",
        2,
        "ENV.MULTIPROCESSING_CONTEXT",
        "fork",
        "ENV.COPY_OBSERVATIONS",
        copy,
        "TASK.SENSORS",
        SENSORS,
    )
    envs = make_vector_env(EnvSettings.from_config(config), vector_env_type="grouped")
    try:
        envs.reset(seed=0)
        for _ in range(int(env_config.TASK.MAX_EPISODE_STEPS) - 1):
            observations, _, terminated, _, infos = envs.step(np.array([0, 1]))
        assert terminated.all() and list(infos["_final_obs"]) == [True, True]
        for index in range(2):
            final = infos["final_obs"][index]
            assert set(final) == set(observations)
            for key, value in final.items():
                assert np.shares_memory(value, envs._final_observations[key]) != copy
            assert final["pose"][3] == env_config.TASK.MAX_EPISODE_STEPS - 1  # t of the episode's last observation
            assert observations["pose"][index][3] == 0.0  # the next episode's first one
    finally:
        envs.close()


@pytest.mark.parametrize("failing_env", [0, 1])
def test_errors_name_the_cause_and_stop_the_workers(env_config, failing_env: int) -> None:
    # env 0 is stepped in this process (the error itself), env 1 in a worker (WorkerError with its message)
    config = derive_config(
        env_config,
        "NUM_PROCESSES",
        2,
        "ENV.NUM_WORKERS",
        2,
        "ENV.MULTIPROCESSING_CONTEXT",
        "fork",
        "TASK.SENSORS",
        SENSORS,
    )
    envs = make_vector_env(EnvSettings.from_config(config), vector_env_type="grouped")
    envs.reset(seed=0)
    actions = np.array([0, 0])
    actions[failing_env] = 7
    with pytest.raises(WorkerError if failing_env else ValueError, match="unknown action 7"):
        envs.step(actions)
    assert envs.closed and not any(process.is_alive() for process in envs.processes)
    with pytest.raises(ValueError, match="NUM_WORKERS"):
        make_vector_env(
            EnvSettings.from_config(derive_config(config, "ENV.NUM_WORKERS", -1)), vector_env_type="grouped"
        )
