"""Where a built world's sound bank comes from: the preset's synthetic bank, or real recordings from a folder.

    write_world_sounds(sounds_dir, bank_preset, seed, sample_rate, progress, sounds_from=None)

With sounds_from (a folder in world/import_sounds.py's layout, e.g. LibriSpeech speakers and ESC-50 classes
you downloaded under their licences) the recordings replace the synthetic bank before the episodes are
sampled, so episodes name real clips; distractor_classes become distractor-only. Without it the preset's
synthetic bank is built (world/sound_bank.py), exactly as before this option existed.
"""

from __future__ import annotations

import os

from audio_separation.world.import_sounds import import_sounds
from audio_separation.world.sound_bank import build_sound_bank


def write_world_sounds(
    sounds_dir: str,
    bank_preset: str,
    seed: int,
    sample_rate: int,
    progress: bool = True,
    sounds_from: str | None = None,
    distractor_classes: tuple[str, ...] = (),
    min_seconds: float = 20.0,
) -> dict:
    """Write the world's sounds/ folder; returns its classes.json content."""
    if sounds_from is None:
        return build_sound_bank(sounds_dir, preset=bank_preset, seed=seed, sample_rate=sample_rate, progress=progress)
    root, folder = os.path.split(os.path.normpath(sounds_dir))
    return import_sounds(
        sounds_from,
        root,
        sample_rate,
        distractor_classes=tuple(distractor_classes),
        seed=seed,
        min_seconds=min_seconds,
        sounds_folder=folder,
    )
