"""Bring your own sounds: a folder of audio files -> the sound bank layout of a world.

Input (SRC): one sub-folder per class (SRC/<class>/<anything>.<ext>) or files named
<class>_<anything>.<ext> directly in SRC; ext = wav, flac, ogg or mp3. Output under <root>/<sounds>/:
heard/<class>_<id>.wav and unheard/<class>_<id>.wav (mono float32 at `sample_rate`, the RIR rate) and
classes.json ({"classes": [{name, kind, target, label}], "sample_rate", "heard", "unheard", ...}).

Every clip is downmixed to mono (channels averaged) and resampled to the RIR rate (polyphase), exactly as
the env converts a clip at run time (world/soundspaces.read_clip); each conversion is logged. Per class, a
seeded shuffle puts round(unheard_fraction x clips) clips into unheard (a class with one clip stays
heard-only). Classes named in distractor_classes get "target": false (distractor only). A clip shorter
than min_seconds (an episode's span, TASK.MAX_EPISODE_STEPS seconds) is refused: ShortClipError lists
every such clip, or, with skip_short, they are left out and listed in the result and the log.
"""

from __future__ import annotations

import logging
import os
import shutil

import numpy as np
import soundfile as sf

from audio_separation.common.files import write_json_atomic
from audio_separation.world.soundspaces import WorldDataError, read_clip

logger = logging.getLogger("audio_separation")

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")


class ShortClipError(WorldDataError):
    """Clips shorter than an episode's span were found (the message lists them)."""


def find_clips(source: str) -> dict[str, list[str]]:
    """class -> sorted audio file paths, from sub-folders or <class>_<anything>.<ext> names."""
    if not os.path.isdir(source):
        raise WorldDataError(f"sound source folder not found: {source}")
    found: dict[str, list[str]] = {}
    for name in sorted(os.listdir(source)):
        path = os.path.join(source, name)
        if os.path.isdir(path):
            for file_name in sorted(os.listdir(path)):
                if file_name.lower().endswith(AUDIO_EXTENSIONS):
                    found.setdefault(name, []).append(os.path.join(path, file_name))
        elif name.lower().endswith(AUDIO_EXTENSIONS):
            if "_" not in name:
                raise WorldDataError(
                    f"{path}: name it <class>_<anything>{os.path.splitext(name)[1]} or put it in a sub-folder named after its class"
                )
            found.setdefault(name.rsplit("_", 1)[0], []).append(path)
    if not found:
        raise WorldDataError(f"{source}: no {'/'.join(AUDIO_EXTENSIONS)} files in it or in its sub-folders")
    for name in found:
        if "_" in name or not name:
            raise WorldDataError(
                f"class name {name!r} (from {found[name][0]}) must be non-empty and contain no '_' (clips are <class>_<id>.wav)"
            )
    return found


def import_sounds(
    source: str,
    root: str,
    sample_rate: int,
    distractor_classes: tuple[str, ...] = (),
    unheard_fraction: float = 0.25,
    seed: int = 0,
    min_seconds: float = 20.0,
    skip_short: bool = False,
    sounds_folder: str = "sounds",
) -> dict:
    """Write the sound bank of `root` from `source` (module docstring); returns classes.json's content
    plus "converted" (path -> conversions) and "too_short" (paths left out)."""
    clips = find_clips(source)
    unknown = sorted(set(distractor_classes) - set(clips))
    if unknown:
        raise WorldDataError(f"--distractor-classes {unknown} are not classes of {source} ({sorted(clips)})")
    loaded: dict[str, list[tuple[str, np.ndarray]]] = {}
    converted: dict[str, list[str]] = {}
    too_short: list[str] = []
    for name, paths in clips.items():
        for path in paths:
            samples, conversions = read_clip(path, sample_rate)
            if conversions:
                converted[path] = conversions
                logger.info("%s: %s", path, "; ".join(conversions))
            if samples.shape[0] < min_seconds * sample_rate:
                too_short.append(f"{path} ({samples.shape[0] / sample_rate:.1f} s)")
                continue
            loaded.setdefault(name, []).append((path, samples))
    if too_short and not skip_short:
        raise ShortClipError(
            f"{len(too_short)} clip(s) are shorter than an episode's {min_seconds:g} s (TASK.MAX_EPISODE_STEPS); "
            f"use longer clips or --skip-short to leave them out: " + ", ".join(too_short)
        )
    if too_short:
        logger.warning("left out %d clip(s) shorter than %g s: %s", len(too_short), min_seconds, ", ".join(too_short))
    names = sorted(loaded)
    if not any(name not in distractor_classes for name in names):
        raise WorldDataError(f"{source}: no target-eligible class with clips of at least {min_seconds:g} s")

    output = os.path.join(root, sounds_folder)
    for pool in ("heard", "unheard"):
        if os.path.isdir(os.path.join(output, pool)):
            shutil.rmtree(os.path.join(output, pool))
        os.makedirs(os.path.join(output, pool))
    rng = np.random.default_rng(seed)
    written: dict[str, list[str]] = {"heard": [], "unheard": []}
    origins: dict[str, str] = {}
    for name in names:
        entries = loaded[name]
        order = [int(i) for i in rng.permutation(len(entries))]
        unheard_count = int(round(unheard_fraction * len(entries))) if len(entries) > 1 else 0
        unheard_count = min(unheard_count, len(entries) - 1)
        for clip_id, index in enumerate(order):
            pool = "unheard" if clip_id >= len(entries) - unheard_count else "heard"
            path, samples = entries[index]
            file_name = f"{name}_{clip_id}.wav"
            sf.write(os.path.join(output, pool, file_name), samples, sample_rate, subtype="FLOAT")
            written[pool].append(file_name)
            origins[f"{pool}/{file_name}"] = os.path.relpath(path, source)
    content = {
        "classes": [
            {
                "name": name,
                "kind": "distractor" if name in distractor_classes else "imported",
                "target": name not in distractor_classes,
                "label": label,
            }
            for label, name in enumerate(names)
        ],
        "sample_rate": int(sample_rate),
        "heard": sorted(written["heard"]),
        "unheard": sorted(written["unheard"]),
        "imported_from": {"folder": os.path.abspath(source), "seed": int(seed), "clips": origins},
    }
    write_json_atomic(os.path.join(output, "classes.json"), content, indent=2, sort_keys=True)
    logger.info(
        "imported %d classes, %d heard and %d unheard clips into %s",
        len(names),
        len(written["heard"]),
        len(written["unheard"]),
        output,
    )
    return {**content, "converted": converted, "too_short": too_short}
