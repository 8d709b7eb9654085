"""Deterministic seeding: one global seed, derived per process rank and env index."""

from __future__ import annotations

import random

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
