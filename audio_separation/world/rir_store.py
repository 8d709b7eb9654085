"""A scene's binaural RIRs by (receiver, source, heading): the one way RIRs reach the renderer.

Reads the packed per-scene cache when WORLD.USE_PACKED_CACHE (built on first use) or the wav files
otherwise, both through world/soundspaces.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from audio_separation.world.soundspaces import (
    MissingRIRError,
    PackedSceneRIRs,
    SoundSpacesLayout,
    WorldDataError,
    azimuth_of_heading,
    load_packed_cache,
    read_rir,
)

logger = logging.getLogger("audio_separation")


class SceneRirs:
    """A scene's binaural RIRs by (receiver, source, heading): the packed cache or the wav files."""

    def __init__(
        self,
        layout: SoundSpacesLayout,
        scene: str,
        packed: PackedSceneRIRs | None,
        sample_rate: int,
        allow_missing: bool,
    ) -> None:
        self.layout, self.scene, self.packed = layout, scene, packed
        self.sample_rate, self.allow_missing = sample_rate, allow_missing
        self.missing = 0

    def get(self, receiver: int, source: int, heading: int) -> np.ndarray:
        """(samples, 2) float32."""
        if self.packed is not None:
            try:
                return np.asarray(self.packed.get(receiver, source, heading), dtype=np.float32)
            except KeyError as error:
                raise MissingRIRError(f"scene {self.scene!r}: {error.args[0]}") from None
        path = self.layout.rir_path(self.scene, azimuth_of_heading(heading), receiver, source)
        try:
            return read_rir(path, self.sample_rate)
        except MissingRIRError:
            if not self.allow_missing:
                raise
            self.missing += 1
            if self.missing == 1:
                logger.warning(
                    "%s: missing RIR %s read as silence (WORLD.ALLOW_MISSING_RIRS); further ones are counted in SceneRirs.missing",
                    self.scene,
                    path,
                )
            return np.zeros((1, 2), dtype=np.float32)


def open_scene_rirs(
    layout: SoundSpacesLayout,
    scene: str,
    headings: Sequence[int],
    rir_sample_rate: int,
    audio_sample_rate: int,
    use_packed_cache: bool,
    allow_missing: bool,
) -> SceneRirs:
    """A scene's RIR store: the packed cache (built here when absent or stale) when use_packed_cache, else
    the wav files. Raises WorldDataError when the RIR rate is not the audio rate."""
    packed = None
    if use_packed_cache:
        packed = load_packed_cache(
            layout, scene, [int(h) for h in headings], int(rir_sample_rate), allow_missing=bool(allow_missing)
        )
    if int(rir_sample_rate) != int(audio_sample_rate):
        raise WorldDataError(f"WORLD.RIR_SAMPLE_RATE {rir_sample_rate} Hz != AUDIO.SAMPLE_RATE {audio_sample_rate} Hz")
    return SceneRirs(layout, scene, packed, int(rir_sample_rate), bool(allow_missing))
