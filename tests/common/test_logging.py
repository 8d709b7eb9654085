"""Each run's log file gets only that run's lines, also when several runs share a process."""

import logging

from audio_separation.common.logging import setup_logging


def test_a_new_log_file_replaces_the_previous_one(tmp_path):
    first, second = tmp_path / "a" / "train.log", tmp_path / "b" / "train.log"
    logger = setup_logging(str(first))
    logger.info("line of run a")
    setup_logging(str(second))
    setup_logging(str(second))  # idempotent: one handler per file
    logger.info("line of run b")
    for handler in logger.handlers:
        handler.flush()
    assert "line of run a" in first.read_text() and "line of run b" not in first.read_text()
    assert "line of run b" in second.read_text() and "line of run a" not in second.read_text()
    assert sum(isinstance(h, logging.FileHandler) for h in logger.handlers) == 1
    for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
        logger.removeHandler(handler)
        handler.close()
