"""The passive dataset: 1-s binaural mixtures rendered from the world's passive datapoints.

A datapoint {'r', 'azimuth', 'all_s'} fixes the geometry: the listener at node r, heading
(-azimuth) mod 360 (soundspaces' convention azimuth = (-heading) mod 360), the target at all_s[0] and
distractors at the other nodes. An item adds the sound: a target-eligible class ('target': true in
classes.json) for the target, other classes for the distractors (the episodes' rule,
world/episodes.load_sound_pool), a clip of each class and a whole second of each clip.

    split               scenes  clips     draws (classes, clips, seconds)
    train               train   heard     fresh for every item: keyed by (seed, epoch, position in epoch)
    val                 val     heard     fixed: keyed by (seed, datapoint), the same every epoch
    nonoverlapping_val  val     unheard   fixed, as val

Mixing goes through the env's own renderer (audio/renderer.BinauralRenderer over audio/mixing.py),
built from the same config keys as the env's: RIR lookup, FFT convolution with the AUDIO.CONVOLUTION_CROP
crop, the optional int16 quirk, the STFT and the target's RMS normalisation are the code the agent hears
at RL time.

Scaling (the env's): the mixture is the MEAN of the N sources' binaural signals; the ground-truth
binaural is the target's OWN binaural signal (not divided by N), so where the target dominates the
ideal mask is ~N; the ground-truth mono is the dry chunk's |STFT| rescaled to RMS
AUDIO.TARGET_MONO_RMS (1.2) per chunk.

An item is a dict of float32 (F, T, C) arrays in the env's observation layout:
    mixed_binaural_magnitude  (F, T, 2)  log1p |STFT| of the mixture (the model input)
    gt_binaural_magnitude     (F, T, 2)  |STFT| of the target's binaural signal
    gt_mono_magnitude         (F, T, 1)  |STFT| of the dry target chunk, RMS-normalised
    gt_mono_phase             (F, T, 1)  its phase (radians; for SI-SDR)
    target_class              ()  int64  the target's class label
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from torch.utils.data import Dataset, Sampler
from yacs.config import CfgNode

from audio_separation.audio.renderer import BinauralRenderer
from audio_separation.audio.settings import AudioSettings
from audio_separation.world.clips import ClipLibrary
from audio_separation.world.episodes import PASSIVE_SPLIT_SCENES, load_sound_pool
from audio_separation.world.rir_store import SceneRirs, open_scene_rirs
from audio_separation.world.settings import WorldSettings
from audio_separation.world.soundspaces import (
    SoundSpacesLayout,
    WorldDataError,
    passive_scenes,
    read_passive,
    sound_path,
)

HEARD_CLIPS = {"train": True, "val": True, "nonoverlapping_val": False}  # split -> draws from the heard pool
_TRAIN_STREAM, _VALIDATION_STREAM = 0, 1  # keep train and validation draws apart for equal seeds


@dataclass(frozen=True)
class Datapoint:
    """One passive datapoint: where the listener and the sources are."""

    scene: str
    receiver: int
    heading: int  # degrees, (-azimuth) mod 360
    source_nodes: tuple[int, ...]  # target first


@dataclass(frozen=True)
class ItemDraw:
    """The sound of one item: per source (target first) a clip path and the clip second it plays."""

    clip_paths: tuple[str, ...]
    clip_seconds: tuple[int, ...]
    target_label: int


def read_datapoints(layout: SoundSpacesLayout, version: str, split: str, num_sources: int) -> list[Datapoint]:
    """Every datapoint of a passive split over its scenes (sorted); checks each has num_sources sources."""
    if split not in PASSIVE_SPLIT_SCENES:
        raise ValueError(f"unknown passive split {split!r}; expected one of {sorted(PASSIVE_SPLIT_SCENES)}")
    datapoints = []
    for scene in passive_scenes(layout, version, split):
        path = layout.passive_path(version, split, scene)
        for number, entry in enumerate(read_passive(layout, version, split, scene)):
            try:
                receiver, azimuth, sources = (
                    int(entry["r"]),
                    int(entry["azimuth"]),
                    tuple(int(s) for s in entry["all_s"]),
                )
            except (KeyError, TypeError, ValueError):
                raise WorldDataError(
                    f"{path}: datapoint {number} is not {{'r', 'azimuth', 'all_s'}}: {entry!r}"
                ) from None
            if len(sources) != num_sources:
                raise WorldDataError(
                    f"{path}: datapoint {number} has {len(sources)} sources, TASK.NUM_SOUNDS_IN_MIX is {num_sources}"
                )
            datapoints.append(Datapoint(scene, receiver, (-azimuth) % 360, sources))
    return datapoints


class PassiveDataset(Dataset):
    """Items of one passive split (see the module docstring); index with (epoch, position, datapoint)
    keys from EpochSampler for train, with a plain datapoint index for val splits."""

    def __init__(
        self, config: CfgNode, layout: SoundSpacesLayout, split: str, seed: int, draws_per_datapoint: int = 1
    ) -> None:
        self.config, self.layout, self.split, self.seed = config, layout, split, int(seed)
        self.num_sources = int(config.TASK.NUM_SOUNDS_IN_MIX)
        self.datapoints = read_datapoints(layout, config.WORLD.EPISODE_VERSION, split, self.num_sources)
        self.heard = HEARD_CLIPS[split]
        # the clips an episode can use (at least one episode long; shorter ones are left out with a warning)
        self.pool = load_sound_pool(
            layout,
            self.heard,
            config.WORLD.SOUNDS_DIR,
            seconds_needed=int(config.TASK.MAX_EPISODE_STEPS * config.AUDIO.STEP_SECONDS),
        )
        self.draws_per_datapoint = int(draws_per_datapoint)
        self.num_classes = 1 + max(self.pool.labels.values())
        for scene in sorted({datapoint.scene for datapoint in self.datapoints}):
            self._open_rirs(scene)  # checks the rates here, before any worker starts (reads nothing)
        self._renderer: BinauralRenderer | None = None  # created per process on first use
        self._rirs: dict[str, SceneRirs] = {}

    def __len__(self) -> int:
        """Fixed items of a validation split (train items are as many as the sampler asks for)."""
        return len(self.datapoints) * self.draws_per_datapoint

    # ------------------------------------------------------------------------------------------ draws
    def draw(self, rng: np.random.Generator) -> ItemDraw:
        """Classes (target first), a clip of each and a second of each clip."""
        classes = self.pool.sample_classes(rng, self.num_sources)
        paths, seconds = [], []
        for name in classes:
            clips = self.pool.clips_by_class[name]
            clip = clips[int(rng.integers(len(clips)))]
            paths.append(sound_path(self.layout, clip, self.heard, self.config.WORLD.SOUNDS_DIR))
            seconds.append(int(rng.integers(self.pool.seconds[clip] // int(self.config.AUDIO.STEP_SECONDS))))
        return ItemDraw(tuple(paths), tuple(seconds), int(self.pool.labels[classes[0]]))

    def resolve(self, key: int | tuple[int, int, int]) -> tuple[Datapoint, ItemDraw]:
        """The datapoint and the draw of an item key (deterministic: no state, any process)."""
        if isinstance(key, tuple):  # train: (epoch, position, datapoint)
            epoch, position, index = (int(k) for k in key)
            rng = np.random.default_rng([self.seed, _TRAIN_STREAM, epoch, position])
        else:  # validation: item = draw * datapoints + datapoint
            index, repeat = int(key) % len(self.datapoints), int(key) // len(self.datapoints)
            rng = np.random.default_rng([self.seed, _VALIDATION_STREAM, index, repeat])
        return self.datapoints[index], self.draw(rng)

    # ------------------------------------------------------------------------------------------ rendering
    def _open_rirs(self, scene: str) -> SceneRirs:
        world = WorldSettings.from_config(self.config)
        return open_scene_rirs(
            self.layout,
            scene,
            list(world.headings),
            world.rir_sample_rate,
            int(self.config.AUDIO.SAMPLE_RATE),
            world.use_packed_cache,
            world.allow_missing_rirs,
            world.cache_dir,
            world.rir_disk_cache,
        )

    def renderer(self) -> BinauralRenderer:
        if self._renderer is None:
            config = self.config
            self._renderer = BinauralRenderer.from_settings(
                AudioSettings.from_config(config),
                ClipLibrary(int(config.AUDIO.SAMPLE_RATE)),
                float(config.WORLD.RIR_CACHE_MB),
                int(config.ENV.CLIP_SECOND_CACHE_SIZE),
                keep_freed=bool(config.ENV.KEEP_FREED_MEMORY),
            )
        return self._renderer

    def render(self, datapoint: Datapoint, draw: ItemDraw) -> dict[str, np.ndarray]:
        """The item's arrays (module docstring), rendered exactly as the env renders a step."""
        if datapoint.scene not in self._rirs:
            self._rirs[datapoint.scene] = self._open_rirs(datapoint.scene)
        sources = list(zip(draw.clip_paths, draw.clip_seconds, datapoint.source_nodes))
        audio = self.renderer().render(
            self._rirs[datapoint.scene], datapoint.receiver, datapoint.heading, sources, with_source_binaural=True
        )
        mixture = np.log1p(np.abs(audio.mixture))  # (2, F, T)
        target_binaural = np.abs(audio.source_binaural[0])  # (2, F, T)
        return {
            "mixed_binaural_magnitude": np.ascontiguousarray(mixture.transpose(1, 2, 0), dtype=np.float32),
            "gt_binaural_magnitude": np.ascontiguousarray(target_binaural.transpose(1, 2, 0), dtype=np.float32),
            "gt_mono_magnitude": np.ascontiguousarray(audio.mono_magnitude[0, :, :, None], dtype=np.float32),
            "gt_mono_phase": np.ascontiguousarray(audio.mono_phase[0, :, :, None], dtype=np.float32),
            "target_class": np.int64(draw.target_label),
        }

    def __getitem__(self, key: int | tuple[int, int, int]) -> dict[str, np.ndarray]:
        return self.render(*self.resolve(key))


class EpochSampler(Sampler):
    """Train keys (epoch, position, datapoint): items_per_epoch positions over shuffled datapoints (a
    fresh permutation per pass, seeded by (seed, epoch)); set_epoch before iterating.

    Under DDP each of world_size ranks takes every world_size-th position (the epoch padded by wrapping to
    a multiple of world_size, so every rank runs the same number of steps); `start` skips the first keys
    of this rank's share (a resume in the middle of an epoch)."""

    def __init__(
        self, num_datapoints: int, items_per_epoch: int, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        if num_datapoints < 1:
            raise ValueError("EpochSampler needs at least one datapoint")
        self.num_datapoints = int(num_datapoints)
        self.items_per_epoch = int(items_per_epoch) if items_per_epoch > 0 else self.num_datapoints
        self.seed = int(seed)
        self.rank, self.world_size = int(rank), int(world_size)
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch = int(epoch)
        self.start = int(start)

    @property
    def share(self) -> int:
        """Keys per rank per epoch."""
        return -(-self.items_per_epoch // self.world_size)

    def __len__(self) -> int:
        return max(self.share - self.start, 0)

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        passes = -(-self.items_per_epoch // self.num_datapoints)
        order = np.concatenate([rng.permutation(self.num_datapoints) for _ in range(passes)])
        positions = range(self.rank, self.share * self.world_size, self.world_size)
        for count, padded in enumerate(positions):
            if count < self.start:
                continue
            position = padded % self.items_per_epoch
            yield (self.epoch, position, int(order[position]))
