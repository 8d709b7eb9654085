"""Opening an existing world for reading. Opening never builds: building is its own stage
(scripts/build_world.py, or trainer "world")."""

from __future__ import annotations

import os

from audio_separation.world.soundspaces import SoundSpacesLayout


class WorldNotFoundError(FileNotFoundError):
    """No world (no metadata/<dataset> folder) at the configured root."""


def open_world(data_root: str, dataset: str) -> SoundSpacesLayout:
    """The world at data_root for `dataset`; raises WorldNotFoundError, saying how to build one, when
    <data_root>/metadata/<dataset> is missing."""
    metadata = os.path.join(data_root, "metadata", dataset)
    if not os.path.isdir(metadata):
        raise WorldNotFoundError(
            f"no world at {data_root} (no folder {metadata}; WORLD.DATA_ROOT / WORLD.DATASET). Build one with "
            f"`python scripts/build_world.py --preset default --output-dir {data_root}` or "
            "`python main.py --exp-config configs/quickstart/world.yaml --run-type train ...`, "
            "or point WORLD.DATA_ROOT at an existing SoundSpaces-layout world"
        )
    return SoundSpacesLayout(data_root, dataset)
