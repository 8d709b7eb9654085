"""Keep freed memory in the process instead of handing it back to the OS after every step.

An env step allocates a few arrays of 100 KB - 1 MB (inverse FFT outputs, windowed STFT frames,
spectrograms) and frees them again. glibc serves allocations above its mmap threshold (128 KB at
start) with fresh mmap'd pages and unmaps them on free, so every step pays page faults for memory it
just released (a third of an env step's CPU time on the default world; docs/environment.md). Raising M_MMAP_THRESHOLD serves such arrays from the heap, and
raising M_TRIM_THRESHOLD keeps the freed heap top mapped for the next step.

The learner in the same process allocates and frees tensors of 1-30 MB on every pass (conv activations
of a rollout, the memory's decoded chunks): the threshold is therefore glibc's maximum (32 MB on 64-bit)
and up to 1 GB of freed heap stays mapped. On the 2-core VM of BENCHMARKS.md this took the PPO and
memory steps of a 16-env update from 3.9 + 3.4 s to 2.8 + 2.6 s, with their system time from ~1 s to ~0
(the price: the process keeps up to 1 GB of freed memory mapped).

This changes nothing but speed; it is process-wide, applies to glibc (Linux) only and is a no-op
elsewhere. Set ENV.KEEP_FREED_MEMORY False to leave the allocator alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform

logger = logging.getLogger("audio_separation")

M_TRIM_THRESHOLD = -1  # glibc mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # allocations below this come from the heap
TRIM_THRESHOLD_BYTES = 1024 * 1024 * 1024  # free heap top kept mapped up to this size

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Apply the thresholds once per process; True if glibc accepted them."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
    if not _applied:
        logger.debug("mallopt refused the allocator thresholds; env steps will be slower")
    return _applied
