"""How far NAF-rendered episodes are from wav-rendered ones, how fast, and how big (WORLD.RIR_SOURCE naf).

compare_renderers(config, naf_checkpoints, scene) runs the same episodes of one scene, with the same
actions, in two envs that differ only in WORLD.RIR_SOURCE (wav, naf) and reports:

- observation error: mean |NAF - wav| of mixed_binaural_magnitude over every step of every episode, and
  that mean relative to the mean of the wav observation;
- rendering time: mean wall-clock ms per env step (reset included as a step), cold (the process's RIR
  spectrum cache emptied, fresh envs) and warm (the same episodes again);
- storage: the scene's NAF checkpoint bytes (the file, with optimizer state and statistics, and the
  model alone as float32) against the bytes of the scene's RIR wav files.

Per pair (tests and naf/renderer_measure.py): split_triples (the NAF's trained and held-out triples),
TrueMagnitudeRirSource (the true magnitudes rebuilt like the NAF's: the phase method's own error) and
pair_observation_errors (one source's observation at given triples, against the wav RIRs').
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import torch
from yacs.config import CfgNode

from audio_separation.audio.renderer import BinauralRenderer, clear_process_rir_spectra
from audio_separation.audio.settings import AudioSettings
from audio_separation.common.parameters import count_parameters
from audio_separation.env import make_env
from audio_separation.env.settings import EnvSettings
from audio_separation.naf.data import item_key, load_scene_data, scene_data_dir
from audio_separation.naf.rir_source import NafRirSource, find_checkpoint
from audio_separation.world.clips import ClipLibrary
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


# ============================================================================================ per pair
def split_triples(source: NafRirSource) -> dict[str, list[tuple[int, int, int]]]:
    """The NAF's training and held-out (heading, receiver node, source node) triples: the split.json of its
    training data (under the checkpoint config's NAF.DATA_DIR)."""
    path = os.path.join(scene_data_dir(source.config, source.scene), "split.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: the NAF's split is not there (NAF.DATA_DIR of {source.checkpoint})")
    with open(path) as handle:
        split = json.load(handle)
    return {part: [tuple(int(value) for value in key.split("_")) for key in split[part]] for part in ("train", "test")}


class TrueMagnitudeRirSource:
    """A perfect NAF: the TRUE log-magnitudes of the NAF's training data, rebuilt into RIRs exactly as the
    NAF source rebuilds its predictions (phase method, resampling). Its error against the wav RIRs is what
    the phase method alone costs."""

    def __init__(self, naf: NafRirSource) -> None:
        self.naf, self.scene = naf, naf.scene
        self.data = load_scene_data(naf.config, naf.scene, with_stats=False)
        self.index = {key: i for i, key in enumerate(self.data.keys)}
        self.cache_key = ("true-magnitude", *naf.cache_key[1:])

    def get(self, receiver: int, source: int, heading: int) -> np.ndarray:
        logmag = self.data.item_logmag(self.index[item_key(heading, receiver, source)])
        seed = self.naf.phase_seed_of(receiver, source, heading)
        rir = self.naf.rirs_of_logmag(torch.from_numpy(logmag[None].astype(np.float64)), [seed])[0]
        return np.ascontiguousarray(rir.numpy().T)


def pair_observation_errors(
    config: CfgNode, sources: dict[str, object], wav: object, triples: list[tuple[int, int, int]], clip: str
) -> dict[str, dict[str, float]]:
    """Per RIR source: the env's observation (log1p |STFT| of the binaural signal, AUDIO settings of
    config) of one source playing `clip`'s first second at each (heading, receiver, source) triple,
    against the wav RIRs' observation: mean |difference|, mean |wav|, and their ratio ("relative")."""
    renderer = BinauralRenderer.from_settings(
        AudioSettings.from_config(config), ClipLibrary(int(config.AUDIO.SAMPLE_RATE)), 64, 16
    )

    def observe(rirs, triple) -> np.ndarray:
        heading, receiver, source = triple
        return np.log1p(np.abs(renderer.render(rirs, receiver, heading, [(clip, 0, source)], False).mixture))

    reference = [observe(wav, triple).astype(np.float64) for triple in triples]
    scale = float(np.mean([np.abs(value).mean() for value in reference]))
    result = {}
    for name, rirs in sources.items():
        difference = float(np.mean([np.abs(observe(rirs, t) - r).mean() for t, r in zip(triples, reference)]))
        result[name] = {
            "mean_abs_difference": difference,
            "mean_abs_wav": scale,
            "relative": difference / max(scale, 1e-12),
        }
    return result
