"""A vector env that runs its envs in a few worker processes, several envs per worker.

gymnasium's AsyncVectorEnv gives every env its own process. On a machine with fewer cores than envs
that costs a pipe round trip, a wake-up and a cold cache per env-step. GroupedVectorEnv splits the
envs into ENV.NUM_WORKERS contiguous groups (0 = one per core, at most one per env); each group's
process steps its envs one after another, and they write their observations straight into a
shared-memory batch (AudioSeparationEnv.set_observation_buffers), so a vector step costs one round trip
per worker process, and the groups run in parallel. An episode's last observation (info["final_obs"])
goes through a second shared-memory batch too (a few small messages instead of ~1 MB pickled through
the pipe per episode end). With ENV.STEP_IN_MAIN_PROCESS the calling process
steps the first group itself while the workers step theirs (it would only wait otherwise), so 2 groups
on 2 cores need one worker process. Both sides poll their pipe for up to SPIN_WAIT_SECONDS before
blocking on it (_wait_for_message), so that a short wait does not halt their core.

Semantics match gymnasium's SyncVectorEnv: the same autoreset modes ("same_step": the next episode's
first observation is returned and the last one is in info["final_obs"]; "next_step"; "disabled"), the
same seeds (an int seeds env i with seed + i), the same info dicts (key + "_key" mask), so the same
config, seeds and actions give identical observations whichever vectorisation runs them. An error in a
worker is raised in the parent with the worker's message.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from copy import deepcopy
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, create_shared_memory, read_from_shared_memory, write_to_shared_memory

from audio_separation.common.allocator import keep_freed_memory
from audio_separation.common.errors import WorkerDiedError


class WorkerError(WorkerDiedError):
    """An exception raised inside a worker process, re-raised in the parent with its traceback text."""


FINAL_OBS_IN_SHARED_MEMORY = "final observation in the shared final-observation rows"  # info["final_obs"] placeholder
SPIN_WAIT_SECONDS = 0.001  # how long a process polls its pipe before blocking on it (_wait_for_message)
_yield_core = getattr(os, "sched_yield", lambda: None)  # (Unix only)


def _wait_for_message(pipe, seconds: float) -> None:
    """Return once the pipe has a message or `seconds` have passed, polling it and yielding the core to
    any other runnable process meanwhile (os.sched_yield), so that an oversubscribed machine loses
    nothing; the blocking recv that follows takes over after that. Why: the waits of a vector step are
    short (the other side's last env-step, the caller's bookkeeping), and a process that blocks lets its
    core go idle; on a VM whose idle vCPUs halt at once (cpuidle haltpoll with guest_halt_poll_ns 0, as
    on the benchmark machine) waking it again costs a VM exit and an interrupt per message (the
    measured gain: docs/environment.md, BENCHMARKS.md)."""
    deadline = time.perf_counter() + seconds
    while not pipe.poll(0):
        if time.perf_counter() >= deadline:
            return
        _yield_core()


def split_into_groups(count: int, groups: int) -> list[range]:
    """`count` envs as `groups` contiguous ranges whose sizes differ by at most one (larger first)."""
    if count < 1 or groups < 1:
        raise ValueError(f"need at least one env and one group, got {count} envs, {groups} groups")
    groups = min(groups, count)
    size, extra = divmod(count, groups)
    ranges, start = [], 0
    for index in range(groups):
        stop = start + size + (1 if index < extra else 0)
        ranges.append(range(start, stop))
        start = stop
    return ranges


def default_num_workers(num_envs: int) -> int:
    """One worker per available core, at most one per env."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(num_envs, cores))


class GroupedVectorEnv(VectorEnv):
    """len(env_fns) envs in num_workers groups; see the module docstring."""

    def __init__(
        self,
        env_fns: Sequence[Callable[[], gym.Env]],
        num_workers: int = 0,
        context: str | None = "spawn",
        copy: bool = True,
        autoreset_mode: AutoresetMode = AutoresetMode.SAME_STEP,
        keep_freed: bool = True,
        step_in_main_process: bool = True,
        spin_seconds: float = SPIN_WAIT_SECONDS,
    ) -> None:
        self.num_envs = len(env_fns)
        self.copy = copy
        self.autoreset_mode = autoreset_mode
        self.metadata = {"autoreset_mode": autoreset_mode}
        self.render_mode = None
        self.closed = False
        self.parent_pipes, self.processes = [], []
        self.local: EnvGroup | None = None
        self.spin_seconds = float(spin_seconds)

        self.groups = split_into_groups(self.num_envs, num_workers or default_num_workers(self.num_envs))
        probe = env_fns[0]()  # the spaces, as gymnasium's AsyncVectorEnv finds them (kept as env 0 if stepped here)
        self.single_observation_space = probe.observation_space
        self.single_action_space = probe.action_space
        self.metadata.update(
            {key: value for key, value in getattr(probe, "metadata", {}).items() if key != "autoreset_mode"}
        )
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

        ctx = multiprocessing.get_context(context)
        self._shared = create_shared_memory(self.single_observation_space, n=self.num_envs, ctx=ctx)
        self._observations = read_from_shared_memory(self.single_observation_space, self._shared, n=self.num_envs)
        self._final_shared = create_shared_memory(self.single_observation_space, n=self.num_envs, ctx=ctx)
        self._final_observations = read_from_shared_memory(
            self.single_observation_space, self._final_shared, n=self.num_envs
        )
        remote = self.groups[1:] if step_in_main_process else self.groups
        if not step_in_main_process:
            probe.close()
            del probe
        for group in remote:
            parent, child = ctx.Pipe()
            process = ctx.Process(
                target=_worker,
                name=f"GroupedVectorEnv-worker-{group.start}-{group.stop - 1}",
                args=(
                    [env_fns[i] for i in group],
                    group.start,
                    self.num_envs,
                    self.single_observation_space,
                    (self._shared, self._final_shared),
                    child,
                    autoreset_mode,
                    keep_freed,
                    self.spin_seconds,
                ),
                daemon=True,
            )
            process.start()
            child.close()
            self.parent_pipes.append(parent)
            self.processes.append(process)
        if step_in_main_process:
            if keep_freed:
                keep_freed_memory()
            try:
                envs = [probe] + [env_fns[i]() for i in self.groups[0][1:]]
            except Exception:
                self.close(terminate=True)
                raise
            self.local = EnvGroup(
                envs,
                0,
                self.num_envs,
                self.single_observation_space,
                (self._shared, self._final_shared),
                autoreset_mode,
            )
        self._receive_all()  # each worker reports its envs built (or the error that stopped it)

    # ------------------------------------------------------------------------------------------ protocol
    def _run(self, command: str, per_group: Sequence[Any]) -> list[Any]:
        """Send a command to every worker, run the local group's share meanwhile, and gather the results
        in group order."""
        remote = per_group[1:] if self.local is not None else per_group
        for pipe, payload in zip(self.parent_pipes, remote):
            pipe.send((command, payload))
        results = []
        if self.local is not None:
            try:
                results.append(self.local.handle(command, per_group[0]))
            except Exception:
                self.close(terminate=True)
                raise
        return results + self._receive_all()

    def _receive_all(self) -> list[Any]:
        results, error = [], None
        for pipe, process in zip(self.parent_pipes, self.processes):
            try:
                _wait_for_message(pipe, self.spin_seconds)
                status, payload = pipe.recv()
            except (EOFError, ConnectionResetError):
                status, payload = "error", f"worker {process.name} died (exit code {process.exitcode})"
            if status == "error" and error is None:
                error = payload
            results.append(payload)
        if error is not None:
            self.close(terminate=True)
            raise WorkerError(error)
        return results

    def _observations_out(self):
        return deepcopy(self._observations) if self.copy else self._observations

    def _merge_infos(self, per_group: list[list[tuple[int, dict]]]) -> dict[str, Any]:
        infos: dict[str, Any] = {}
        for group, items in zip(self.groups, per_group):
            for local_index, info in items:
                if isinstance(info.get("final_obs"), str) and info["final_obs"] == FINAL_OBS_IN_SHARED_MEMORY:
                    info["final_obs"] = self._final_observation(group.start + local_index)
                infos = self._add_info(infos, info, group.start + local_index)
        return infos

    def _final_observation(self, index: int) -> dict[str, np.ndarray]:
        """Env index's last observation from the final-observation rows: views with COPY_OBSERVATIONS False
        (valid until that env's next episode ends), copies otherwise."""
        rows = {key: value[index] for key, value in self._final_observations.items()}
        return {key: value.copy() for key, value in rows.items()} if self.copy else rows

    # ------------------------------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None):
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, (int, np.integer)):
            seeds = [int(seed) + index for index in range(self.num_envs)]
        else:
            seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise ValueError(
                f"If seeds are passed as a list the length must match num_envs={self.num_envs} but got length={len(seeds)}."
            )
        options = dict(options) if options else None
        mask = None
        if options is not None and "reset_mask" in options:
            mask = np.asarray(options.pop("reset_mask"))
            if mask.shape != (self.num_envs,) or mask.dtype != np.bool_ or not mask.any():
                raise ValueError(
                    f"options['reset_mask'] must be a bool array of shape ({self.num_envs},) with a True value, got {mask!r}"
                )
        results = self._run(
            "reset",
            [
                ([seeds[i] for i in group], options, None if mask is None else mask[group.start : group.stop])
                for group in self.groups
            ],
        )
        infos = self._merge_infos(results)  # every group has written its rows once it answers
        return self._observations_out(), infos

    def step(self, actions):
        actions = np.asarray(actions)
        if actions.shape[:1] != (self.num_envs,):
            raise ValueError(f"expected {self.num_envs} actions, got an array of shape {actions.shape}")
        results = self._run("step", [actions[group.start : group.stop] for group in self.groups])
        rewards = np.concatenate([result[0] for result in results])
        terminations = np.concatenate([result[1] for result in results])
        truncations = np.concatenate([result[2] for result in results])
        infos = self._merge_infos([result[3] for result in results])
        return self._observations_out(), rewards, terminations, truncations, infos

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Call (or read, if not callable) `name` on every env, in env order."""
        return tuple(
            value for values in self._run("call", [(name, args, kwargs)] * len(self.groups)) for value in values
        )

    def get_attr(self, name: str) -> tuple[Any, ...]:
        return self.call(name)

    def set_attr(self, name: str, values: Any) -> None:
        if not isinstance(values, (list, tuple)):
            values = [values] * self.num_envs
        if len(values) != self.num_envs:
            raise ValueError(f"values has length {len(values)}, expected {self.num_envs}")
        self._run("set_attr", [(name, [values[i] for i in group]) for group in self.groups])

    def close_extras(self, terminate: bool = False, **kwargs: Any) -> None:
        if self.local is not None:
            self.local.close()
        for pipe, process in zip(self.parent_pipes, self.processes):
            if terminate or not process.is_alive():
                continue
            try:
                pipe.send(("close", None))
                pipe.recv()
            except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
                pass
        for process in self.processes:
            if terminate and process.is_alive():
                process.terminate()
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join()
        for pipe in self.parent_pipes:
            pipe.close()

    def close(self, **kwargs: Any) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_extras(**kwargs)


# ============================================================================================ groups
class EnvGroup:
    """Envs offset .. offset + len(envs) - 1 of a vector, stepped one after another (SyncVectorEnv's
    autoreset rules), their observations written into the shared-memory rows of the batch."""

    def __init__(
        self, envs: list[gym.Env], offset: int, total: int, space, shared: tuple, autoreset_mode: AutoresetMode
    ) -> None:
        """shared: the (observations, final observations) shared-memory batches of all `total` envs."""
        self.envs, self.offset, self.space = envs, offset, space
        self.shared, final_shared = shared
        self.autoreset_mode = autoreset_mode
        self.needs_autoreset = [False] * len(envs)
        rows = read_from_shared_memory(space, self.shared, n=total)  # views of the whole batch
        final_rows = read_from_shared_memory(space, final_shared, n=total)
        self.direct = []  # envs that write their observations straight into their rows
        self.final_rows: list[
            dict[str, np.ndarray] | None
        ] = []  # where a direct env's last observation of an episode goes
        for index, env in enumerate(envs):
            direct = (
                not isinstance(env, gym.Wrapper) and hasattr(env, "set_observation_buffers") and isinstance(rows, dict)
            )
            if direct:
                env.set_observation_buffers({key: value[offset + index] for key, value in rows.items()})
            self.direct.append(direct)
            self.final_rows.append(
                {key: value[offset + index] for key, value in final_rows.items()} if direct else None
            )

    def _publish(self, index: int, observation) -> None:
        if not self.direct[index]:
            write_to_shared_memory(self.space, self.offset + index, observation, self.shared)

    def handle(self, command: str, payload: Any) -> Any:
        if command == "step":
            return self.step(payload)
        if command == "reset":
            return self.reset(*payload)
        if command == "call":
            name, args, kwargs = payload
            values = []
            for env in self.envs:
                attribute = getattr(env, name)
                values.append(attribute(*args, **kwargs) if callable(attribute) else attribute)
            return values
        if command == "set_attr":
            name, values = payload
            for env, value in zip(self.envs, values):
                setattr(env, name, value)
            return None
        raise ValueError(f"unknown command {command!r}")

    def step(self, actions) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, dict]]]:
        count = len(self.envs)
        rewards = np.zeros(count, dtype=np.float64)
        terminations = np.zeros(count, dtype=np.bool_)
        truncations = np.zeros(count, dtype=np.bool_)
        infos: list[tuple[int, dict]] = []
        for index, (env, action) in enumerate(zip(self.envs, actions)):
            if self.autoreset_mode == AutoresetMode.NEXT_STEP and self.needs_autoreset[index]:
                observation, info = env.reset()
            else:
                if self.autoreset_mode == AutoresetMode.DISABLED and self.needs_autoreset[index]:
                    raise RuntimeError(
                        f"env {self.offset + index} stepped after its episode ended with AUTORESET_MODE disabled; reset it first"
                    )
                observation, rewards[index], terminations[index], truncations[index], info = env.step(action)
                if self.autoreset_mode == AutoresetMode.SAME_STEP and (terminations[index] or truncations[index]):
                    final = observation
                    if self.direct[
                        index
                    ]:  # reset overwrites the rows: keep it in the final rows, the parent reads it there
                        for key, row in self.final_rows[index].items():
                            np.copyto(row, observation[key])
                        final = FINAL_OBS_IN_SHARED_MEMORY
                    infos.append((index, {"final_obs": final, "final_info": info}))
                    observation, info = env.reset()
            self.needs_autoreset[index] = bool(terminations[index] or truncations[index])
            self._publish(index, observation)
            infos.append((index, info))
        return rewards, terminations, truncations, infos

    def reset(self, seeds: list, options: dict | None, mask) -> list[tuple[int, dict]]:
        infos = []
        for index, (env, seed) in enumerate(zip(self.envs, seeds)):
            if mask is not None and not mask[index]:
                continue
            observation, info = env.reset(seed=seed, options=options)
            self.needs_autoreset[index] = False
            self._publish(index, observation)
            infos.append((index, info))
        return infos

    def close(self) -> None:
        for env in self.envs:
            env.close()
        self.envs = []


def _worker(
    env_fns,
    offset: int,
    total: int,
    space,
    shared: tuple,
    pipe,
    autoreset_mode: AutoresetMode,
    keep_freed: bool,
    spin_seconds: float,
) -> None:
    torch.set_num_threads(
        1
    )  # a worker steps envs one after another; its FFTs must not fight the other groups for cores
    if keep_freed:
        keep_freed_memory()
    try:
        group = EnvGroup([env_fn() for env_fn in env_fns], offset, total, space, shared, autoreset_mode)
        pipe.send(("ok", None))
    except Exception:  # noqa: BLE001 -- reported to the parent, which raises it
        pipe.send(("error", _describe(offset, "building the envs")))
        pipe.close()
        return
    while True:
        try:
            _wait_for_message(pipe, spin_seconds)
            command, payload = pipe.recv()
        except (EOFError, KeyboardInterrupt):
            break
        if command == "close":
            pipe.send(("ok", None))
            break
        try:
            pipe.send(("ok", group.handle(command, payload)))
        except Exception:  # noqa: BLE001 -- reported to the parent, which raises it
            pipe.send(("error", _describe(offset, f"command {command!r}")))
    group.close()
    pipe.close()


def _describe(offset: int, what: str) -> str:
    kind, error, _ = sys.exc_info()
    return f"env worker (envs from {offset}) failed while {what}: {kind.__name__}: {error}\n{traceback.format_exc()}"
