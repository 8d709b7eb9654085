"""Default configuration: the single source of truth for every number the system uses.

Every key carries a one-line comment (what it is, its unit, where it matters). Experiment yamls under
configs/ override these; unknown keys and ill-typed values are rejected by get_config.
"""
from __future__ import annotations

from yacs.config import CfgNode as CN

_C = CN()
_C.SEED = 0  # global seed; each process rank and env index derive their own from it (common/seeding.py)
_C.TRAINER_NAME = "world"  # which registered trainer main.py runs (registry: common/registry.py)
_C.ENV_NAME = "AudioSeparationEnv"  # which registered env class the vector env builds
_C.NUM_PROCESSES = 2  # envs per worker process (vectorised); also DataLoader workers where relevant
_C.TORCH_GPU_ID = 0  # CUDA device index used when CUDA is available (ignored on CPU)
_C.MODEL_DIR = ""  # run directory: tb/, data/ (checkpoints), train.log live here (set by --model-dir)
_C.TENSORBOARD_DIR = ""  # derived: <MODEL_DIR>/tb
_C.CHECKPOINT_FOLDER = ""  # derived: <MODEL_DIR>/data
_C.LOG_FILE = ""  # derived: <MODEL_DIR>/train.log
_C.RUN_TYPE = "train"  # "train" or "eval" (set by --run-type)
_C.EVAL_CKPT_PATH_DIR = ""  # eval: a checkpoint file, or a folder polled for new ckpt.N.pth files
_C.NUM_UPDATES = 1000  # trainers: number of optimisation updates (RL) before stopping
_C.NUM_EPOCHS = 10  # trainers with epochs (passive, naf)
_C.CHECKPOINT_INTERVAL = 50  # updates (or epochs) between checkpoints
_C.LOG_INTERVAL = 10  # updates between log lines / tensorboard scalars

# ----------------------------------------------------------------------------------------------------
# Audio: sample rate and STFT, shared by env, models, metrics and eval (audio/stft.py reads these).
# ----------------------------------------------------------------------------------------------------
_C.AUDIO = CN()
_C.AUDIO.SAMPLE_RATE = 16000  # Hz; every waveform in the separation pipeline is at this rate
_C.AUDIO.STEP_SECONDS = 1  # seconds of audio heard per agent step (one observation chunk)
_C.AUDIO.N_FFT = 1023  # STFT size (paper: 1023 -> 512 freq bins)
_C.AUDIO.HOP_LENGTH = 512  # STFT hop in samples (-> 32 frames per 1-s chunk with centring)
_C.AUDIO.WIN_LENGTH = 1023  # STFT window length in samples (Hann)
_C.AUDIO.CENTER = True  # centre frames (pad n_fft//2 each side)
_C.AUDIO.PAD_MODE = "constant"  # padding used by centring: zeros, as in the paper
_C.AUDIO.NUM_FREQ_BINS = 512  # derived check: n_fft // 2 + 1
_C.AUDIO.NUM_FRAMES = 32  # derived check: 1 + step_samples // hop
_C.AUDIO.TARGET_MONO_RMS = 1.2  # ground-truth target mono magnitude rescaled per chunk to this RMS
_C.AUDIO.INT16_ROUNDTRIP = False  # QUIRK of the original: round trip binaural signals through int16
_C.AUDIO.FAST_STFT = False  # use a 1024-point STFT with the Nyquist bin dropped (faster, 512 bins)

# ----------------------------------------------------------------------------------------------------
# World: where the SoundSpaces-layout data lives and how the procedural world is built.
# ----------------------------------------------------------------------------------------------------
_C.WORLD = CN()
_C.WORLD.DATA_ROOT = "data/worlds/default"  # root of a SoundSpaces-layout world (metadata/, binaural_rirs/, ...)
_C.WORLD.DATASET = "procedural"  # dataset name under metadata/ and binaural_rirs/ (mp3d, replica, procedural)
_C.WORLD.BUILD_IF_MISSING = True  # build the procedural world at DATA_ROOT on first use if it is absent
_C.WORLD.PRESET = "default"  # procedural world preset when building: "tiny" (tests) or "default"
_C.WORLD.BUILD_SEED = 0  # seed of the procedural world builder (same seed -> byte-identical files)
_C.WORLD.GRID_SIZE = 1.0  # metres between navigation grid nodes
_C.WORLD.HEADINGS = [0, 90, 180, 270]  # agent headings in degrees (RIR folders are (-heading) mod 360)
_C.WORLD.RIR_SAMPLE_RATE = 16000  # Hz the RIRs are used at; files at another rate are resampled on load
_C.WORLD.ALLOW_MISSING_RIRS = False  # opt-in: a missing RIR file reads as silence with a counted warning
_C.WORLD.USE_PACKED_CACHE = True  # read RIRs from the packed per-scene cache (built on first use)
_C.WORLD.VIEW_RESOLUTION = 128  # pixels of the square egocentric RGB/depth views
_C.WORLD.DEPTH_MAX = 10.0  # metres; depth is normalised to [0, 1] by this (habitat convention)
_C.WORLD.EPISODE_VERSION = "v1"  # active_datasets/<version>/ and passive_datasets/<version>/
_C.WORLD.SOUNDS_DIR = "sounds"  # sound bank folder under DATA_ROOT (heard/ and unheard/ inside)

# ----------------------------------------------------------------------------------------------------
# Task: episode rules shared by the env, the datasets and evaluation.
# ----------------------------------------------------------------------------------------------------
_C.TASK = CN()
_C.TASK.SPLIT = "train"  # episode split: train, val, valUnheard, test, testUnheard
_C.TASK.MAX_EPISODE_STEPS = 20  # steps per episode (= seconds of audio heard)
_C.TASK.NUM_SOUNDS_IN_MIX = 2  # sources per episode: 1 target + (N - 1) distractors
_C.TASK.NEAR_TARGET_RADIUS = 4.0  # metres of geodesic distance within which the agent starts from the target
_C.TASK.SENSORS = ["MIXED_BINAURAL_MAGNITUDE", "GT_MONO", "GT_BINAURAL", "TARGET_CLASS", "POSE", "RGB", "DEPTH"]
# ^ observations the env returns; remove one to switch it off


def get_default_config() -> CN:
    """A fresh, mutable copy of the defaults."""
    return _C.clone()
