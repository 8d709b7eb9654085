"""Evaluation of trained agents (--run-type eval of "ddppo"/"ppo"), and of baseline agents through the
same frozen separator and trained memory (EVAL.AGENT).

What is scored (spec "Evaluation and metrics"): for every step of every episode, the passive estimate
(frozen separator) and the final refined estimate (the memory's prediction of step s made at step
min(s + REFINEMENT_WINDOW, last)), each against the ground-truth target with the mixture as the input
baseline (audio/episode_metrics.mixture_mono_estimate); an episode's number is its mean over steps
(EVAL.SCORED_STEPS "all") or its final step's ("last": Move2Hear's far-target score of the estimate the agent
ends with), a run's number the mean over episodes with a 95 % interval.

Outputs, for each checkpoint, in <EVAL.OUTPUT_DIR or MODEL_DIR/eval/<split>/<agent>>/<checkpoint name>/:
    per_episode.json   trajectory, per-step and mean metrics of every episode (passive and refined)
    aggregate.json     summaries over episodes (mean, std, 95 % interval, count) of passive and refined
    index.html         the aggregate and, per episode with media, audio players, the PNG and the video
    episodes/<id>/     mixture.wav, target.wav, estimate.wav, summary.png, views.mp4 (EVAL.MEDIA_EPISODES)
A checkpoint whose aggregate.json exists is not evaluated again.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from yacs.config import CfgNode

from audio_separation.audio.episode_metrics import METRIC_NAMES, mixture_mono_estimate, step_metrics_of, summarise
from audio_separation.audio.settings import AudioSettings
from audio_separation.audio.stft import StftParams
from audio_separation.common.checkpoint import CheckpointError, list_checkpoints
from audio_separation.common.files import write_json_atomic
from audio_separation.common.seeding import derive_seed
from audio_separation.env import make_vector_env
from audio_separation.env.agents import agent_names, make_agent
from audio_separation.env.episode_set import episodes_for_env, load_split
from audio_separation.env.navigation import ACTION_NAMES
from audio_separation.rl import media
from audio_separation.rl.agent_checkpoint import agent_settings, load_agent
from audio_separation.rl.environment import rl_env_settings
from audio_separation.rl.frozen_separator import load_frozen_separator
from audio_separation.rl.rollout import EpisodeRecording, RolloutSettings, run_episodes
from audio_separation.rl.rollout_storage import RolloutStorage
from audio_separation.run_context import RunContext
from audio_separation.world.soundspaces import HEADINGS

logger = logging.getLogger("audio_separation")

ESTIMATES = ("passive", "refined")


# ============================================================================================ which checkpoints
def output_folder(config: CfgNode, model_dir: str) -> str:
    if config.EVAL.OUTPUT_DIR:
        return str(config.EVAL.OUTPUT_DIR)
    return os.path.join(model_dir or ".", "eval", str(config.TASK.SPLIT), str(config.EVAL.AGENT))


def checkpoint_name(path: str) -> str:
    """ckpt.20.pth -> ckpt.20 (the results sub-folder)."""
    name = os.path.basename(path)
    return name[: -len(".pth")] if name.endswith(".pth") else name


class Evaluator:
    """Scores the checkpoints of a "ddppo" run on TASK.SPLIT (composed by the trainer's eval; see the
    module docstring). The run supplies the device, the world and the model dir."""

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self.config = run.config
        # called with (record, arrays) of every scored episode (scripts/memory_study.py keeps the arrays)
        self.episode_sink: Callable[[dict[str, Any], dict[str, np.ndarray]], None] | None = None

    def evaluate_checkpoints(self) -> list[dict[str, Any]]:
        """Evaluate EVAL_CKPT_PATH_DIR (a file, or every ckpt.N.pth of a folder; default <model-dir>/data),
        polling the folder every EVAL.POLL_SECONDS when > 0 until a checkpoint of the run's last update is done."""
        config = self.config
        requested = config.EVAL_CKPT_PATH_DIR or self.run.paths.checkpoint_dir
        if not requested:
            raise ValueError("nothing to evaluate: set EVAL_CKPT_PATH_DIR (a checkpoint or a folder) or --model-dir")
        if os.path.isfile(requested):
            return [self.evaluate_checkpoint(requested)]
        if not os.path.isdir(requested) and config.EVAL.POLL_SECONDS <= 0:
            raise CheckpointError(f"EVAL_CKPT_PATH_DIR {requested} is neither a checkpoint file nor a folder")
        summaries: list[dict[str, Any]] = []
        done: set[str] = set()
        while True:
            pending = [path for _, path in list_checkpoints(requested) if path not in done]
            for path in pending:
                summary = self.evaluate_checkpoint(path)
                summaries.append(summary)
                done.add(path)
                if config.EVAL.POLL_SECONDS > 0 and summary.get("last_update"):
                    return summaries
            if config.EVAL.POLL_SECONDS <= 0:
                if not done:
                    raise CheckpointError(f"no ckpt.<N>.pth to evaluate in {requested}")
                return summaries
            time.sleep(float(config.EVAL.POLL_SECONDS))

    def evaluate_checkpoint(self, path: str) -> dict[str, Any]:
        """Score one checkpoint on TASK.SPLIT (see the module docstring); returns the aggregate summary."""
        config = self.config
        folder = os.path.join(output_folder(config, self.run.paths.model_dir), checkpoint_name(path))
        aggregate_path = os.path.join(folder, "aggregate.json")
        wanted_settings = evaluation_settings(config, path)
        if os.path.isfile(aggregate_path):
            with open(aggregate_path) as handle:
                previous = json.load(handle)
            if previous.get("evaluation_settings") == wanted_settings:
                logger.info("%s already evaluated with these settings: %s", path, aggregate_path)
                return previous
        device = self.run.device.device
        agent, payload = load_agent(path, device)
        warn_model_differences(path, (payload.get("extra") or {}).get("agent_settings") or {}, agent_settings(config))
        saved_separator = (payload.get("extra") or {}).get("separator") or {}
        separator, separator_description = load_frozen_separator(
            config, device, path=config.RL.SEPARATOR_CHECKPOINT or saved_separator.get("path")
        )
        if saved_separator.get("fingerprint") not in (None, separator_description["fingerprint"]):
            raise CheckpointError(
                f"{path} was trained on the separator {saved_separator.get('path')} (fingerprint {saved_separator['fingerprint']}), but {separator_description['path']} has other weights (fingerprint {separator_description['fingerprint']})"
            )
        saved_config = CfgNode.load_cfg(payload["config"]) if isinstance(payload.get("config"), str) else None
        settings = RolloutSettings.from_config(config, deterministic=bool(config.EVAL.DETERMINISTIC))
        if saved_config is not None:  # the memory window is part of the trained method: use the checkpoint's
            settings.capacity = int(saved_config.RL.MEMORY.CAPACITY)
            settings.refinement_window = int(saved_config.RL.MEMORY.REFINEMENT_WINDOW)
        if config.EVAL.MEMORY_CAPACITY > 0:  # the ablation of the memory's past (1 = the current entry only)
            settings.capacity = int(config.EVAL.MEMORY_CAPACITY)
            settings.refinement_window = min(settings.refinement_window, settings.capacity - 1)
        agent_name = str(config.EVAL.AGENT)
        policy = agent.policy if agent_name == "policy" else None
        summary = self.score_episodes(
            folder, separator, agent.memory, settings, agent_name, policy, checkpoint_name(path)
        )
        counters = payload.get("counters", {})
        summary = {
            "checkpoint": os.path.abspath(path),
            "evaluation_settings": wanted_settings,
            "update": counters.get("update"),
            "env_steps": counters.get("env_steps"),
            "last_update": bool(saved_config is not None and counters.get("update") == saved_config.get("NUM_UPDATES")),
            "separator": separator_description,
            **summary,
        }
        write_json_atomic(aggregate_path, summary)
        return summary

    def score_episodes(
        self,
        folder: str,
        separator: torch.nn.Module,
        memory: torch.nn.Module,
        settings: RolloutSettings,
        agent_name: str,
        policy: torch.nn.Module | None = None,
        label: str = "",
    ) -> dict[str, Any]:
        """The one evaluation loop: `policy` (or the registered agent `agent_name`) acts in the episodes of
        TASK.SPLIT through run_episodes; every episode is scored, media written for the first
        EVAL.MEDIA_EPISODES, and per_episode.json + index.html land in `folder`. Returns the summary
        (aggregate.json is the caller's: it adds what identifies the evaluated model)."""
        config = self.config
        device = self.run.device.device
        if agent_name != "policy" and agent_name not in agent_names():
            raise ValueError(f"EVAL.AGENT must be 'policy' or one of {agent_names()}, got {agent_name!r}")
        if (policy is None) != (agent_name != "policy"):
            raise ValueError("give a policy exactly when the agent is 'policy'")
        layout = self.run.require_world()
        plan = episode_plan(config, layout)
        envs = make_vector_env(rl_env_settings(config, evaluation=True))
        count = envs.num_envs
        storage = RolloutStorage(
            int(config.TASK.MAX_EPISODE_STEPS),
            count,
            AudioSettings.from_config(config).num_freq_bins,
            AudioSettings.from_config(config).num_frames,
            {
                key: envs.single_observation_space[key]
                for key in (policy.observation_keys if policy is not None else ())
            },
            device,
            memory_mixture=memory.mixture_input,
        )
        agents = (
            None
            if policy is not None
            else [
                make_agent(agent_name, HEADINGS, layout, derive_seed(config.SEED, 7, index)) for index in range(count)
            ]
        )
        torch.manual_seed(derive_seed(config.SEED, 11))  # sampled actions (EVAL.DETERMINISTIC False) are reproducible

        os.makedirs(folder, exist_ok=True)
        episodes: list[dict[str, Any]] = []
        seen: set[str] = set()
        scorer = EpisodeScorer(config)
        started = time.perf_counter()
        try:
            for _ in range(plan["rounds"]):
                if len(episodes) >= plan["wanted"]:
                    break
                result = run_episodes(
                    envs,
                    separator,
                    memory,
                    storage,
                    settings,
                    policy=policy,
                    agents=agents,
                    record=True,
                )
                for index, recording in enumerate(result.recordings):
                    episode_id = str(recording.infos[0]["episode_id"])
                    if episode_id in seen or len(episodes) >= plan["wanted"]:
                        continue
                    seen.add(episode_id)
                    arrays = episode_arrays(storage, index, recording, float(config.AUDIO.TARGET_MONO_RMS))
                    record = scorer.score(recording, arrays, agent_name)
                    if self.episode_sink is not None:
                        self.episode_sink(record, arrays)
                    if config.EVAL.MEDIA_EPISODES < 0 or len(episodes) < config.EVAL.MEDIA_EPISODES:
                        record["media"] = scorer.write_media(
                            folder, record, recording, arrays, layout, plan["sources"].get(episode_id, [])
                        )
                    episodes.append(record)
                logger.info(
                    "evaluated %d/%d episodes of %s (%s)",
                    len(episodes),
                    plan["wanted"],
                    config.TASK.SPLIT,
                    label,
                )
        finally:
            envs.close()
        summary = {
            "results_dir": os.path.abspath(folder),
            "model": label,
            "split": str(config.TASK.SPLIT),
            "agent": agent_name,
            "deterministic": bool(config.EVAL.DETERMINISTIC),
            "estimate_phase": str(config.EVAL.ESTIMATE_PHASE),
            "scored_steps": str(config.EVAL.SCORED_STEPS),
            "memory_window": {"capacity": settings.capacity, "refinement_window": settings.refinement_window},
            "num_episodes": len(episodes),
            "seconds": time.perf_counter() - started,
            "reached_target_fraction": float(np.mean([episode["reached_target"] for episode in episodes]))
            if episodes
            else None,
            "action_shares": action_shares(episodes),
            "metrics": {
                kind: {name: summarise([episode["mean"][kind][name] for episode in episodes]) for name in METRIC_NAMES}
                for kind in ESTIMATES
            },
        }
        write_json_atomic(os.path.join(folder, "per_episode.json"), episodes)
        media.write_index_html(
            os.path.join(folder, "index.html"),
            f"{agent_name} on {config.TASK.SPLIT}: {label}",
            summary,
            episodes,
        )
        refined, passive = summary["metrics"]["refined"], summary["metrics"]["passive"]
        logger.info(
            "%s on %s (%s, %d episodes): SI-SDR refined %.2f dB, passive %.2f dB, mixture %.2f dB; STFT distance refined %.4f, passive %.4f -> %s",
            agent_name,
            config.TASK.SPLIT,
            label,
            len(episodes),
            refined["si_sdr"]["mean"],
            passive["si_sdr"]["mean"],
            refined["input_si_sdr"]["mean"],
            refined["stft_distance"]["mean"],
            passive["stft_distance"]["mean"],
            folder,
        )
        return summary


def action_shares(episodes: list[dict[str, Any]]) -> dict[str, float] | None:
    """The share of each action among all actions the agent took in `episodes` (their trajectories), by
    ACTION_NAMES; None without actions. Tells a policy that turns in place from one that walks."""
    taken = [step["action"] for episode in episodes for step in episode["trajectory"] if step["action"] is not None]
    if not taken:
        return None
    counts = np.bincount(np.asarray(taken, dtype=np.int64), minlength=len(ACTION_NAMES))
    return {name: float(count / len(taken)) for name, count in zip(ACTION_NAMES, counts)}


def warn_model_differences(path: str, saved: dict, wanted: dict) -> list[str]:
    """Evaluation always rebuilds the agent the checkpoint holds; say so, per setting, where the config asks
    for another model (e.g. a yaml of another model size). Returns the warnings."""
    messages = [
        f"{path}: {part}.{key} is {saved[part].get(key)!r} in the checkpoint but {value!r} in the config; "
        "evaluating the checkpoint's model"
        for part in sorted(set(saved) & set(wanted))
        for key, value in sorted(wanted[part].items())
        if saved[part].get(key) != value
    ]
    for message in messages:
        logger.warning(message)
    return messages


def evaluation_settings(config: CfgNode, path: str) -> dict[str, Any]:
    """What makes two evaluations of a checkpoint the same (results are reused only when all agree)."""
    return {
        "checkpoint_modified": os.path.getmtime(path),
        "split": str(config.TASK.SPLIT),
        "audio": {key: config.AUDIO[key] for key in sorted(config.AUDIO)},
        "eval": {key: config.EVAL[key] for key in sorted(config.EVAL) if key not in ("POLL_SECONDS", "OUTPUT_DIR")},
        "num_processes": int(config.NUM_PROCESSES),
        "max_episodes_per_env": int(config.ENV.MAX_EPISODES_PER_ENV),
        "seed": int(config.SEED),
        "separator": str(config.RL.SEPARATOR_CHECKPOINT),
    }


def episode_plan(env_config: CfgNode, layout) -> dict[str, Any]:
    """How many rounds of one episode per env visit the wanted number of distinct episodes (envs walk
    their shares in split order), and each episode's source positions (for the trajectory plot)."""
    split = load_split(layout, env_config.WORLD.EPISODE_VERSION, env_config.TASK.SPLIT)
    count = int(env_config.NUM_PROCESSES)
    shares = [episodes_for_env(split, index, count) for index in range(count)]
    if env_config.ENV.MAX_EPISODES_PER_ENV > 0:
        shares = [share[: int(env_config.ENV.MAX_EPISODES_PER_ENV)] for share in shares]
    total = sum(len(share) for share in shares)
    wanted = total if env_config.EVAL.NUM_EPISODES <= 0 else min(int(env_config.EVAL.NUM_EPISODES), total)
    rounds, collected = 0, 0
    while collected < wanted:
        collected += sum(1 for share in shares if rounds < len(share))
        rounds += 1
    sources = {
        str(episode.get("episode_id")): [goal["position"] for goal in episode.get("goals", []) if "position" in goal]
        for share in shares
        for episode in share
    }
    return {"rounds": rounds, "wanted": wanted, "sources": sources}


def episode_arrays(
    storage: RolloutStorage, index: int, recording: EpisodeRecording, target_rms: float
) -> dict[str, np.ndarray]:
    """One env's episode as numpy (steps, ...): estimates, ground truth, mixture (its phase None when the
    env had no MIXED_BINAURAL_PHASE: evaluations without media)."""
    steps = storage.episode_length
    mixed_magnitude = np.stack(recording.mixed_magnitude)
    return {
        "passive": storage.passive[:, index].cpu().numpy(),
        "refined": np.stack([recording.final[step] for step in range(steps)]),
        "gt_mono": storage.gt_mono[:, index].cpu().numpy(),
        "gt_phase": np.stack(recording.gt_phase),
        "mixed_magnitude": mixed_magnitude,
        "mixed_phase": np.stack(recording.mixed_phase) if recording.mixed_phase else None,  # media only
        "mixture_estimate": mixture_mono_estimate(mixed_magnitude, target_rms),
    }


class EpisodeScorer:
    """Metrics and media of single episodes."""

    def __init__(self, config: CfgNode) -> None:
        self.config = config
        self.params = StftParams.from_config(config.AUDIO)
        self.sample_rate = int(config.AUDIO.SAMPLE_RATE)
        self.step_samples = int(config.AUDIO.SAMPLE_RATE * config.AUDIO.STEP_SECONDS)
        self.video = bool(config.EVAL.WRITE_VIDEO) and media.ffmpeg_available()
        self.scored_steps = str(config.EVAL.SCORED_STEPS)
        self.first_scored = -1 if self.scored_steps == "last" else 0  # per_step index of the first scored step

    def score(self, recording: EpisodeRecording, arrays: dict[str, np.ndarray], agent_name: str) -> dict[str, Any]:
        per_step = step_metrics_of(
            {kind: arrays[kind] for kind in ESTIMATES},
            arrays["gt_mono"],
            arrays["gt_phase"],
            arrays["mixture_estimate"],
            self.params,
            self.step_samples,
            bool(self.config.EVAL.QUIRK_N_FFT_1022),
        )
        first, last = recording.infos[0], recording.infos[-1]
        trajectory = [
            {"step": int(info["step"]), "node": int(info["node"]), "heading": int(info["heading"]), "action": action}
            for info, action in zip(recording.infos, [None, *recording.actions])
        ]
        return {
            "episode_id": str(first["episode_id"]),
            "scene": str(first["scene"]),
            "agent": agent_name,
            "target_node": int(first["target_node"]),
            "reached_target": int(last["node"]) == int(first["target_node"]),
            "trajectory": trajectory,
            "per_step": per_step,
            "scored_steps": self.scored_steps,
            "mean": {  # over the scored steps: every step's estimate, or the final one (EVAL.SCORED_STEPS last)
                kind: {name: float(np.mean(values[self.first_scored :])) for name, values in per_step[kind].items()}
                for kind in ESTIMATES
            },
        }

    def write_media(
        self,
        folder: str,
        record: dict[str, Any],
        recording: EpisodeRecording,
        arrays: dict[str, np.ndarray],
        layout,
        source_positions: list,
    ) -> dict[str, str]:
        relative = os.path.join("episodes", record["episode_id"])
        episode_folder = os.path.join(folder, relative)
        os.makedirs(episode_folder, exist_ok=True)
        files = media.write_wavs(
            episode_folder,
            arrays,
            self.params,
            self.sample_rate,
            self.step_samples,
            str(self.config.EVAL.ESTIMATE_PHASE),
        )
        refined, passive = record["mean"]["refined"], record["mean"]["passive"]
        title = (
            f"episode {record['episode_id']} ({record['scene']}), agent {record['agent']}: SI-SDR refined {refined['si_sdr']:.2f} dB, "
            f"passive {passive['si_sdr']:.2f} dB, mixture {refined['input_si_sdr']:.2f} dB"
        )
        media.write_summary_png(
            os.path.join(episode_folder, "summary.png"),
            arrays,
            record["trajectory"],
            layout,
            record["scene"],
            source_positions,
            title,
        )
        files["png"] = "summary.png"
        if (
            self.video
            and recording.rgb
            and media.write_video(
                os.path.join(episode_folder, "views.mp4"),
                np.stack(recording.rgb),
                os.path.join(episode_folder, files["mixture"]),
                float(self.config.AUDIO.STEP_SECONDS),
            )
        ):
            files["video"] = "views.mp4"
        files["folder"] = relative
        return files
