"""Atomic file writes: a reader never sees a half-written file (temp file in the same folder + os.replace)."""

from __future__ import annotations

import json
import os
from typing import Any


def write_bytes_atomic(path: str, payload: bytes) -> str:
    """Write `payload` to `path` atomically; returns the path."""
    temporary = f"{path}.tmp.{os.getpid()}"
    try:
        with open(temporary, "wb") as handle:
            handle.write(payload)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def write_json_atomic(path: str, payload: Any, *, indent: int = 1, sort_keys: bool = False) -> str:
    """Write `payload` as JSON to `path` atomically (the one JSON writer of the project); returns the path."""
    return write_bytes_atomic(path, json.dumps(payload, indent=indent, sort_keys=sort_keys).encode())


def directory_size(path: str) -> int:
    """Bytes of all files under path (recursively)."""
    return sum(os.path.getsize(os.path.join(folder, name)) for folder, _, names in os.walk(path) for name in names)
