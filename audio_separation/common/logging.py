"""A plain-text log file per run (<model-dir>/train.log) mirrored to stderr."""

from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger("audio_separation")


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of each record (not the stream of setup time, which a
    test's capture or a redirect may have closed since)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def setup_logging(log_file: str | None = None, level: int = logging.INFO) -> logging.Logger:
    """Configure the package logger: stderr always, plus log_file when given. A new log_file replaces the
    previous run's file handler (several runs in one process, e.g. the quickstart, each log to their own file)."""
    logger.setLevel(level)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    if not any(
        isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler) for h in logger.handlers
    ):
        stream = _CurrentStderrHandler()
        stream.setFormatter(formatter)
        logger.addHandler(stream)
    if log_file:
        path = os.path.abspath(log_file)
        for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler) and h.baseFilename != path]:
            logger.removeHandler(handler)
            handler.close()
        if not any(isinstance(h, logging.FileHandler) and h.baseFilename == path for h in logger.handlers):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            file_handler = logging.FileHandler(path)
            file_handler.setFormatter(formatter)
            logger.addHandler(file_handler)
    logger.propagate = False
    return logger
