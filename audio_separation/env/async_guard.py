"""gymnasium's AsyncVectorEnv without its hang on a dead worker.

gymnasium waits on the workers' pipes without a deadline, and its close() joins the processes without
one (a worker started with SIGTERM blocked, as RL starts them, also survives terminate()). So one env
process killed by the OOM killer or `kill -9` made the trainer wait forever in `finally: envs.close()`.
GuardedAsyncVectorEnv polls the pipes while checking that every worker is alive, raises WorkerDiedError
naming the env, its PID and how it died within a poll interval, and closes in bounded time (killing
workers that do not exit).
"""

from __future__ import annotations

import signal
import time

from gymnasium.vector import AsyncVectorEnv
from gymnasium.vector.async_vector_env import AsyncState

from audio_separation.common.errors import WorkerDiedError

POLL_SECONDS = 0.2  # how often a wait checks that the workers are alive
CLOSE_SECONDS = 10.0  # a clean close waits at most this long before killing the workers


def _how_it_ended(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


class GuardedAsyncVectorEnv(AsyncVectorEnv):
    """AsyncVectorEnv whose waits and close never hang on a dead worker (see the module docstring)."""

    def _dead_workers(self) -> list[str]:
        return [
            f"env {index} (PID {process.pid}, {_how_it_ended(process.exitcode)})"
            for index, process in enumerate(self.processes)
            if not process.is_alive()
        ]

    def _fail(self, doing: str, error: BaseException | None = None) -> None:
        dead = self._dead_workers()
        self._state = AsyncState.DEFAULT  # nothing to wait for any more: close() must not wait either
        cause = f" ({type(error).__name__}: {error})" if error is not None and str(error) else ""
        raise WorkerDiedError(
            f"async env worker {', '.join(dead) or '(unknown)'} died during {doing}{cause}; "
            f"{len(self.processes)} env processes (ENV.VECTOR_ENV_TYPE async). Killed, or out of memory? "
            "Rerun the same command to resume from the last checkpoint"
        )

    def _wait_for_workers(self, doing: str, timeout: float | None) -> None:
        """Return when every pipe has an answer; WorkerDiedError as soon as a worker is dead."""
        deadline = None if timeout is None else time.perf_counter() + timeout
        pending = list(self.parent_pipes)
        while pending:
            if self._dead_workers():
                self._fail(doing)
            pending = [pipe for pipe in pending if pipe is not None and not pipe.closed and not pipe.poll(0)]
            if not pending:
                return
            if deadline is not None and time.perf_counter() >= deadline:
                return  # gymnasium raises its TimeoutError
            pending[0].poll(POLL_SECONDS)

    def _guarded(self, doing: str, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (EOFError, BrokenPipeError, ConnectionError, OSError) as error:
            # a broken pipe means a worker is gone; give the OS a moment to report which one
            deadline = time.perf_counter() + 2.0
            while not self._dead_workers() and time.perf_counter() < deadline:
                time.sleep(0.01)
            self._fail(doing, error)

    def step_async(self, actions) -> None:
        self._guarded("step", super().step_async, actions)

    def step_wait(self, timeout: float | None = None):
        self._wait_for_workers("step", timeout)
        return self._guarded("step", super().step_wait, timeout)

    def reset_async(self, seed=None, options=None) -> None:
        self._guarded("reset", super().reset_async, seed=seed, options=options)

    def reset_wait(self, timeout: float | None = None):
        self._wait_for_workers("reset", timeout)
        return self._guarded("reset", super().reset_wait, timeout)

    def call_async(self, name: str, *args, **kwargs) -> None:
        self._guarded(f"call {name!r}", super().call_async, name, *args, **kwargs)

    def call_wait(self, timeout: float | None = None):
        self._wait_for_workers("call", timeout)
        return self._guarded("call", super().call_wait, timeout)

    def close_extras(self, timeout: float | None = None, terminate: bool = False) -> None:
        """Close cleanly when every worker is alive and idle, else (or after CLOSE_SECONDS) kill them."""
        deadline = time.perf_counter() + (CLOSE_SECONDS if timeout is None else min(timeout, CLOSE_SECONDS))
        clean = not terminate and self._state == AsyncState.DEFAULT and not self._dead_workers()
        if clean:
            try:
                for pipe in self.parent_pipes:
                    if pipe is not None and not pipe.closed:
                        pipe.send(("close", None))
                for pipe in self.parent_pipes:
                    if pipe is not None and not pipe.closed:
                        if not pipe.poll(max(deadline - time.perf_counter(), 0.0)):
                            break
                        pipe.recv()
            except (EOFError, BrokenPipeError, ConnectionError, OSError):
                pass
        for pipe in self.parent_pipes:
            if pipe is not None:
                pipe.close()
        for process in self.processes:
            process.join(timeout=max(deadline - time.perf_counter(), 0.0))
            if process.is_alive():
                process.kill()  # SIGKILL: RL's workers block SIGTERM
                process.join(timeout=1.0)
