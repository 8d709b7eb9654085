"""A tensorboard SummaryWriter that degrades to a no-op (with one warning) when tensorboard is absent,
and is a no-op on every rank but the main one."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("audio_separation")


class NullWriter:
    """Accepts every SummaryWriter call and does nothing."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None

    def __enter__(self) -> NullWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


def make_writer(log_dir: str, enabled: bool = True, flush_secs: int = 30) -> Any:
    """A SummaryWriter at log_dir, or a NullWriter when disabled or tensorboard cannot be imported."""
    if not enabled or not log_dir:
        return NullWriter()
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        logger.warning("tensorboard logging is off (%s); pip install tensorboard to enable it", error)
        return NullWriter()
    return SummaryWriter(log_dir=log_dir, flush_secs=flush_secs)
