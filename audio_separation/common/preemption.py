"""Preemption safety for every trainer: SIGTERM / SIGUSR1 ask the trainer to stop at the end of the
current step (RL: update), where rank 0 writes a resumable state (<checkpoint folder>/resume_state.pth)
and the process exits with status 128 + the signal's number; the same command run again resumes exactly.

Env worker processes are started with these signals blocked (`signals_blocked`), so a signal sent to
the whole process group (Slurm, torchrun) does not kill the envs before the state is written.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator

logger = logging.getLogger("audio_separation")

PREEMPTION_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
RESUME_STATE_NAME = "resume_state.pth"


@contextlib.contextmanager
def signals_blocked(signals: tuple[int, ...] = PREEMPTION_SIGNALS) -> Iterator[None]:
    """Block the signals while the block runs. Child processes started inside inherit the blocked mask
    (a signal sent to the whole process group does not kill them); in this process a signal that arrives
    meanwhile stays pending and is delivered when the block ends (not lost)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class PreemptionFlag:
    """Catches the preemption signals while installed; `requested` turns True when one arrives."""

    def __init__(self, signals: tuple[int, ...] = PREEMPTION_SIGNALS) -> None:
        self.signals = signals
        self.requested = False
        self.signal_number = 0  # the signal that arrived (0: none, or a request made without a signal)
        self._previous: dict[int, object] = {}

    def _handle(self, number: int, frame) -> None:
        self.requested = True
        self.signal_number = number
        logger.warning("received %s: saving a resumable state at the end of this update", signal.Signals(number).name)

    def install(self) -> PreemptionFlag:
        if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread only
            self._previous = {number: signal.signal(number, self._handle) for number in self.signals}
        return self

    def uninstall(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}


def exit_status(flag: PreemptionFlag) -> int:
    """128 + the signal's number (the Unix convention for a process stopped by a signal)."""
    return 128 + int(flag.signal_number or signal.SIGTERM)
