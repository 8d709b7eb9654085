"""Counting a model's parameters (one definition for logs, checkpoints and reports)."""

from __future__ import annotations

import torch


def count_parameters(module: torch.nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of `module` (only those with requires_grad when trainable_only)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
