"""The sound bank's clips by path, read once per process and converted to what the renderer needs.

A clip at another sample rate or with more than one channel is converted on load (channels averaged to
mono, polyphase resampling to the RIR rate, world/soundspaces.read_clip) with one warning naming it;
scripts/import_sounds.py does the same once for a whole folder. Averaging is chosen over taking one
channel (which loses a source panned to the other side) and over summing (which can clip and changes the
level relative to the mono clips).
"""

from __future__ import annotations

import logging

import numpy as np

from audio_separation.world.soundspaces import WorldDataError, read_clip

logger = logging.getLogger("audio_separation")


class ClipLibrary:
    """Mono clips by path at sample_rate, loaded once per env; shorter than min_seconds is an error."""

    def __init__(self, sample_rate: int, min_seconds: float = 1.0) -> None:
        self.sample_rate = sample_rate
        self.min_seconds = float(min_seconds)
        self._clips: dict[str, np.ndarray] = {}
        self.converted: dict[str, list[str]] = {}  # path -> what was converted on load

    def clip(self, path: str) -> np.ndarray:
        if path not in self._clips:
            data, conversions = read_clip(path, self.sample_rate)
            if conversions:
                self.converted[path] = conversions
                logger.warning(
                    "sound clip %s: %s on load (scripts/import_sounds.py converts a sound bank once)",
                    path,
                    "; ".join(conversions),
                )
            if data.shape[0] < self.min_seconds * self.sample_rate:
                raise WorldDataError(
                    f"{path}: {data.shape[0] / self.sample_rate:.2f} s long, expected at least {self.min_seconds} s"
                )
            data.flags.writeable = False
            self._clips[path] = data
        return self._clips[path]

    def num_seconds(self, path: str) -> int:
        return int(self.clip(path).shape[0] // self.sample_rate)
