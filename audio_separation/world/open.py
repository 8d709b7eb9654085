"""Opening a world read-only: the one way runs reach a SoundSpaces-layout data root.

Opening never builds. A missing world is an error that says how to build one; building is its own stage
(trainer "world", scripts/build_world.py, the quickstart's first stage).
"""

from __future__ import annotations

import os

from audio_separation.common.errors import ProjectError
from audio_separation.world.soundspaces import SoundSpacesLayout


class WorldNotFoundError(ProjectError, FileNotFoundError):
    """WORLD.DATA_ROOT holds no <root>/metadata/<WORLD.DATASET> folder."""


def open_world(data_root: str, dataset: str) -> SoundSpacesLayout:
    """The world at data_root (SoundSpaces 1.0 layout, dataset = mp3d, replica or procedural)."""
    metadata = os.path.join(data_root, "metadata", dataset)
    if not os.path.isdir(metadata):
        raise WorldNotFoundError(
            f"no {dataset!r} world at WORLD.DATA_ROOT={data_root} (no folder {metadata}). Build the procedural "
            f"world there first: python scripts/build_world.py --preset default --output-dir {data_root} "
            f"(or: python main.py --exp-config configs/quickstart/world.yaml --run-type train --model-dir runs/world "
            f"WORLD.DATA_ROOT {data_root}); for SoundSpaces data see docs/real-data.md"
        )
    return SoundSpacesLayout(data_root, dataset)
