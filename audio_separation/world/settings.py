"""What readers of a world need from the config, as one frozen value (config/default.py's WORLD section)."""

from __future__ import annotations

from dataclasses import dataclass

from audio_separation.world.soundspaces import HEADINGS

DISK_CACHE_POLICIES = ("resampled", "all", "off")  # WORLD.RIR_DISK_CACHE
NAF_PHASE_METHODS = (
    "griffin_lim_minimum",
    "centred_minimum",
    "minimum",
    "random",
    "griffin_lim",
)  # WORLD.NAF_PHASE (naf/waveform_torch.py)


@dataclass(frozen=True)
class WorldSettings:
    """Where a world lives and how it is read (config/default.py documents each field)."""

    data_root: str  # WORLD.DATA_ROOT: root of a SoundSpaces-layout world
    dataset: str = "procedural"  # WORLD.DATASET: name under metadata/ and binaural_rirs/
    sounds_dir: str = "sounds"  # WORLD.SOUNDS_DIR: sound bank folder under data_root
    headings: tuple[int, ...] = (
        HEADINGS  # the grid headings in degrees (world/soundspaces.HEADINGS: fixed by the layout)
    )
    view_resolution: int = 128  # WORLD.VIEW_RESOLUTION: pixels of the square RGB/depth views
    depth_max: float = 10.0  # WORLD.DEPTH_MAX: metres; depth is normalised to [0, 1] by this
    rir_sample_rate: int = 16000  # WORLD.RIR_SAMPLE_RATE: Hz the RIRs are used at
    allow_missing_rirs: bool = False  # WORLD.ALLOW_MISSING_RIRS: a missing RIR file reads as silence
    use_packed_cache: bool = True  # WORLD.USE_PACKED_CACHE: use the builder's packed RIR cache while current
    rir_disk_cache: str = "resampled"  # WORLD.RIR_DISK_CACHE: which RIRs the on-disk cache keeps (resampled, all, off)
    cache_dir: str = "data/cache"  # WORLD.CACHE_DIR: folder of that cache (outside data_root)
    rir_cache_mb: float = 768.0  # WORLD.RIR_CACHE_MB: megabytes of RIR spectra in memory per process
    loop_short_clips: bool = False  # WORLD.LOOP_SHORT_CLIPS: loop clips shorter than an episode
    episode_version: str = "v1"  # WORLD.EPISODE_VERSION: active_datasets/<version>/
    rir_source: str = "wav"  # WORLD.RIR_SOURCE: "wav" (the world's RIR files) or "naf" (a trained NAF per scene)
    naf_checkpoints: str = ""  # WORLD.NAF_CHECKPOINTS: folder of <scene>/data/ckpt.<N>.pth (RIR_SOURCE naf)
    naf_phase: str = "griffin_lim_minimum"  # WORLD.NAF_PHASE: phase of NAF RIRs (NAF_PHASE_METHODS)
    naf_phase_seed: int = 0  # WORLD.NAF_PHASE_SEED: base seed of the per-pair random phase

    def __post_init__(self) -> None:
        if self.rir_disk_cache not in DISK_CACHE_POLICIES:
            raise ValueError(
                f"WORLD.RIR_DISK_CACHE must be one of {list(DISK_CACHE_POLICIES)}, got {self.rir_disk_cache!r}"
            )
        if self.naf_phase not in NAF_PHASE_METHODS:
            raise ValueError(f"WORLD.NAF_PHASE must be one of {list(NAF_PHASE_METHODS)}, got {self.naf_phase!r}")
        if self.rir_source == "naf" and not self.naf_checkpoints:
            raise ValueError("WORLD.RIR_SOURCE naf needs WORLD.NAF_CHECKPOINTS (a folder of <scene>/data/ckpt.<N>.pth)")

    @classmethod
    def from_config(cls, config) -> WorldSettings:
        """The settings of config.WORLD."""
        world = config.WORLD
        return cls(
            data_root=str(world.DATA_ROOT),
            dataset=str(world.DATASET),
            sounds_dir=str(world.SOUNDS_DIR),
            view_resolution=int(world.VIEW_RESOLUTION),
            depth_max=float(world.DEPTH_MAX),
            rir_sample_rate=int(world.RIR_SAMPLE_RATE),
            allow_missing_rirs=bool(world.ALLOW_MISSING_RIRS),
            use_packed_cache=bool(world.USE_PACKED_CACHE),
            rir_disk_cache=str(world.RIR_DISK_CACHE).lower(),
            cache_dir=str(world.CACHE_DIR),
            rir_cache_mb=float(world.RIR_CACHE_MB),
            loop_short_clips=bool(world.LOOP_SHORT_CLIPS),
            episode_version=str(world.EPISODE_VERSION),
            rir_source=str(world.RIR_SOURCE).lower(),
            naf_checkpoints=str(world.NAF_CHECKPOINTS),
            naf_phase=str(world.NAF_PHASE).lower(),
            naf_phase_seed=int(world.NAF_PHASE_SEED),
        )
