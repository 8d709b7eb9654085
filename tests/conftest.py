"""Shared fixtures: the tiny procedural world, built once per test session."""

from __future__ import annotations

import pytest

from audio_separation.config import get_config


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory):
    """(root, build report) of the tiny world (seed 0)."""
    from audio_separation.world.builder import build_world

    root = str(tmp_path_factory.mktemp("tiny_world"))
    report = build_world(root, preset="tiny", seed=0, workers=2, progress=False)
    return root, report


@pytest.fixture(scope="session")
def tiny_config(tiny_world):
    root, _ = tiny_world
    return get_config(opts=["WORLD.DATA_ROOT", root, "WORLD.PRESET", "tiny"])


@pytest.fixture
def project_log(caplog):
    """caplog that also sees the project logger's records after setup_logging turned its propagation off
    (any main.main call in the session does), at WARNING and above."""
    import logging

    logger = logging.getLogger("audio_separation")
    logger.addHandler(caplog.handler)
    level = logger.level
    logger.setLevel(min(level or logging.WARNING, logging.WARNING))
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.setLevel(level)
