"""The sound bank's mono clips by path, read once per process (rate and channels checked by world.soundspaces)."""

from __future__ import annotations

import numpy as np

from audio_separation.world.soundspaces import read_sound


class ClipLibrary:
    """Mono clips by path, loaded once per env (checked for rate and channels by world.soundspaces)."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._clips: dict[str, np.ndarray] = {}

    def clip(self, path: str) -> np.ndarray:
        if path not in self._clips:
            self._clips[path] = read_sound(path, self.sample_rate, min_seconds=1.0)
        return self._clips[path]

    def num_seconds(self, path: str) -> int:
        return int(self.clip(path).shape[0] // self.sample_rate)
