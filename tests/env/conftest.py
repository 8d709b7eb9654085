"""Env test helpers: configs derived from the session's tiny world config."""

from __future__ import annotations

import pytest
from yacs.config import CfgNode


def derive_config(config: CfgNode, *opts: object) -> CfgNode:
    """A frozen copy of config with KEY VALUE overrides."""
    derived = config.clone()
    derived.defrost()
    derived.merge_from_list([str(value) if not isinstance(value, list) else value for value in opts])
    derived.freeze()
    return derived


@pytest.fixture(scope="session")
def env_config(tiny_config: CfgNode) -> CfgNode:
    """The tiny world's train split in one in-process env."""
    return derive_config(tiny_config, "ENV.VECTOR_ENV_TYPE", "sync", "NUM_PROCESSES", 1)
