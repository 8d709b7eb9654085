"""Deterministic seeding: one global seed, derived per process rank and env index."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np


def derive_seed(base_seed: int, *indices: int) -> int:
    """A stable 31-bit seed for (base_seed, rank, env index, ...) that differs for every index tuple."""
    sequence = np.random.SeedSequence([int(base_seed), *[int(i) for i in indices]])
    return int(sequence.generate_state(1)[0] & 0x7FFFFFFF)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and (if importable) torch."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a requirement, but world tools do not need it
        return
    torch.manual_seed(seed)


@contextlib.contextmanager
def deterministic_cpu_kernels(device) -> Iterator[None]:
    """On a CPU `device`: torch's deterministic kernels inside the block (warn-only), the previous setting
    restored after it; elsewhere nothing changes. With several intra-op threads two runs of the same seed
    drifted apart after 2 updates (the quickstart's RL stage on 2 threads, 2026-12-05; the memory's encoder
    first) and with this they do not: inferred cause, the backward of advanced indexing (index_put_ with
    accumulate, which torch lists as nondeterministic on a CPU). On one thread the bits are unchanged."""
    import torch

    if torch.device(device).type != "cpu":
        yield
        return
    enabled, warn_only = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
