"""Trainers "ddppo" and "ppo": policy + transformer memory on top of the frozen passive separators.

    python main.py --exp-config configs/quickstart/train/nearTarget.yaml --run-type train --model-dir DIR
    torchrun --nproc_per_node 2 main.py --exp-config ... --run-type train --model-dir DIR   # DD-PPO
    python main.py --exp-config configs/quickstart/val/nearTarget.yaml --run-type eval --model-dir DIR

Train recipe: join the process group torchrun describes (none in a plain process; gloo on CPU, NCCL on
GPU) -> world (rank 0 builds it if absent) -> frozen separator (RL.SEPARATOR_CHECKPOINT, checked) ->
policy + memory (same seed on every rank, then broadcast from rank 0) -> PPO and memory optimizers ->
resume from the newest of <model-dir>/data/resume_state.pth and ckpt.N.pth -> NUM_PROCESSES envs per
worker -> per update: one episode per env (rl/rollout.py), GAE, the PPO step and the memory's
supervised step with gradients averaged over workers (rl/ppo.py), statistics averaged over workers,
tensorboard + log + progress bar on rank 0, ckpt.<update>.pth every CHECKPOINT_INTERVAL updates.

Determinism and exact resume: before update u every worker seeds torch with derive_seed(SEED, rank, u)
and resets env i with derive_seed(SEED, rank, i, u) (a fresh random episode of its share), so the run
after update u depends only on the weights and optimizer states, which checkpoints carry.
Preemption: SIGTERM / SIGUSR1 stop all workers at the end of the current update; rank 0 writes
resume_state.pth, train() exits with status 128 + the signal's number, and running the same command
again continues from it (common/preemption.py).

Eval: rl/evaluation.py (one checkpoint or every ckpt.N.pth of a folder, optionally polling).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from typing import Any

import torch
from tqdm import tqdm

from audio_separation.audio.settings import AudioSettings
from audio_separation.common import distributed
from audio_separation.common.checkpoint import CheckpointError, checkpoint_path, latest_checkpoint, save_checkpoint
from audio_separation.common.errors import NonFiniteError
from audio_separation.common.numerics import check_losses
from audio_separation.common.parameters import count_parameters
from audio_separation.common.preemption import RESUME_STATE_NAME, PreemptionFlag, signals_blocked
from audio_separation.common.registry import registry
from audio_separation.common.resume_check import check_resume_config
from audio_separation.common.seeding import derive_seed, deterministic_cpu_kernels
from audio_separation.common.tensorboard import make_writer
from audio_separation.env import make_vector_env
from audio_separation.env.agents import make_agent
from audio_separation.rl.agent_checkpoint import ActiveSeparationAgent, agent_settings, newest_state
from audio_separation.rl.environment import rl_env_settings
from audio_separation.rl.evaluation import Evaluator
from audio_separation.rl.frozen_separator import load_frozen_separator
from audio_separation.rl.imitation import ImitationLearner, expert_probability
from audio_separation.rl.phases import TrainingPhases
from audio_separation.rl.ppo import PPO, MemoryLearner
from audio_separation.rl.rollout import RolloutSettings, run_episodes
from audio_separation.rl.rollout_storage import RolloutStorage
from audio_separation.run_context import BaseTrainer, RunContext
from audio_separation.world.episodes import short_episode_clips
from audio_separation.world.soundspaces import HEADINGS

logger = logging.getLogger("audio_separation")

# resuming with any of these changed is refused (another experiment); other changed keys are warnings
RESUME_REFUSED_KEYS = (
    "SEED",
    "NUM_PROCESSES",
    "TASK.*",
    "AUDIO.*",
    "RL.POLICY.*",
    "RL.MEMORY.CAPACITY",
    "RL.MEMORY.REFINEMENT_WINDOW",
    "RL.PPO.NUM_MINI_BATCH",
    "RL.IMITATION.UPDATES",
    "WORLD.DATASET",
    "WORLD.EPISODE_VERSION",
)
LIKELY_CAUSES = (
    "NaN/Inf in the RIRs or clips the envs render (verify the world with --run-type eval of the world config), "
    "a learning rate too high (RL.PPO.LR, RL.MEMORY.LR), or a frozen separator with non-finite weights"
)


@registry.register_trainer(name="ddppo")
@registry.register_trainer(name="ppo")  # a plain `python main.py` run is one DD-PPO worker
class DDPPOTrainer(BaseTrainer):
    """DD-PPO training (any number of workers, one in a plain process) and evaluation."""

    def __init__(self, run: RunContext) -> None:
        super().__init__(run)
        config = run.config
        if config.RL.NUM_THREADS > 0:
            torch.set_num_threads(int(config.RL.NUM_THREADS))
        self.update_history: list[
            dict[str, float]
        ] = []  # statistics of every update this process ran (tests, benchmarks)
        self.preempted = False

    # ================================================================================================ train
    def train(self) -> dict[str, Any]:
        preemption = (
            PreemptionFlag().install()
        )  # from the start: a signal during setup is honoured after the first update
        try:
            with deterministic_cpu_kernels(self.run.device.device):  # same seed, same weights on several threads
                return self._train(preemption)
        finally:
            preemption.uninstall()

    def _train(self, preemption: PreemptionFlag) -> dict[str, Any]:
        config = self.config
        device = self.run.device.device
        rank, world_size, main = self.run.device.rank, self.run.device.world_size, self.run.device.is_main
        self.phases = TrainingPhases.from_config(config)  # a bad phase split is refused before anything is built
        separator, separator_description = load_frozen_separator(config, device)

        settings = agent_settings(config)
        torch.manual_seed(config.SEED)  # identical initial weights on every rank
        agent = ActiveSeparationAgent(settings).to(device)
        distributed.broadcast_module(agent)
        self.agent = agent
        ppo = PPO(agent.policy, config.RL.PPO)
        self.imitation = ImitationLearner(agent.policy, ppo.optimizer, config.RL.IMITATION, config.RL.PPO)
        self.experts = None  # built at the first imitation update (RL.IMITATION.UPDATES > 0)
        memory_learner = MemoryLearner(agent.memory, config.RL.MEMORY, config.RL.PPO.EPS)
        counters: dict[str, Any] = {"update": 0, "env_steps": 0, "episodes": 0, "train_seconds": 0.0}
        self._resume(agent, ppo, memory_learner, counters, settings, separator_description)

        self._warn_short_clips()
        with signals_blocked():  # env workers must survive a preemption signal sent to the process group
            envs = make_vector_env(rl_env_settings(config), rank=rank, world_size=world_size)
        num_envs = envs.num_envs
        storage = RolloutStorage(
            int(config.TASK.MAX_EPISODE_STEPS),
            num_envs,
            AudioSettings.from_config(config).num_freq_bins,
            AudioSettings.from_config(config).num_frames,
            {key: envs.single_observation_space[key] for key in agent.policy.observation_keys},
            device,
            memory_mixture=agent.memory.mixture_input,
        )
        rollout_settings = RolloutSettings.from_config(config)
        writer = make_writer(self.run.paths.tensorboard_dir, enabled=main)
        if main:
            logger.info(
                "RL training: %d worker(s) x %d envs, policy %d + memory %d parameters (frozen separator %d from %s), %d updates from update %d",
                world_size,
                num_envs,
                count_parameters(agent.policy),
                count_parameters(agent.memory),
                count_parameters(separator),
                separator_description["path"],
                config.NUM_UPDATES,
                counters["update"],
            )
        bar = tqdm(
            total=int(config.NUM_UPDATES),
            initial=int(counters["update"]),
            desc="RL updates",
            unit="update",
            disable=not main,
        )
        try:
            while counters["update"] < config.NUM_UPDATES:
                stats = self._train_update(
                    agent, ppo, memory_learner, envs, separator, storage, rollout_settings, counters, rank
                )
                self.update_history.append(stats)
                bar.update(1)
                bar.set_postfix(
                    reward=f"{stats['reward']:.3f}", memory_l1=f"{stats['memory_l1']:.3f}", sps=f"{stats['sps']:.1f}"
                )
                if main:
                    self._log(writer, stats, counters)
                finished = counters["update"] >= config.NUM_UPDATES
                if main and (finished or counters["update"] % config.CHECKPOINT_INTERVAL == 0):
                    self._save(
                        checkpoint_path(self.run.paths.checkpoint_dir, counters["update"]),
                        agent,
                        ppo,
                        memory_learner,
                        counters,
                        settings,
                        separator_description,
                    )
                if distributed.any_rank(preemption.requested):
                    self.preempted = True
                    if main:
                        path = self._save(
                            os.path.join(self.run.paths.checkpoint_dir, RESUME_STATE_NAME),
                            agent,
                            ppo,
                            memory_learner,
                            counters,
                            settings,
                            separator_description,
                        )
                        logger.warning(
                            "preempted after update %d: wrote %s; run the same command again to resume",
                            counters["update"],
                            path,
                        )
                    break
        finally:
            bar.close()
            envs.close()
            writer.close()
        distributed.barrier()
        distributed.cleanup_distributed()
        self.final_counters = counters
        if self.preempted:  # the Unix convention for a process stopped by a signal: pipelines stop here
            raise SystemExit(128 + (preemption.signal_number or signal.SIGTERM))
        return counters

    def _warn_short_clips(self) -> None:
        """Clips shorter than an episode wrap around (documented in audio/mixing.clip_second): say which."""
        config = self.config
        if not self.run.device.is_main or self.run.world is None:
            return
        needed = int(config.TASK.MAX_EPISODE_STEPS * config.AUDIO.STEP_SECONDS)
        short = short_episode_clips(
            self.run.world, config.WORLD.EPISODE_VERSION, config.TASK.SPLIT, needed, config.WORLD.SOUNDS_DIR
        )
        if short:
            logger.warning(
                "%d clip(s) of split %s are shorter than an episode (%d s) and repeat within it: %s",
                len(short),
                config.TASK.SPLIT,
                needed,
                ", ".join(f"{path} ({seconds} s)" for path, seconds in short[:5]),
            )

    def _train_update(
        self,
        agent,
        ppo: PPO,
        memory_learner: MemoryLearner,
        envs,
        separator,
        storage: RolloutStorage,
        rollout_settings: RolloutSettings,
        counters: dict,
        rank: int,
    ) -> dict[str, float]:
        """One rollout (an episode per env) and one learning step; returns statistics averaged over workers.
        The first RL.IMITATION.UPDATES updates imitate the expert (rl/imitation.py), the rest are PPO."""
        config = self.config
        update = int(counters["update"])
        started = time.perf_counter()
        torch.manual_seed(derive_seed(config.SEED, rank, update))
        phases = self.phases
        imitating, finetuning = phases.imitating(update), phases.finetuning_memory(update)
        # PPO's clip and learning rate decay over the PPO phase; the memory's over the joint phases, then
        # over the memory-only phase from RL.MEMORY.FINETUNE_LR
        decay = phases.ppo_decay(update)
        clip = config.RL.PPO.CLIP_PARAM * (decay if config.RL.PPO.USE_LINEAR_CLIP_DECAY else 1.0)
        lr_factor = decay if config.RL.PPO.USE_LINEAR_LR_DECAY else 1.0
        for group in ppo.optimizer.param_groups:
            group["lr"] = config.RL.PPO.LR * lr_factor
        memory_lr = phases.memory_lr(update, config.RL.PPO.USE_LINEAR_LR_DECAY)
        for group in memory_learner.optimizer.param_groups:
            group["lr"] = memory_lr

        agent.eval()  # acting: no dropout
        seeds = [derive_seed(config.SEED, rank, index, update) for index in range(storage.num_envs)]
        beta = expert_probability(update, config.RL.IMITATION) if imitating else 0.0
        experts = self._experts(storage.num_envs, rank) if imitating else None
        try:
            result = run_episodes(
                envs,
                separator,
                agent.memory,
                storage,
                rollout_settings,
                policy=agent.policy,
                seeds=seeds,
                experts=experts,
                expert_probability=beta,
            )
        except ValueError as error:  # torch.distributions rejects NaN logits with a ValueError
            if "logits" not in str(error) and "probs" not in str(error):
                raise
            raise NonFiniteError(
                f"ddppo: the policy produced non-finite action logits during the rollout of update {update + 1}. "
                f"Likely causes: {LIKELY_CAUSES}. Nothing was saved after the last good checkpoint "
                f"({latest_checkpoint(self.run.paths.checkpoint_dir) if self.run.paths.checkpoint_dir else None})"
            ) from None
        # imitation: the critic regresses on the discounted returns (GAE with tau 1); PPO: GAE(gamma, tau)
        storage.compute_returns(config.RL.PPO.GAMMA, 1.0 if imitating else config.RL.PPO.TAU)
        critic = storage.value_statistics()  # before the update: how well the acting critic predicted
        agent.train()
        learning_started = time.perf_counter()
        if finetuning:  # the policy is fixed: only the memory learns from this rollout
            losses = {
                "value_loss": 0.0,
                "action_loss": 0.0,
                "entropy": 0.0,
                "clip_fraction": 0.0,
                "imitation_loss": 0.0,
                "imitation_accuracy": 0.0,
                "expert_probability": 0.0,
            }
        elif imitating:
            losses = {
                "action_loss": 0.0,
                "entropy": 0.0,
                "clip_fraction": 0.0,
                **self.imitation.update(storage),
                "expert_probability": beta,
            }
        else:
            losses = {
                **ppo.update(storage, clip),
                "imitation_loss": 0.0,
                "imitation_accuracy": 0.0,
                "expert_probability": 0.0,
            }
        losses.update(memory_learner.update(storage))
        learning_seconds = time.perf_counter() - learning_started
        seconds = time.perf_counter() - started

        world_size = distributed.get_world_size()
        steps = storage.num_actions_per_env * storage.num_envs * world_size
        counters["update"] = update + 1
        counters["env_steps"] += steps
        counters["episodes"] += storage.num_envs * world_size
        counters["train_seconds"] += seconds
        local = {
            "reward": float(storage.rewards.sum(dim=0).mean()),  # return of an episode
            "passive_nmse": float(result.passive_error.mean()),
            "refined_nmse": float(result.refined_error.mean()),
            **losses,
            **critic,
            "time_env": result.timings["env"],
            "time_forward": result.timings["forward"],
            "time_update": learning_seconds,
            "time_total": seconds,
        }
        names = list(local)
        reduced = distributed.all_reduce_mean(
            torch.tensor([local[name] for name in names], dtype=torch.float64)
        ).tolist()
        stats = dict(zip(names, reduced))
        check_losses(
            "ddppo",
            f"update {update + 1}",
            {name: stats[name] for name in ("value_loss", "action_loss", "entropy", "memory_l1", "reward")},
            LIKELY_CAUSES,
            self.run.paths.checkpoint_dir,
        )
        stats.update(
            update=float(counters["update"]),
            clip=clip,
            lr_factor=lr_factor,
            memory_lr=memory_lr,
            sps=steps / max(stats["time_total"], 1e-9),
        )
        return stats

    def _experts(self, num_envs: int, rank: int) -> list:
        """One RL.IMITATION.EXPERT baseline agent per env (labels only; see rl/imitation.py)."""
        if self.experts is None:
            config = self.config
            layout = self.run.require_world()
            self.experts = [
                make_agent(
                    str(config.RL.IMITATION.EXPERT),
                    HEADINGS,
                    layout,
                    derive_seed(config.SEED, 13, rank, index),
                )
                for index in range(num_envs)
            ]
        return self.experts

    def _log(self, writer, stats: dict[str, float], counters: dict) -> None:
        step = int(counters["env_steps"])
        writer.add_scalar("reward/episode_return", stats["reward"], step)
        for name in ("value_loss", "action_loss", "entropy", "clip_fraction", "memory_l1"):
            writer.add_scalar(f"losses/{name}", stats[name], step)
        writer.add_scalar("critic/explained_variance", stats["explained_variance"], step)
        writer.add_scalar("critic/advantage_std", stats["advantage_std"], step)
        writer.add_scalar("schedule/memory_lr", stats["memory_lr"], step)
        if counters["update"] <= int(self.config.RL.IMITATION.UPDATES):
            for name in ("imitation_loss", "imitation_accuracy", "expert_probability"):
                writer.add_scalar(f"imitation/{name}", stats[name], step)
        writer.add_scalar("metrics/passive_nmse", stats["passive_nmse"], step)
        writer.add_scalar("metrics/refined_nmse", stats["refined_nmse"], step)
        writer.add_scalar("perf/sps", stats["sps"], step)
        for name in ("env", "forward", "update"):
            writer.add_scalar(f"perf/seconds_{name}", stats[f"time_{name}"], step)
        if counters["update"] % self.config.LOG_INTERVAL == 0 or counters["update"] == 1:
            logger.info(
                "update %d/%d, %d env steps: episode return %.3f, nMSE passive %.3f refined %.3f, memory L1 %.4f, value loss %.4f (explained variance %.2f), entropy %.3f, %.1f steps/s (env %.2f s, forward %.2f s, update %.2f s)",
                counters["update"],
                self.config.NUM_UPDATES,
                counters["env_steps"],
                stats["reward"],
                stats["passive_nmse"],
                stats["refined_nmse"],
                stats["memory_l1"],
                stats["value_loss"],
                stats["explained_variance"],
                stats["entropy"],
                stats["sps"],
                stats["time_env"],
                stats["time_forward"],
                stats["time_update"],
            )
            if counters["update"] <= int(self.config.RL.IMITATION.UPDATES):
                logger.info(
                    "imitation: cross-entropy %.3f, accuracy %.3f, expert probability %.2f",
                    stats["imitation_loss"],
                    stats["imitation_accuracy"],
                    stats["expert_probability"],
                )

    # ================================================================================================ checkpoints
    def _resume(
        self,
        agent,
        ppo: PPO,
        memory_learner: MemoryLearner,
        counters: dict,
        settings: dict,
        separator_description: dict,
    ) -> None:
        """Continue from the newest resume_state.pth / ckpt.N.pth of the run dir, if any."""
        folder = self.run.paths.checkpoint_dir
        found = newest_state(folder) if folder else None
        if found is None:
            return
        path, payload = found
        extra = payload.get("extra") or {}
        if extra.get("agent_settings") != settings:
            raise CheckpointError(
                f"{path}: was trained with other model settings ({extra.get('agent_settings')}) than the config asks for ({settings}); use a matching config or another --model-dir"
            )
        check_resume_config(path, payload.get("config"), self.config, RESUME_REFUSED_KEYS)
        saved_separator = extra.get("separator") or {}
        if saved_separator.get("fingerprint") != separator_description["fingerprint"]:
            raise CheckpointError(
                f"{path}: was trained on another separator ({saved_separator.get('path')}, fingerprint {saved_separator.get('fingerprint')}) than RL.SEPARATOR_CHECKPOINT {separator_description['path']} (fingerprint {separator_description['fingerprint']})"
            )
        try:
            agent.load_state_dict(payload["model"])
            ppo.optimizer.load_state_dict(payload["optimizer"])
            memory_learner.optimizer.load_state_dict(extra["memory_optimizer"])
        except (RuntimeError, ValueError, KeyError, TypeError) as error:
            raise CheckpointError(f"{path}: does not match the agent/optimizers being restored: {error}") from None
        if memory_learner.replay is not None:
            replay = extra.get("memory_replay")
            if replay is None:  # e.g. extending a run trained without the replay
                if distributed.is_main():
                    logger.info("%s holds no memory replay: the replay starts empty", path)
            else:
                try:
                    memory_learner.replay.load_state_dict(replay, self.run.device.device)
                except (ValueError, KeyError) as error:
                    raise CheckpointError(f"{path}: {error}") from None
        counters.update(payload["counters"])
        if distributed.is_main():
            logger.info("resumed from %s at update %d (%d env steps)", path, counters["update"], counters["env_steps"])

    def _save(
        self,
        path: str,
        agent,
        ppo: PPO,
        memory_learner: MemoryLearner,
        counters: dict,
        settings: dict,
        separator_description: dict,
    ) -> str:
        if not self.run.paths.checkpoint_dir:
            return ""  # no --model-dir: nothing is written
        extra = {
            "agent_settings": settings,
            "memory_optimizer": memory_learner.optimizer.state_dict(),
            "separator": separator_description,
        }
        if memory_learner.replay is not None:
            extra["memory_replay"] = memory_learner.replay.state_dict()
        return save_checkpoint(
            path, config=self.config, model=agent, optimizer=ppo.optimizer, counters=counters, extra=extra
        )

    # ================================================================================================ eval
    def eval(self) -> list[dict[str, Any]]:
        return Evaluator(self.run).evaluate_checkpoints()
