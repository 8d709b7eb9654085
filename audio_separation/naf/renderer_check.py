"""How far NAF-rendered episodes are from wav-rendered ones, how fast, and how big (WORLD.RIR_SOURCE naf).

compare_renderers(config, naf_checkpoints, scene) runs the same episodes of one scene, with the same
actions, in two envs that differ only in WORLD.RIR_SOURCE (wav, naf) and reports:

- observation error: mean |NAF - wav| of mixed_binaural_magnitude over every step of every episode, and
  that mean relative to the mean of the wav observation;
- rendering time: mean wall-clock ms per env step (reset included as a step), cold (the process's RIR
  spectrum cache emptied, fresh envs) and warm (the same episodes again);
- storage: the scene's NAF checkpoint bytes (the file, with optimizer state and statistics, and the
  model alone as float32) against the bytes of the scene's RIR wav files.
"""

from __future__ import annotations

import os
import time

import numpy as np
from yacs.config import CfgNode

from audio_separation.audio.renderer import clear_process_rir_spectra
from audio_separation.common.parameters import count_parameters
from audio_separation.env import make_env
from audio_separation.env.settings import EnvSettings
from audio_separation.naf.rir_source import NafRirSource, find_checkpoint
from audio_separation.world.soundspaces import SoundSpacesLayout


def _with(config: CfgNode, *opts: object) -> CfgNode:
    derived = config.clone()
    derived.defrost()
    derived.merge_from_list([str(value) for value in opts])
    derived.freeze()
    return derived


def _run(env, episode_ids: list[str], actions: list[int]) -> tuple[list[np.ndarray], float, int]:
    """Observations (mixed_binaural_magnitude) of every step, seconds spent, steps taken."""
    observations, steps = [], 0
    start = time.perf_counter()
    for episode_id in episode_ids:
        observation, _ = env.reset(options={"episode_id": episode_id})
        observations.append(observation["mixed_binaural_magnitude"].copy())
        steps += 1
        for action in actions:
            observation, _, terminated, truncated, _ = env.step(action)
            observations.append(observation["mixed_binaural_magnitude"].copy())
            steps += 1
            if terminated or truncated:
                break
    return observations, time.perf_counter() - start, steps


def folder_bytes(folder: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files)


def compare_renderers(
    config: CfgNode, naf_checkpoints: str, scene: str | None, actions: list[int], max_episodes: int = 0
) -> dict:
    """The module docstring's numbers for `scene`'s episodes of config's split (one in-process env each;
    scene None: the split's first scene)."""
    base = _with(config, "ENV.VECTOR_ENV_TYPE", "sync", "NUM_PROCESSES", 1)
    configs = {
        "wav": _with(base, "WORLD.RIR_SOURCE", "wav"),
        "naf": _with(base, "WORLD.RIR_SOURCE", "naf", "WORLD.NAF_CHECKPOINTS", naf_checkpoints),
    }
    probe = make_env(EnvSettings.from_config(configs["wav"]))
    scene = scene or sorted(e.scene for e in probe.episodes.episodes)[0]
    episode_ids = [e.episode_id for e in probe.episodes.episodes if e.scene == scene]
    probe.close()
    if max_episodes > 0:
        episode_ids = episode_ids[:max_episodes]
    if not episode_ids:
        raise ValueError(f"no episode of scene {scene!r} in the split")
    result: dict = {"scene": scene, "episodes": len(episode_ids)}
    observations = {}
    for name, cfg in configs.items():
        clear_process_rir_spectra()
        env = make_env(EnvSettings.from_config(cfg))
        observations[name], cold, steps = _run(env, episode_ids, actions)
        _, warm, _ = _run(env, episode_ids, actions)
        env.close()
        result[f"{name}_ms_per_step_cold"] = 1000.0 * cold / steps
        result[f"{name}_ms_per_step_warm"] = 1000.0 * warm / steps
        result["steps"] = steps
    clear_process_rir_spectra()
    naf, wav = np.stack(observations["naf"]), np.stack(observations["wav"])
    result["mixture_mean_abs_difference"] = float(np.mean(np.abs(naf.astype(np.float64) - wav)))
    result["mixture_mean_abs_wav"] = float(np.mean(np.abs(wav.astype(np.float64))))
    result["mixture_relative_difference"] = result["mixture_mean_abs_difference"] / max(
        result["mixture_mean_abs_wav"], 1e-12
    )
    checkpoint = find_checkpoint(naf_checkpoints, scene)
    layout = SoundSpacesLayout(config.WORLD.DATA_ROOT, config.WORLD.DATASET)
    source = NafRirSource(checkpoint, scene, {}, int(config.WORLD.RIR_SAMPLE_RATE))
    result["naf_checkpoint_bytes"] = os.path.getsize(checkpoint)
    result["naf_model_bytes_fp32"] = 4 * count_parameters(source.model)
    result["rir_wav_bytes"] = folder_bytes(layout.rir_scene_dir(scene))
    return result
