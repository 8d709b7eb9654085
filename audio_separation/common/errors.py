"""The project's own errors: what went wrong with the input, the data or a worker, in one sentence.

Every error raised about bad input (config keys and files, world data, checkpoints, numbers that went
non-finite, a dead worker, a model dir in use) derives from ProjectError. main.py prints such an error
as one line `error: <message>` and exits with its exit_code; any other exception is a bug and keeps its
traceback. AUDIO_SEPARATION_DEBUG=1 (or main.py --debug) shows the traceback of project errors too.

Subclasses also derive from the builtin they used to be (ValueError, RuntimeError, ...), so callers
that catch those keep working.
"""

from __future__ import annotations

import os

DEBUG_VARIABLE = "AUDIO_SEPARATION_DEBUG"


class ProjectError(Exception):
    """Base of every error this project raises about its input, data or workers (message names the cause)."""

    exit_code = 1


class NonFiniteError(ProjectError, FloatingPointError):
    """A loss, a gradient or data turned NaN / Inf; the message names the step, the values and likely causes."""


class WorkerDiedError(ProjectError, RuntimeError):
    """A worker process (env, DataLoader, distributed peer) died or stopped answering."""


class RunLockedError(ProjectError, RuntimeError):
    """Another live run holds the model dir's lock."""


class ResumeMismatchError(ProjectError, ValueError):
    """A run would resume from a checkpoint written with other hyper-parameters that must not change."""


def debug_enabled() -> bool:
    """True when AUDIO_SEPARATION_DEBUG is set to anything but '', '0' or 'false'."""
    return os.environ.get(DEBUG_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def worker_message(error: BaseException) -> str:
    """The message of an error re-raised from a worker process (DataLoader wraps the worker's traceback
    into it): its last line, the original 'Type: message'."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    if len(lines) > 1 and any("Traceback" in line for line in lines):
        last = lines[-1]
        name = type(error).__name__
        return last[len(name) + 2 :] if last.startswith(f"{name}: ") else last
    return str(error)
