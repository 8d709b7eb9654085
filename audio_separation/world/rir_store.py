"""A scene's binaural RIRs by (receiver, source, heading): the one way RIRs reach the renderer and NAF.

Lazy: nothing is read when a scene is opened; a RIR is read the first time it is asked for (the renderer
then keeps its spectrum in its byte-bounded LRU, WORLD.RIR_CACHE_MB). Each RIR keeps its own length.
Where a RIR comes from, in order:

1. the packed cache the world builder writes into a generated world (packed_cache/, WORLD.USE_PACKED_CACHE):
   used for an entry only when its source wav still has the size and mtime it had when packed;
2. the on-disk cache under WORLD.CACHE_DIR (world/rir_disk_cache.py, WORLD.RIR_DISK_CACHE): RIRs read
   before, keyed by file identity and read options;
3. the wav file itself (read, resampled to the requested rate, appended to the on-disk cache when the
   policy says so: "resampled" (default) keeps only RIRs read at another rate, because a native-rate
   float wav reads faster (~80 us for 1 s) than a cache append (~150 us) and as fast as a cache lookup,
   while resampling costs milliseconds; "all" keeps every RIR read (a slow network mount); "off").

Before any of these, the wav file is stat'ed: a missing file is a MissingRIRError naming it and the pair,
or silence with WORLD.ALLOW_MISSING_RIRS (counted, warned once), whatever a cache holds. Nothing is ever
written into the data root, so a read-only root works; a cache folder that cannot be written is
warned about once and the store runs without it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
import soundfile

from audio_separation.common.registry import registry
from audio_separation.world.rir_disk_cache import DiskRirCache, cache_key
from audio_separation.world.soundspaces import (
    MissingRIRError,
    PackedSceneRIRs,
    SoundSpacesLayout,
    WorldDataError,
    azimuth_of_heading,
    file_identity,
    load_packed_cache,
    read_rir,
)

logger = logging.getLogger("audio_separation")

RESAMPLED_RATES = (16000, 22050, 44100, 48000)  # rates read_rir resamples from (any other is an error)


class SceneRirs:
    """A scene's binaural RIRs by (receiver, source, heading), read lazily (module docstring)."""

    def __init__(
        self,
        layout: SoundSpacesLayout,
        scene: str,
        packed: PackedSceneRIRs | None,
        sample_rate: int,
        allow_missing: bool,
        cache_dir: str | None = None,
        disk_policy: str = "resampled",
    ) -> None:
        self.layout, self.scene, self.packed = layout, scene, packed
        self.sample_rate, self.allow_missing = sample_rate, allow_missing
        self.cache_dir = cache_dir if disk_policy != "off" else None
        self.disk_policy = disk_policy
        # the renderer's spectrum cache key: this store's data (root, dataset, scene, rate)
        self.cache_key = (os.path.realpath(layout.root), layout.dataset, scene, int(sample_rate))
        self.missing = 0
        self.reads = 0  # wav files read (not served by a cache)
        self.disk_hits = 0  # RIRs served by the on-disk cache
        self.stale_packed = 0
        self._disk: DiskRirCache | None = None
        self._disk_failed = self.cache_dir is None

    def disk_cache(self) -> DiskRirCache | None:
        """The scene's on-disk cache, opened on first need (None when off or not writable)."""
        if self._disk is None and not self._disk_failed:
            key = cache_key(self.layout.root, self.layout.dataset, self.scene, self.sample_rate, RESAMPLED_RATES)
            try:
                self._disk = DiskRirCache(str(self.cache_dir), key)
            except OSError as error:
                self._disk_failed = True
                logger.warning(
                    "RIR disk cache under WORLD.CACHE_DIR=%s is not usable (%s): reading %s/%s RIRs from the wav files only",
                    self.cache_dir,
                    error,
                    self.layout.dataset,
                    self.scene,
                )
        return self._disk

    def get(self, receiver: int, source: int, heading: int) -> np.ndarray:
        """(samples, 2) float32 at self.sample_rate, at the RIR's own length (read-only when cached)."""
        path = self.layout.rir_path(self.scene, azimuth_of_heading(heading), receiver, source)
        identity = file_identity(path)
        if identity is None:
            if not self.allow_missing:
                raise MissingRIRError(
                    f"RIR file not found: {path} (scene {self.scene!r}, receiver {receiver}, source {source}, "
                    f"heading {heading}); WORLD.ALLOW_MISSING_RIRS True reads missing files as silence"
                )
            self.missing += 1
            if self.missing == 1:
                logger.warning(
                    "%s: missing RIR %s read as silence (WORLD.ALLOW_MISSING_RIRS); further ones are counted in SceneRirs.missing",
                    self.scene,
                    path,
                )
            return np.zeros((1, 2), dtype=np.float32)
        if self.packed is not None:
            rir = self.packed.get_if_current(receiver, source, heading, identity)
            if rir is not None:
                return rir
            if receiver in self.packed.node_index and source in self.packed.node_index:
                self.stale_packed += 1
                if self.stale_packed == 1:
                    logger.warning(
                        "%s: %s changed since the packed cache %s was written: reading changed files from the wavs",
                        self.scene,
                        path,
                        self.layout.packed_cache_dir(self.scene),
                    )
        key = (int(heading) % 360, int(receiver), int(source))
        disk = self.disk_cache()
        if disk is not None:
            rir = disk.lookup(key, identity)
            if rir is not None:
                self.disk_hits += 1
                return rir
        if disk is not None and self.disk_policy == "resampled" and file_rate(path) == self.sample_rate:
            disk = None  # a native-rate file reads as fast as the cache would serve it
        rir = read_rir(path, self.sample_rate, RESAMPLED_RATES)
        self.reads += 1
        if disk is not None:
            disk.append(key, identity, rir)
        return rir


def open_scene_rirs(
    layout: SoundSpacesLayout,
    scene: str,
    headings: Sequence[int],
    rir_sample_rate: int,
    audio_sample_rate: int | None = None,
    use_packed_cache: bool = True,
    allow_missing: bool = False,
    cache_dir: str | None = None,
    disk_policy: str = "resampled",
) -> SceneRirs:
    """A scene's lazy RIR store (reads nothing yet). The builder's packed cache is used when present, of
    this rate and these headings (never built here); cache_dir (None = off) holds the on-disk cache.
    Raises WorldDataError when audio_sample_rate is given and differs from the RIR rate."""
    if audio_sample_rate is not None and int(rir_sample_rate) != int(audio_sample_rate):
        raise WorldDataError(f"WORLD.RIR_SAMPLE_RATE {rir_sample_rate} Hz != AUDIO.SAMPLE_RATE {audio_sample_rate} Hz")
    packed = None
    if use_packed_cache and os.path.isfile(os.path.join(layout.packed_cache_dir(scene), "index.json")):
        try:
            packed = load_packed_cache(
                layout, scene, [int(h) for h in headings], int(rir_sample_rate), build_if_missing=False
            )
        except WorldDataError as error:  # e.g. format 1 (before file identities): cannot be checked
            logger.warning(
                "packed RIR cache of %s not used (%s): reading the wav files lazily (same RIRs); rebuild the "
                "world (scripts/build_world.py --overwrite) to get a checked packed cache again",
                scene,
                error,
            )
    return SceneRirs(layout, scene, packed, int(rir_sample_rate), bool(allow_missing), cache_dir, disk_policy)


@registry.register_rir_source(name="wav")
class WavRirSource:
    """WORLD.RIR_SOURCE wav (the default): the world's RIR files through SceneRirs."""

    @staticmethod
    def open(world, layout: SoundSpacesLayout, scene: str, headings: Sequence[int], audio_sample_rate: int | None):
        return open_scene_rirs(
            layout,
            scene,
            headings,
            world.rir_sample_rate,
            audio_sample_rate,
            world.use_packed_cache,
            world.allow_missing_rirs,
            world.cache_dir,
            world.rir_disk_cache,
        )


def open_rir_source(
    world, layout: SoundSpacesLayout, scene: str, headings: Sequence[int], audio_sample_rate: int | None
):
    """A scene's RirSource (audio/renderer.RirSource) of WORLD.RIR_SOURCE (world: world/settings.WorldSettings):
    "wav" is SceneRirs; "naf" is naf/rir_source.NafRirSource, registered there (env/ cannot import naf/)."""
    return registry.get_rir_source(world.rir_source).open(world, layout, scene, headings, audio_sample_rate)


def file_rate(path: str) -> int | None:
    """A sound file's sample rate from its header (None when unreadable: read_rir then names the problem)."""
    try:
        return int(soundfile.info(path).samplerate)
    except Exception:
        return None
