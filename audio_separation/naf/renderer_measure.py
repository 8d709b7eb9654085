"""NAF-rendered vs wav-rendered episodes of one scene: observation error, a passive separator's SI-SDR on
both, env step time, storage (issue 18 part 4's (a)-(d); scripts/bench/naf_renderer.py prints and records).

The same episodes (the scene's first `episodes` of config's split) with the same seeded random actions
run in two sync envs (one process, CPU) that differ only in WORLD.RIR_SOURCE (wav, naf); each pair
(heading, agent node, source node) a step hears is in the NAF's training split or held out from it
(its split.json: 90 / 10 over all triples).

(a) observation error: mean |NAF - wav| of the log1p mixture magnitude (mixed_binaural_magnitude) over
    steps, relative to the mean |wav|, over all steps, steps whose every source pair was trained on,
    and steps with a held-out pair; and per source (gt_binaural_magnitude, log1p) over trained and
    held-out pairs.
(b) separation: a passive separator (its checkpoint) separates the target from both mixtures; SI-SDR of
    its mono estimate against the dry target (audio/episode_metrics.step_metrics, as the RL eval),
    averaged over steps; gap = wav - NAF, in dB.
(c) time: ms per env step (reset counted as a step) of each env, wall-clock and CPU (this process's
    CPU time, all threads: what a shared machine's load does not inflate much), cold (process RIR cache emptied, fresh
    env: the NAF predicts every pair once) and warm (the same episodes again), and of a NAF env with
    TASK.SOURCE_MOTION (the distractor moves: a new prediction every step, never cached).
(d) storage: the NAF checkpoint file, its model as float32 and as float16, against the scene's RIR wav
    files (and the builder's packed cache of the scene, when there is one).
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch
from yacs.config import CfgNode

from audio_separation.audio.episode_metrics import mixture_mono_estimate, step_metrics
from audio_separation.audio.renderer import clear_process_rir_spectra
from audio_separation.audio.stft import StftParams
from audio_separation.common.parameters import count_parameters
from audio_separation.env import make_env
from audio_separation.env.settings import EnvSettings
from audio_separation.naf.renderer_check import folder_bytes, split_triples
from audio_separation.naf.rir_source import NafRirSource, find_checkpoint
from audio_separation.pretrain.separator_checkpoint import load_passive_separator
from audio_separation.rl.frozen_separator import separate
from audio_separation.world.soundspaces import SoundSpacesLayout

SENSORS = ["MIXED_BINAURAL_MAGNITUDE", "GT_MONO", "GT_BINAURAL", "TARGET_CLASS"]


def derived(config: CfgNode, *opts: object) -> CfgNode:
    config = config.clone()
    config.defrost()
    config.merge_from_list([value if isinstance(value, list) else str(value) for value in opts])
    config.freeze()
    return config


def _episodes(config: CfgNode, scene: str | None, count: int) -> tuple[str, list[str]]:
    probe = make_env(EnvSettings.from_config(derived(config, "WORLD.RIR_SOURCE", "wav")))
    scenes = sorted({episode.scene for episode in probe.episodes.episodes})
    scene = scene or scenes[0]
    ids = [episode.episode_id for episode in probe.episodes.episodes if episode.scene == scene][:count]
    probe.close()
    if not ids:
        raise ValueError(f"no episode of scene {scene!r} in split {config.TASK.SPLIT} (its scenes: {scenes})")
    return scene, ids


def _run(env, episode_ids: list[str], seed: int, record: bool) -> tuple[list[dict], float, float, int]:
    """Steps (observations + the pairs heard) of every episode, wall-clock and CPU seconds (this process,
    all threads) spent, steps taken."""
    steps, count, rng = [], 0, np.random.default_rng(seed)
    started, cpu_started = time.perf_counter(), time.process_time()
    for episode_id in episode_ids:
        observation, info = env.reset(options={"episode_id": episode_id})
        actions = rng.integers(3, size=env.max_steps - 1)
        for index in range(env.max_steps):
            count += 1
            if record:
                emitters = env.simulator.emitters()
                pairs = [(int(info["heading"]), int(info["node"]), e) for e in emitters]
                steps.append({"pairs": pairs, **{key: value.copy() for key, value in observation.items()}})
            if index == env.max_steps - 1:
                break
            observation, _, terminated, _, info = env.step(int(actions[index]))
    return steps, time.perf_counter() - started, time.process_time() - cpu_started, count


def _relative(naf: list[np.ndarray], wav: list[np.ndarray]) -> float | None:
    """mean |naf - wav| / mean |wav| over the arrays (None when there are none)."""
    if not wav:
        return None
    difference = np.mean([np.abs(a.astype(np.float64) - b).mean() for a, b in zip(naf, wav)])
    return float(difference / max(np.mean([np.abs(b.astype(np.float64)).mean() for b in wav]), 1e-12))


def observation_errors(wav: list[dict], naf: list[dict], trained: set) -> dict:
    """(a) of the module docstring."""
    held_out = [any(pair not in trained for pair in step["pairs"]) for step in wav]
    mixture = [(n["mixed_binaural_magnitude"], w["mixed_binaural_magnitude"]) for n, w in zip(naf, wav)]

    def mixture_relative(keep: list[bool]) -> float | None:
        chosen = [pair for pair, wanted in zip(mixture, keep) if wanted]
        return _relative([n for n, _ in chosen], [w for _, w in chosen])

    per_source: dict[str, tuple[list, list]] = {"trained": ([], []), "held_out": ([], [])}
    for n, w in zip(naf, wav):
        for index, pair in enumerate(w["pairs"]):
            part = "trained" if pair in trained else "held_out"
            channels = slice(2 * index, 2 * index + 2)
            per_source[part][0].append(np.log1p(n["gt_binaural_magnitude"][..., channels]))
            per_source[part][1].append(np.log1p(w["gt_binaural_magnitude"][..., channels]))
    return {
        "mixture_relative_all": mixture_relative([True] * len(mixture)),
        "mixture_relative_trained_steps": mixture_relative([not h for h in held_out]),
        "mixture_relative_held_out_steps": mixture_relative(held_out),
        "steps": len(wav),
        "held_out_steps": int(sum(held_out)),
        "source_relative_trained_pairs": _relative(*per_source["trained"]),
        "source_relative_held_out_pairs": _relative(*per_source["held_out"]),
        "source_pairs_trained": len(per_source["trained"][0]),
        "source_pairs_held_out": len(per_source["held_out"][0]),
    }


def separation_si_sdr(config: CfgNode, separator_path: str, steps: list[dict]) -> np.ndarray:
    """(b): the separator's SI-SDR (dB) of every step's target estimate."""
    separator, _ = load_passive_separator(separator_path)
    params = StftParams.from_config(config.AUDIO)
    step_samples = int(config.AUDIO.SAMPLE_RATE * config.AUDIO.STEP_SECONDS)
    values = []
    for start in range(0, len(steps), 32):
        batch = steps[start : start + 32]
        mixed = np.stack([step["mixed_binaural_magnitude"] for step in batch])
        classes = torch.from_numpy(np.stack([step["target_class"] for step in batch]).astype(np.int64))
        _, estimate = separate(separator, torch.from_numpy(mixed), classes)
        metrics = step_metrics(
            estimate.numpy(),
            np.stack([step["gt_mono_magnitude"][..., 0] for step in batch]),
            np.stack([step["gt_mono_phase"][..., 0] for step in batch]),
            mixture_mono_estimate(mixed, float(config.AUDIO.TARGET_MONO_RMS)),
            params,
            step_samples,
            bool(config.EVAL.QUIRK_N_FFT_1022),
        )
        values.extend(metrics["si_sdr"])
    return np.asarray(values, dtype=np.float64)


def storage(config: CfgNode, naf_checkpoints: str, scene: str) -> dict:
    """(d) of the module docstring."""
    checkpoint = find_checkpoint(naf_checkpoints, scene)
    layout = SoundSpacesLayout(config.WORLD.DATA_ROOT, config.WORLD.DATASET)
    model = NafRirSource(checkpoint, scene, {}, int(config.WORLD.RIR_SAMPLE_RATE)).model
    result = {
        "naf_checkpoint_bytes": os.path.getsize(checkpoint),
        "naf_model_bytes_fp32": 4 * count_parameters(model),
        "naf_model_bytes_fp16": 2 * count_parameters(model),
        "rir_wav_bytes": folder_bytes(layout.rir_scene_dir(scene)),
    }
    packed = layout.packed_cache_dir(scene)
    result["packed_cache_bytes"] = folder_bytes(packed) if os.path.isdir(packed) else None
    result["wav_over_model_fp32"] = result["rir_wav_bytes"] / result["naf_model_bytes_fp32"]
    result["wav_over_checkpoint"] = result["rir_wav_bytes"] / result["naf_checkpoint_bytes"]
    return result


def measure(
    config: CfgNode,
    naf_checkpoints: str,
    separator_path: str | None,
    scene: str | None = None,
    episodes: int = 20,
    seed: int = 0,
) -> dict:
    """(a)-(d) of the module docstring for `scene` (None: the split's first) of config's TASK.SPLIT."""
    base = derived(config, "ENV.VECTOR_ENV_TYPE", "sync", "NUM_PROCESSES", 1, "TASK.SENSORS", SENSORS)
    scene, episode_ids = _episodes(base, scene, episodes)
    configs = {
        "wav": derived(base, "WORLD.RIR_SOURCE", "wav"),
        "naf": derived(base, "WORLD.RIR_SOURCE", "naf", "WORLD.NAF_CHECKPOINTS", naf_checkpoints),
    }
    configs["naf_motion"] = derived(configs["naf"], "TASK.SOURCE_MOTION.ENABLED", "True")
    result: dict = {"scene": scene, "split": str(config.TASK.SPLIT), "episodes": len(episode_ids)}
    result["phase"] = str(configs["naf"].WORLD.NAF_PHASE)
    recorded: dict[str, list[dict]] = {}
    for name, cfg in configs.items():
        clear_process_rir_spectra()
        env = make_env(EnvSettings.from_config(cfg))
        recorded[name], cold, cold_cpu, count = _run(env, episode_ids, seed, record=True)
        _, warm, warm_cpu, _ = _run(env, episode_ids, seed, record=False)
        env.close()
        result[f"{name}_ms_per_step_cold"] = 1000.0 * cold / count
        result[f"{name}_ms_per_step_warm"] = 1000.0 * warm / count
        result[f"{name}_cpu_ms_per_step_cold"] = 1000.0 * cold_cpu / count
        result[f"{name}_cpu_ms_per_step_warm"] = 1000.0 * warm_cpu / count
        result["steps"] = count
    clear_process_rir_spectra()
    source = NafRirSource(find_checkpoint(naf_checkpoints, scene), scene, {}, int(config.WORLD.RIR_SAMPLE_RATE))
    trained = set(split_triples(source)["train"])
    result["observation"] = observation_errors(recorded["wav"], recorded["naf"], trained)
    if separator_path:
        scores = {name: separation_si_sdr(base, separator_path, recorded[name]) for name in ("wav", "naf")}
        held_out = np.array([any(p not in trained for p in step["pairs"]) for step in recorded["wav"]])
        result["separation"] = {
            "separator": separator_path,
            "si_sdr_wav": float(scores["wav"].mean()),
            "si_sdr_naf": float(scores["naf"].mean()),
            "gap_db": float(scores["wav"].mean() - scores["naf"].mean()),
            "gap_db_held_out_steps": float(scores["wav"][held_out].mean() - scores["naf"][held_out].mean())
            if held_out.any()
            else None,
            "si_sdr_naf_motion": float(separation_si_sdr(base, separator_path, recorded["naf_motion"]).mean()),
        }
    result["storage"] = storage(config, naf_checkpoints, scene)
    return result
