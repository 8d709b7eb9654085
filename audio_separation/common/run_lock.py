"""One training run per model dir: <model-dir>/run.lock holds the owner's PID, host and start time.

A second run on the same dir is refused (RunLockedError naming the owner). A lock whose process is gone
(same host, PID not alive, or the PID now belongs to a process started later) is stale: it is taken over
with a warning. A lock written on another host cannot be checked from here and is refused; delete the
file by hand when that run is known to be gone.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time

from audio_separation.common.errors import RunLockedError

logger = logging.getLogger("audio_separation")

LOCK_NAME = "run.lock"


def _process_start_ticks(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot (Linux /proc), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return int(fields[19])  # field 22 of stat; fields here start at field 3
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def lock_owner(model_dir: str) -> dict | None:
    """The lock's content (pid, host, start_ticks, started), {} for an unreadable lock, None without one."""
    path = os.path.join(model_dir, LOCK_NAME)
    try:
        with open(path) as handle:
            content = json.load(handle)
        return content if isinstance(content, dict) else {}
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}


def owner_is_live(owner: dict) -> bool:
    """Whether the run described by a lock's content may still be running (other hosts: assumed live)."""
    if owner.get("host") != socket.gethostname():
        return bool(owner)  # cannot check another host; an unreadable lock ({}) counts as stale
    pid = owner.get("pid")
    if not isinstance(pid, int) or not _alive(pid):
        return False
    ticks = owner.get("start_ticks")
    return ticks is None or _process_start_ticks(pid) in (None, ticks)  # a reused PID is another process


def describe(owner: dict) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(owner.get("started", 0)))
    return f"PID {owner.get('pid')} on {owner.get('host')} (started {started})"


class RunLock:
    """Context manager: holds <model_dir>/run.lock for this process while the block runs."""

    def __init__(self, model_dir: str) -> None:
        self.model_dir = model_dir
        self.path = os.path.join(model_dir, LOCK_NAME)
        self.held = False

    def acquire(self) -> RunLock:
        os.makedirs(self.model_dir, exist_ok=True)
        content = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "start_ticks": _process_start_ticks(os.getpid()),
            "started": time.time(),
        }
        for _ in range(3):
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = lock_owner(self.model_dir)
                if owner is None:
                    continue  # released meanwhile: try again
                if owner_is_live(owner):
                    raise RunLockedError(
                        f"--model-dir {self.model_dir} is in use by another run ({describe(owner)}; lock file "
                        f"{self.path}); wait for it to end, or choose another directory"
                    ) from None
                logger.warning(
                    "taking over the stale lock %s of %s (that process is gone)",
                    self.path,
                    describe(owner) if owner else "an unreadable lock",
                )
                try:
                    os.remove(self.path)
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(descriptor, "w") as handle:
                json.dump(content, handle)
            self.held = True
            return self
        raise RunLockedError(f"could not take the lock {self.path} (another run keeps taking it)")

    def release(self) -> None:
        if not self.held:
            return
        owner = lock_owner(self.model_dir)
        if owner and owner.get("pid") == os.getpid():
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
        self.held = False

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
