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
_C.TORCH_GPU_ID = 0  # CUDA device of a plain (non-torchrun) process when CUDA is available; under torchrun each worker uses cuda:LOCAL_RANK
_C.DISTRIBUTED_BACKEND = (
    ""  # torch.distributed backend under torchrun, every trainer ("" = nccl with CUDA, gloo on CPU)
)
_C.MODEL_DIR = ""  # run directory (set by --model-dir): tb/ (tensorboard), data/ (checkpoints) and train.log live here
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
_C.AUDIO.TARGET_MONO_RMS = 1.2  # ground-truth target mono magnitude rescaled per chunk to this RMS
_C.AUDIO.INT16_ROUNDTRIP = False  # QUIRK of the original: round trip binaural signals through int16
_C.AUDIO.CONVOLUTION_CROP = "causal"  # which 1 s of chunk * RIR is heard: "causal" (aligned with the dry chunk) or "same" (spec QUIRK: centred, advances audio by L_rir/2); see audio/mixing.py
_C.AUDIO.FAST_STFT = False  # use a 1024-point STFT with the Nyquist bin dropped (faster, 512 bins)

# ----------------------------------------------------------------------------------------------------
# World: where the SoundSpaces-layout data lives and how the procedural world is built.
# ----------------------------------------------------------------------------------------------------
_C.WORLD = CN()
_C.WORLD.DATA_ROOT = "data/worlds/default"  # root of a SoundSpaces-layout world (metadata/, binaural_rirs/, ...)
_C.WORLD.DATASET = "procedural"  # dataset name under metadata/ and binaural_rirs/ (mp3d, replica, procedural)
_C.WORLD.PRESET = "default"  # procedural world preset the world stage builds (trainer "world"): "tiny" (tests), "default", or "benchmark" (24 furnished apartments, partial RIR set; docs/world.md)
_C.WORLD.BUILD_SEED = 0  # seed of the procedural world builder (same seed -> byte-identical files)
_C.WORLD.RIR_SAMPLE_RATE = 16000  # Hz the RIRs are used at; files at another rate are resampled on load
_C.WORLD.ALLOW_MISSING_RIRS = False  # opt-in: a missing RIR file reads as silence with a counted warning
_C.WORLD.USE_PACKED_CACHE = True  # use the packed RIR cache the world builder writes into a generated world (packed_cache/), each entry only while its wav is unchanged; never built at run time
_C.WORLD.RIR_DISK_CACHE = "resampled"  # which RIRs read from wav files go into the append-only, memory-mapped cache under CACHE_DIR (keyed by file size + mtime and the sample rate): "resampled" (those read at another rate: resampling costs ~ms, a native-rate wav reads faster than the cache), "all" (e.g. a slow network mount), "off"
_C.WORLD.CACHE_DIR = "data/cache"  # folder of the on-disk RIR cache (<CACHE_DIR>/rirs/<dataset>/<scene>/<key>/); never inside DATA_ROOT, so a read-only data root works
_C.WORLD.RIR_CACHE_MB = 768  # megabytes of RIR spectra kept in memory per process (LRU shared by the process's envs; a 1-s 16 kHz RIR's spectrum is ~256 KB)
_C.WORLD.RIR_SOURCE = "wav"  # where the env's binaural RIRs come from: "wav" (the world's files) or "naf" (each scene's trained NAF at (listener node, emitter node, heading); docs/naf.md "NAF as the env's renderer")
_C.WORLD.NAF_CHECKPOINTS = ""  # RIR_SOURCE naf: folder holding <scene>/data/ckpt.<N>.pth (scripts/naf_world.py's layout; the newest is used) or <scene>/ckpt.<N>.pth
_C.WORLD.NAF_PHASE = "griffin_lim_minimum"  # RIR_SOURCE naf: phase of the waveform rebuilt from the predicted magnitudes: "griffin_lim_minimum" (Griffin-Lim from centred minimum phase; keeps the energy), "centred_minimum", "minimum" (loses ~90 % of the energy), "random" (seeded per query), "griffin_lim" (from that random phase); naf/waveform_torch.py
_C.WORLD.NAF_PHASE_SEED = 0  # RIR_SOURCE naf: base seed of the per-(heading, listener, emitter) random phase
_C.WORLD.LOOP_SHORT_CLIPS = (
    False  # a clip with fewer whole seconds than TASK.MAX_EPISODE_STEPS is an error naming it; True loops it instead
)
_C.WORLD.VIEW_RESOLUTION = 128  # pixels of the square egocentric RGB/depth views
_C.WORLD.DEPTH_MAX = 10.0  # metres; depth is normalised to [0, 1] by this (habitat convention)
_C.WORLD.EPISODE_VERSION = "v1"  # active_datasets/<version>/ and passive_datasets/<version>/
_C.WORLD.SOUNDS_DIR = "sounds"  # sound bank folder under DATA_ROOT (heard/ and unheard/ inside)
_C.WORLD.BINAURAL_MODEL = "kemar"  # head in built RIRs: "kemar" (measured HRTF) or "sphere"; docs/hrtf.md
_C.WORLD.CHECK_MAX_PAIRS = 5000  # world check (trainer "world" eval): RIR pairs checked per scene, evenly spread; 0 all

# ----------------------------------------------------------------------------------------------------
# Task: episode rules shared by the env, the datasets and evaluation.
# ----------------------------------------------------------------------------------------------------
_C.TASK = CN()
_C.TASK.SPLIT = "train"  # episode split: train, val, valUnheard, test, testUnheard
_C.TASK.MAX_EPISODE_STEPS = 20  # steps per episode (= seconds of audio heard)
_C.TASK.NUM_SOUNDS_IN_MIX = 2  # sources per episode: 1 target + (N - 1) distractors
_C.TASK.NEAR_TARGET_RADIUS = 4.0  # metres of geodesic distance within which the agent starts from the target
_C.TASK.FAR_TARGET_MIN_DISTANCE = 8.0  # far-target splits (<split>_farTarget, Move2Hear): metres of geodesic distance the start is at least from the target
_C.TASK.SENSORS = ["MIXED_BINAURAL_MAGNITUDE", "GT_MONO", "GT_BINAURAL", "TARGET_CLASS", "POSE", "RGB", "DEPTH"]
_C.TASK.SOURCE_MOTION = CN()  # moving sources (env/source_motion.py; docs/environment.md "Moving sources")
_C.TASK.SOURCE_MOTION.ENABLED = False  # True: the sources SOURCES names walk a path through free space during the episode (needs WORLD.RIR_SOURCE naf: RIRs at continuous positions)
_C.TASK.SOURCE_MOTION.SPEED = (
    0.5  # metres per second along the path; the position is updated once per 1-s step (at the chunk's start)
)
_C.TASK.SOURCE_MOTION.SOURCES = "distractors"  # which sources move: "distractors" (all but the target) or "all"
_C.TASK.SOURCE_MOTION.SEED = (
    0  # base seed of the paths; a source's path depends only on (SEED, episode id, source index)
)
# ^ observations the env returns; remove one to switch it off
# ^ also available: "MIXED_BINAURAL_PHASE" (phase of the mixture, radians; used at evaluation)

# ----------------------------------------------------------------------------------------------------
# Env: the gymnasium environment and its vectorisation (audio_separation/env/).
# ----------------------------------------------------------------------------------------------------
_C.ENV = CN()
_C.ENV.VECTOR_ENV_TYPE = "async"  # "async" (one process per env), "grouped" (ENV.NUM_WORKERS processes, several envs each; fastest when envs > cores), "batched" (all envs as tensor ops on ENV.DEVICE, env/batched_vector.py) or "sync" (one process, debugging)
_C.ENV.NUM_WORKERS = (
    0  # "grouped" only: groups of envs, each stepped by one process (0 = one per available core, at most one per env)
)
_C.ENV.STEP_IN_MAIN_PROCESS = (
    True  # "grouped" only: the calling process steps the first group itself (NUM_WORKERS - 1 worker processes)
)
_C.ENV.MULTIPROCESSING_CONTEXT = "spawn"  # start method of async env processes: "spawn", "forkserver" or "fork"
_C.ENV.AUTORESET_MODE = (
    "same_step"  # vector env autoreset: "same_step" (final obs in info, habitat style) or "next_step"
)
_C.ENV.COPY_OBSERVATIONS = (
    True  # vector envs return fresh arrays each step; False reuses buffers (faster async; overwritten next step)
)
_C.ENV.SHUFFLE_EPISODES = True  # each env visits its episodes in a seeded random order per pass (False: file order)
_C.ENV.MAX_EPISODES_PER_ENV = 0  # keep only the first N episodes of each env's share (0 = all)
_C.ENV.CLIP_SECOND_CACHE_SIZE = 1024  # clip-second spectra + mono STFTs kept per env (LRU); ~230 KB each
_C.ENV.KEEP_FREED_MEMORY = True  # raise glibc's mmap/trim thresholds in env and vector-env processes (common/allocator.py): less CPU per step, speed only
_C.ENV.POSITION_TOLERANCE = 0.1  # metres; an episode position further than this from every graph node is an error
_C.ENV.DEVICE = "cpu"  # batched vector env only: where its envs run and its observations live ("cpu", "cuda" = the current CUDA device, "cuda:N")
_C.ENV.BATCHED_CACHE_MB = (
    1024  # batched vector env only: MiB of device caches (1/2 RIR spectra, 1/4 clip seconds, 1/4 views), LRU within
)

# ----------------------------------------------------------------------------------------------------
# NAF: neural acoustic fields (audio_separation/naf/): data, model, trainer "naf", evaluation.
# Defaults are the paper's settings except the sample rate (the generated world is 16 kHz; set
# SAMPLE_RATE 22050 for Replica-style data as the paper did).
# ----------------------------------------------------------------------------------------------------
_C.NAF = CN()
_C.NAF.SCENE = "apartment_01"  # scene of WORLD.DATA_ROOT / WORLD.DATASET one NAF is trained on
_C.NAF.DATA_DIR = "data/naf"  # per-scene HDF5 + stats + split live in <DATA_DIR>/<dataset>/<scene>/
_C.NAF.LISTENERS = []  # node indices the NAF data is built for as listeners (empty = every node of the scene; large or partial scenes)
_C.NAF.EMITTERS = []  # node indices the NAF data is built for as emitters (empty = every node)
_C.NAF.SAMPLE_RATE = 16000  # Hz the RIRs are (re)sampled to before the STFT (paper: 22050 on Replica)
_C.NAF.N_FFT = 512  # STFT size; n_fft // 2 bins are kept (the Nyquist bin is dropped) -> 256
_C.NAF.HOP_LENGTH = 128  # STFT hop in samples (Hann window of N_FFT, centred frames)
_C.NAF.PAD_MODE = "reflect"  # centring padding of the STFT (the original's old librosa used reflect)
_C.NAF.APPEND_ZEROS = 256  # samples of silence appended to every RIR before the STFT
_C.NAF.MIN_SECONDS = 0.2  # RIRs are zero-padded to at least this long (paper: 4410 samples at 22.05 kHz)
_C.NAF.LOG_EPS = 1e-3  # feature = log(|STFT| + LOG_EPS); also the padding value log(LOG_EPS)
_C.NAF.STD_OFFSET = 0.1  # added to the per-(freq, time) std of the training log-magnitudes
_C.NAF.STD_SCALE = 3.0  # training target = (logmag - mean) / (STD_SCALE * std)
_C.NAF.TRAIN_FRACTION = 0.9  # share of (heading, listener, emitter) triples in the train split
_C.NAF.SPLIT_SEED = 0  # seed of the random train/test split (saved to split.json, reused by every run)
_C.NAF.MODEL = "frame"  # "pixel": the paper's one MLP pass per (t, f, ear); "frame": one pass per time frame -> all bins, both ears
_C.NAF.GRID_SPACING = 0.25  # metres between local feature grid points
_C.NAF.GRID_FEATURES = 64  # feature size of each grid point (listener + emitter -> 2x this)
_C.NAF.GRID_MARGIN = 0.5  # metres the grid (and position normalisation box) extends past the nodes' bounding box
_C.NAF.GRID_OFFSET_SCALE = 0.1  # metres; learned grid point offsets are tanh(.) x this
_C.NAF.GRID_WIDTH_INIT = 0.25  # metres; initial Gaussian width of every grid point
_C.NAF.GRID_WIDTH_MIN = 0.1  # metres; lower clamp of the learned widths
_C.NAF.GRID_WIDTH_MAX = 0.5  # metres; upper clamp of the learned widths
_C.NAF.POSITION_FREQUENCIES = 10  # Fourier frequencies per position coordinate (input kept too)
_C.NAF.POSITION_MAX_LOG2 = 7  # highest position frequency is 2^this
_C.NAF.COORD_FREQUENCIES = 10  # Fourier frequencies of the time / frequency coordinates
_C.NAF.COORD_MAX_LOG2 = 10  # highest time / frequency coordinate frequency is 2^this (after x 2 pi)
_C.NAF.HIDDEN = 512  # MLP width
_C.NAF.NUM_BLOCKS = 6  # LeakyReLU + Linear blocks after the input layer
_C.NAF.SKIP_AFTER = 3  # the 2-layer input skip is added after this many blocks
_C.NAF.BATCH_RIRS = 20  # RIRs per step per process
_C.NAF.PIXELS_PER_RIR = 2000  # pixel model: random (t, f) pixels per RIR per step (both ears)
_C.NAF.FRAMES_PER_RIR = 0  # frame model: random frames per RIR per step (0 = every frame up to max_len)
_C.NAF.PAD_TO_MAX_FRACTION = 0.1  # share of training samples drawn up to max_len (silence past the RIR end)
_C.NAF.DECAY_LOSS_WEIGHT = 0.0  # frame model only (needs FRAMES_PER_RIR 0): weight of the decay loss added to the MSE (batches.decay_curve_loss: squared dB difference / 10 of the DECAY_LOSS_CURVE curves); corrects the too-slow decay plain log-MSE learns (docs/naf.md); 0 = the paper
_C.NAF.DECAY_LOSS_CURVE = "energy"  # what the decay loss compares: "energy" = per-frame energy in dB re the GT's loudest frame (level + decay); "schroeder" = normalised backward-integrated decay curve (shape only)
_C.NAF.DECAY_LOSS_FLOOR_DB = (
    -60.0
)  # dB; decay curves are clamped below this before comparing (the tail under it does not enter T60/EDT)
_C.NAF.EDC_LOSS_WEIGHT = 0.0  # frame model only (needs FRAMES_PER_RIR 0): weight of an extra Schroeder-curve term (squared dB difference / 10, curves clamped at EDC_LOSS_FLOOR_DB, from EDC_LOSS_DOMAIN; batches.waveform_decay_curve_loss / decay_curve_loss "schroeder") on top of the DECAY_LOSS_* term; aims the loss at the -5..-35 dB span T60 reads; 0 = off (the paper)
_C.NAF.EDC_LOSS_FLOOR_DB = (
    -40.0
)  # dB; the Schroeder curves of the EDC term are clamped below this (just under T60's -35 dB point)
_C.NAF.EDC_LOSS_DOMAIN = "waveform"  # where the EDC term's Schroeder curves come from: "waveform" = the waveforms the eval renders (inverse STFT with a uniform random phase, drawn afresh per step and shared by prediction and target; frame-rate curves miss the overlap-add mixing); "frames" = backward-integrated frame energies (did not help T60)
_C.NAF.POSITION_JITTER = 0.1  # metres; std of the Gaussian jitter of training positions
_C.NAF.LR = 5e-4  # AdamW learning rate at the start
_C.NAF.LR_END = 5e-5  # learning rate at the end (exponential decay over NUM_EPOCHS or MAX_TRAIN_SECONDS)
_C.NAF.GRID_WEIGHT_DECAY = 1e-2  # AdamW weight decay of the grid features (0 on everything else)
_C.NAF.MAX_TRAIN_SECONDS = 0.0  # wall-clock training budget in seconds (0 = none; NUM_EPOCHS still caps)
_C.NAF.EVAL_BATCH_RIRS = 8  # RIRs predicted at once during evaluation
_C.NAF.EVAL_MAX_ITEMS = 0  # evaluate only the first N held-out items (0 = all)
_C.NAF.PHASE_METHODS = [
    "random",
    "minimum",
    "griffin_lim",
]  # waveform reconstructions scored at eval ("random" = the paper's)
_C.NAF.PHASE_SEED = 0  # seed of the shared uniform random phase (prediction and ground truth share it)
_C.NAF.GRIFFIN_LIM_ITERATIONS = 32  # iterations of the Griffin-Lim phase option
_C.NAF.EVAL_PLOTS = True  # eval also writes the loudness / t-SNE / probe PNGs (needs the floor plan)
_C.NAF.VIS_RESOLUTION = 0.1  # metres between listener samples of the loudness / t-SNE maps
_C.NAF.VIS_EMITTER_NODE = -1  # node index of the emitter in the maps (-1 = the scene's first node)
_C.NAF.REPORT_PAIRS = 6  # eval writes <model-dir>/eval/index.html with audio and plots for this many held-out (listener, emitter) pairs (0 = no page)
_C.NAF.REPORT_SECONDS = (
    3.0  # seconds of the dry clip (first heard clip of the sound bank) convolved with each pair's RIRs in that page
)

# ----------------------------------------------------------------------------------------------------
# Model: network sizes (audio_separation/models/). Paper sizes by default; smaller widths for CPU.
# ----------------------------------------------------------------------------------------------------
_C.MODEL = CN()
_C.MODEL.SEPARATOR_WIDTH = (
    1.0  # channel factor of both separator U-Nets (1.0 = paper: 64..512 channels, 33.5 M parameters together)
)
_C.MODEL.SEPARATOR_MASK_ACTIVATION = (
    "none"  # QUIRK: "none" = the original's unbounded linear mask; "sigmoid" = N x sigmoid, N = TASK.NUM_SOUNDS_IN_MIX
)

# ----------------------------------------------------------------------------------------------------
# Passive pretraining of the separators (audio_separation/pretrain/, trainer "passive"). Paper values
# by default; epochs = NUM_EPOCHS, checkpoints every CHECKPOINT_INTERVAL epochs, DataLoader workers =
# NUM_PROCESSES.
# ----------------------------------------------------------------------------------------------------
_C.PASSIVE = CN()
_C.PASSIVE.BATCH_SIZE = 128  # training items per optimisation step (paper: 128)
_C.PASSIVE.LR = 5e-4  # Adam learning rate (paper), constant
_C.PASSIVE.ADAM_EPS = 1e-5  # Adam epsilon (paper)
_C.PASSIVE.GRAD_CLIP_NORM = 0.0  # QUIRK: global grad-norm clip after backward; 0 = off, the original's effective behaviour (its clip ran before backward)
_C.PASSIVE.ITEMS_PER_EPOCH = (
    0  # training items per epoch (0 = one per train datapoint); classes, clips, seconds are drawn afresh per item
)
_C.PASSIVE.MAX_TRAIN_SECONDS = 0.0  # wall-clock training budget in seconds (0 = none; NUM_EPOCHS still caps); a cut epoch still validates and saves
_C.PASSIVE.VAL_SEED = 0  # seed of the fixed draws (classes, clips, seconds) of val / nonoverlapping_val during training
_C.PASSIVE.VAL_MAX_ITEMS = 0  # validate on the first N items of each validation split (0 = all)
_C.PASSIVE.EVAL_SEED = (
    1  # seed of the draws --run-type eval scores (not VAL_SEED: checkpoint selection must not pick its own test items)
)
_C.PASSIVE.EVAL_DRAWS_PER_DATAPOINT = 2  # eval scores every validation datapoint this many times with independent draws
_C.PASSIVE.EVAL_CHECKPOINT = "best_ckpt_nonoverlapping_val.pth"  # eval: file in <MODEL_DIR>/data scored when EVAL_CKPT_PATH_DIR is empty (falls back to the latest ckpt.N.pth)
_C.PASSIVE.EVAL_BATCH_SIZE = 64  # items per forward pass in validation and eval
_C.PASSIVE.NUM_THREADS = 0  # torch intra-op threads of the training process (0 = torch's default, one per core)


# ----------------------------------------------------------------------------------------------------
# Active separation RL (audio_separation/rl/, trainers "ddppo" and "ppo"): policy + transformer memory
# trained on top of the frozen passive separators. Paper values by default; NUM_UPDATES updates of one
# episode (MAX_EPISODE_STEPS observations, MAX_EPISODE_STEPS - 1 actions) per env; NUM_PROCESSES envs
# per worker; checkpoints every CHECKPOINT_INTERVAL updates.
# ----------------------------------------------------------------------------------------------------
_C.RL = CN()
_C.RL.SEPARATOR_CHECKPOINT = ""  # passive checkpoint (trainer "passive", e.g. <dir>/data/best_ckpt_nonoverlapping_val.pth) whose separators are used frozen; required
_C.RL.REWARD = "negative_error"  # "negative_error": -MSE(refined current estimate, GT) / RMS^2 (paper; all-zero estimate = -1); "improvement": nMSE_t - nMSE_t+1 (Move2Hear); "pose_gain": the same second's passive nMSE from the previous pose minus from the new one (needs sensor MIXED_BINAURAL_STAY); "still_gain": the same from the episode's start pose (needs MIXED_BINAURAL_START; rl/reward.py)
_C.RL.DISTANCE_REWARD_WEIGHT = 0.0  # far-target (Move2Hear): adds weight x (d_t - d_t+1), the decrease in geodesic distance (metres) to the target, to every transition's reward; 0 = off (near-target)
_C.RL.ZERO_TERMINAL_REWARD = False  # QUIRK: the original gives 0 on the terminal transition; here that transition leads to a scored step (t = 19), so it is rewarded by default
_C.RL.NUM_THREADS = (
    0  # torch intra-op threads per worker (0 = torch's default; set 1 when several workers share few cores)
)
_C.RL.PPO = CN()
_C.RL.PPO.PPO_EPOCH = 4  # passes over each rollout per update
_C.RL.PPO.NUM_MINI_BATCH = 1  # mini-batches (of whole env sequences) per pass; must divide NUM_PROCESSES
_C.RL.PPO.CLIP_PARAM = 0.1  # PPO ratio clip (linearly decayed to 0 over NUM_UPDATES when USE_LINEAR_CLIP_DECAY)
_C.RL.PPO.VALUE_LOSS_COEF = 0.5  # weight of the value loss
_C.RL.PPO.ENTROPY_COEF = 0.01  # weight of the entropy bonus
_C.RL.PPO.LR = 1e-4  # Adam learning rate of the policy (linearly decayed when USE_LINEAR_LR_DECAY)
_C.RL.PPO.EPS = 1e-5  # Adam epsilon of both optimizers
_C.RL.PPO.MAX_GRAD_NORM = 0.5  # global gradient-norm clip of the policy
_C.RL.PPO.GAMMA = 0.99  # discount
_C.RL.PPO.TAU = 0.95  # GAE lambda
_C.RL.PPO.USE_LINEAR_CLIP_DECAY = (
    True  # clip = CLIP_PARAM x (1 - update / NUM_UPDATES), counting only PPO updates (after RL.IMITATION.UPDATES)
)
_C.RL.PPO.USE_LINEAR_LR_DECAY = True  # both learning rates x (1 - update / NUM_UPDATES); the policy's over the PPO updates only, the memory's over all
_C.RL.PPO.USE_NORMALIZED_ADVANTAGE = True  # standardise advantages over the rollout (per worker)
_C.RL.PPO.USE_CLIPPED_VALUE_LOSS = True  # clip the value update around the rollout's values (habitat PPO)
_C.RL.POLICY = CN()
_C.RL.POLICY.HIDDEN_SIZE = 512  # GRU state size (paper 512)
_C.RL.POLICY.EMBEDDING_SIZE = 512  # output size of each encoder (RGB, binaural, mono; paper 512)
_C.RL.POLICY.USE_RGB = True  # encode the RGB view (needs "RGB" in TASK.SENSORS)
_C.RL.POLICY.PREVIOUS_ACTION_SIZE = (
    0  # > 0: the GRU also gets an embedding (this size) of the agent's own previous action (habitat-style); 0 = paper
)
_C.RL.POLICY.INTERAURAL_BANDS = 0  # > 0: also encode the binaural estimate's per-band interaural level difference + level (this many bands; must divide the spectrogram's frequency bins, 512 at the paper's STFT); 0 = paper
_C.RL.MEMORY = CN()
_C.RL.MEMORY.CAPACITY = 20  # entries in the memory window, current included (paper: 19 past + current)
_C.RL.MEMORY.REFINEMENT_WINDOW = (
    14  # past tokens in the memory loss; the final estimate of step s is made at step min(s + this, last)
)
_C.RL.MEMORY.ENCODER_CHANNELS = 16  # channels of the entry CNN; d_model = this x (T/4)^2 (paper 16 -> 1024)
_C.RL.MEMORY.NUM_LAYERS = 2  # pre-LayerNorm transformer encoder layers
_C.RL.MEMORY.NUM_HEADS = 8  # attention heads (must divide d_model)
_C.RL.MEMORY.FFN_SIZE = 1024  # feed-forward width of each layer
_C.RL.MEMORY.DROPOUT = 0.0  # transformer dropout
_C.RL.MEMORY.NEGATIVE_SLOPE = 0.0  # activation of the memory's CNNs (not in the spec): 0 = ReLU; > 0 = LeakyReLU of this slope (few-channel ReLU memories lose units for good early in training)
_C.RL.MEMORY.PREDICT_RESIDUAL = False  # True: refined = passive + learned correction (starts as the passive estimate); False: direct prediction (spec)
_C.RL.MEMORY.TOKEN_SKIP = True  # the up-sampling CNN takes each entry's own skip (spec); False: decode the attended token alone (needs PREDICT_RESIDUAL to keep detail; docs/rl.md)
_C.RL.MEMORY.MIXTURE_INPUT = False  # True: each entry also holds the step's log1p binaural mixture, so the memory can correct the separator (this project's; docs/rl.md); False: the passive estimate only (spec)
_C.RL.MEMORY.LR = 5e-3  # Adam learning rate of the memory's supervised L1 step (linearly decayed with the policy's)
_C.RL.MEMORY.LOSS_CHUNK_TOKENS = -1  # decoded tokens per pass of the memory's loss and backward (same gradient): -1 = auto (32 on a CPU, where it is faster; all at once on a GPU), 0 = all at once
_C.RL.MEMORY.EPOCHS = 1  # supervised memory steps per update, each on the whole rollout
_C.RL.MEMORY.MAX_GRAD_NORM = 0.0  # gradient-norm clip of the memory (0 = off)
_C.RL.MEMORY.REPLAY_EPISODES = 0  # > 0: keep the last this many episodes and train the memory on the rollout's plus replayed ones (rl/memory_replay.py); 0 = the rollout only (the paper)
_C.RL.MEMORY.BATCH_EPISODES = (
    16  # with the replay: episodes per memory step, the rollout's included (must exceed NUM_PROCESSES)
)
_C.RL.MEMORY.FINETUNE_UPDATES = 0  # the last N of NUM_UPDATES train only the memory, on rollouts of the then fixed policy (no PPO step); 0 = off (the paper). docs/rl.md
_C.RL.MEMORY.FINETUNE_LR = 2e-3  # the memory's learning rate over those N updates, linearly decayed to 0 over them
_C.RL.IMITATION = CN()  # imitation warm start of the policy before PPO (rl/imitation.py); off in the paper settings
_C.RL.IMITATION.UPDATES = 0  # the first N of NUM_UPDATES updates are DAgger steps on the expert's labels instead of PPO (0 = pure PPO, the paper)
_C.RL.IMITATION.EXPERT = "approach"  # labelling expert, a baseline agent of env/agents.py; its privileged info (target node) only makes labels
_C.RL.IMITATION.EXPERT_PROBABILITY_START = (
    1.0  # DAgger beta at the first imitation update: chance per step that the expert's action is executed
)
_C.RL.IMITATION.EXPERT_PROBABILITY_END = (
    0.0  # beta at the last imitation update (linear in between); 0 = the policy acts alone by then
)
_C.RL.IMITATION.LR = (
    1e-3  # Adam learning rate of the policy during imitation (PPO's optimizer; PPO's LR and its decay take over after)
)
_C.RL.IMITATION.EPOCHS = 2  # cross-entropy + value steps per imitation rollout

# ----------------------------------------------------------------------------------------------------
# Evaluation of a trained agent (--run-type eval of "ddppo"/"ppo"): metrics JSON, wavs, PNGs, mp4, HTML.
# The split is TASK.SPLIT; EVAL_CKPT_PATH_DIR names one checkpoint or a folder of ckpt.N.pth.
# ----------------------------------------------------------------------------------------------------
_C.EVAL = CN()
_C.EVAL.NUM_EPISODES = 0  # episodes scored per checkpoint (0 = every episode of the split, each once)
_C.EVAL.DETERMINISTIC = True  # policy actions: argmax (True) or sampled (False)
_C.EVAL.AGENT = "policy"  # who acts: the trained "policy", or a registered agent of env/agents.py (random, still, rotate, novelty, heuristic; approach is privileged) through the same separator + memory
_C.EVAL.OUTPUT_DIR = ""  # results folder (default <MODEL_DIR>/eval/<split>/<agent>); one sub-folder per checkpoint
_C.EVAL.MEDIA_EPISODES = 10  # episodes that get wavs, a PNG and an mp4 (0 = none, -1 = all)
_C.EVAL.WRITE_VIDEO = True  # write an mp4 of the views with the binaural mixture (needs ffmpeg on PATH)
_C.EVAL.ESTIMATE_PHASE = "target"  # phase of the separated wav: "target" (GT phase, as the metrics) or "mixture" (mean of the ears' mixture phase)
_C.EVAL.POLL_SECONDS = (
    0.0  # folder mode: > 0 keeps polling for new ckpt.N.pth every N s (habitat); 0 evaluates those present and stops
)
_C.EVAL.SCORED_STEPS = "all"  # an episode's score: "all" = mean over every step's estimate (near-target, the paper); "last" = the final step's estimate only (far-target, Move2Hear)
_C.EVAL.MEMORY_CAPACITY = 0  # > 0: evaluate with a memory window of this many entries instead of the checkpoint's (ablation: 1 = the memory sees only the current step)
_C.EVAL.QUIRK_N_FFT_1022 = False  # QUIRK: invert with the original's n_fft 1022 for SI-SDR


def get_default_config() -> CN:
    """A fresh, mutable copy of the defaults."""
    return _C.clone()
