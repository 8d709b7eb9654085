"""Opening a world never builds one: a missing world fails with how to build it."""

from __future__ import annotations

import pytest

from audio_separation.world.open import WorldNotFoundError, open_world


def test_open_world_finds_the_tiny_world(tiny_world) -> None:
    root, _ = tiny_world
    layout = open_world(root, "procedural")
    assert layout.root == root and layout.dataset == "procedural"


def test_a_missing_world_says_how_to_build_one(tmp_path) -> None:
    with pytest.raises(WorldNotFoundError, match="scripts/build_world.py") as raised:
        open_world(str(tmp_path / "nothing"), "procedural")
    assert isinstance(raised.value, FileNotFoundError)
    assert not (tmp_path / "nothing").exists()  # nothing was built
