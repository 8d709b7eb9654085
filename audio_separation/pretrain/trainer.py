"""Trainer "passive": pretrain the binaural separator and the binaural-to-mono U-Net on passive mixtures.

    python main.py --exp-config configs/quickstart/pretrain_passive.yaml --run-type train --model-dir DIR
    python main.py --exp-config configs/quickstart/pretrain_passive.yaml --run-type eval --model-dir DIR

Train recipe: world (built if absent) -> datasets (train: fresh draws per item; val / nonoverlapping_val:
fixed draws, rendered once into memory) -> separator (seeded init, channels-last) -> Adam -> resume from
the latest <model-dir>/data/ckpt.N.pth if there is one (weights, optimizer, RNG, counters; the
separator settings must match the config) -> epochs of ITEMS_PER_EPOCH items in batches of BATCH_SIZE,
loss L1(binaural) + L1(mono) -> after each epoch: validation on both splits (losses/<split>/*,
metrics/<split>/*), best_ckpt_val.pth / best_ckpt_nonoverlapping_val.pth when that split's mono L1 is
the lowest so far, and ckpt.<epoch>.pth every CHECKPOINT_INTERVAL epochs and at the end.

Randomness: item draws are keyed by (SEED, epoch, position) and the shuffle by (SEED, epoch), so a
resumed run computes exactly the batches an uninterrupted one would, also from the middle of an epoch.

Reliability: a NaN / Inf loss stops training before the optimizer step (common/numerics.py), so the last
good checkpoint stays the newest; a dead DataLoader worker ends the run with an error naming it.
Preemption: SIGTERM / SIGUSR1 finish the current step, write <model-dir>/data/resume_state.pth and exit
with 128 + the signal; the same command resumes exactly (same next losses). Resuming with a changed
RESUME_REFUSED_KEYS key is refused, any other changed key is a warning (common/resume_check.py).
DDP: under torchrun every process trains on its share of each epoch's items (PASSIVE.BATCH_SIZE per
process; gloo on CPU, NCCL on GPU), rank 0 validates and writes the checkpoints.

Eval: scores PASSIVE.EVAL_CHECKPOINT (or EVAL_CKPT_PATH_DIR) on val (heard clips) and
nonoverlapping_val (unheard clips) with fresh draws (PASSIVE.EVAL_SEED): SI-SDR, SI-SDR improvement
and STFT distance of the mono estimate beside the mixture ("input_") baseline, as JSON on stdout and
in <model-dir>/eval/passive_metrics.json.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from audio_separation.audio.episode_metrics import METRIC_NAMES
from audio_separation.audio.stft import StftParams
from audio_separation.common import distributed
from audio_separation.common.checkpoint import (
    CheckpointError,
    checkpoint_path,
    checkpoint_to_evaluate,
    latest_checkpoint,
    load_checkpoint,
    restore_rng_states,
    save_checkpoint,
)
from audio_separation.common.errors import ProjectError, ResumeMismatchError, WorkerDiedError, worker_message
from audio_separation.common.numerics import check_losses, is_finite, non_finite_loss
from audio_separation.common.parameters import count_parameters
from audio_separation.common.preemption import RESUME_STATE_NAME, PreemptionFlag, exit_status
from audio_separation.common.registry import registry
from audio_separation.common.resume_check import check_resume_config
from audio_separation.common.seeding import seed_everything
from audio_separation.common.tensorboard import make_writer
from audio_separation.pretrain.dataset import EpochSampler, PassiveDataset
from audio_separation.pretrain.evaluation import score_split, separation_losses, to_device
from audio_separation.pretrain.separator_checkpoint import (
    build_passive_separator,
    check_settings,
    load_passive_separator,
    separator_settings,
)
from audio_separation.run_context import BaseTrainer, RunContext

logger = logging.getLogger("audio_separation")

VALIDATION_SPLITS = ("val", "nonoverlapping_val")  # heard clips, unheard clips (both on the val scenes)
CLIPS_OF_SPLIT = {"val": "heard", "nonoverlapping_val": "unheard"}


# resuming with any of these changed is refused (another experiment); other changed keys are warnings
RESUME_REFUSED_KEYS = (
    "SEED",
    "PASSIVE.BATCH_SIZE",
    "PASSIVE.ITEMS_PER_EPOCH",
    "TASK.NUM_SOUNDS_IN_MIX",
    "AUDIO.*",
    "MODEL.*",
    "WORLD.DATASET",
    "WORLD.EPISODE_VERSION",
    "WORLD.SOUNDS_DIR",
    "WORLD.RIR_SAMPLE_RATE",
)
LIKELY_CAUSES = (
    "NaN/Inf in the RIRs or clips of this batch (verify the world: --run-type eval with TRAINER_NAME world), "
    "a learning rate too high (PASSIVE.LR), or PASSIVE.ADAM_EPS too small"
)


def best_checkpoint_name(split: str) -> str:
    return f"best_ckpt_{split}.pth"


def materialise(dataset: PassiveDataset, max_items: int = 0) -> dict[str, torch.Tensor]:
    """Render a validation split once into stacked tensors (its draws are fixed, so every epoch reuses them)."""
    count = len(dataset) if max_items <= 0 else min(len(dataset), max_items)
    items = [
        dataset[index] for index in tqdm(range(count), desc=f"rendering {dataset.split}", unit="item", leave=False)
    ]
    return {key: torch.from_numpy(np.stack([item[key] for item in items])) for key in items[0]}


def batches_of(tensors: dict[str, torch.Tensor], batch_size: int):
    count = len(tensors["target_class"])
    for start in range(0, count, batch_size):
        yield {key: value[start : start + batch_size] for key, value in tensors.items()}


def build_optimizer(model: torch.nn.Module, passive) -> torch.optim.Optimizer:
    """Adam with the configured lr and eps; fused (one pass over all parameters) where torch supports it."""
    return torch.optim.Adam(model.parameters(), lr=passive.LR, eps=passive.ADAM_EPS, fused=True)


@registry.register_trainer(name="passive")
class PassiveTrainer(BaseTrainer):
    """Passive separator pretraining and its evaluation (see the module docstring)."""

    def __init__(self, run: RunContext) -> None:
        super().__init__(run)
        config = run.config
        self.step_losses: list[float] = []  # total loss of every step this process ran (tests, debugging)
        self.params = StftParams.from_config(config.AUDIO)
        self.step_samples = int(config.AUDIO.SAMPLE_RATE * config.AUDIO.STEP_SECONDS)
        if config.PASSIVE.NUM_THREADS > 0:
            torch.set_num_threads(int(config.PASSIVE.NUM_THREADS))

    # ================================================================================================ train
    def train(self) -> dict[str, Any]:
        """Train (or resume) to NUM_EPOCHS or MAX_TRAIN_SECONDS; returns the final counters. A preemption
        signal saves a resumable state and raises SystemExit(128 + signal)."""
        preemption = PreemptionFlag().install()  # from the start: a signal during setup stops after one step
        try:
            return self._train(preemption)
        finally:
            preemption.uninstall()

    def _train(self, preemption: PreemptionFlag) -> dict[str, Any]:
        config, passive = self.config, self.config.PASSIVE
        device = self.run.device.device
        rank, world_size, main = self.run.device.rank, self.run.device.world_size, self.run.device.is_main
        seed_everything(config.SEED)
        layout = self.run.require_world()
        train_set = PassiveDataset(config, layout, "train", seed=config.SEED)
        validation = (
            {
                split: materialise(PassiveDataset(config, layout, split, seed=passive.VAL_SEED), passive.VAL_MAX_ITEMS)
                for split in VALIDATION_SPLITS
            }
            if main
            else {}
        )

        torch.manual_seed(config.SEED)  # identical initial weights on every rank
        settings = separator_settings(config)
        model = build_passive_separator(settings, device)
        optimizer = build_optimizer(model, passive)
        counters: dict[str, Any] = {
            "epoch": 0,
            "step": 0,
            "epoch_step": 0,  # steps done in the current epoch (> 0 only in a preemption's resume state)
            "samples": 0,
            "train_seconds": 0.0,
            "world_size": world_size,
            **{f"best_{split}_mono_l1": math.inf for split in VALIDATION_SPLITS},
        }
        self._resume(model, optimizer, counters, settings)
        trained = DistributedDataParallel(model) if distributed.is_distributed() else model

        sampler = EpochSampler(len(train_set.datapoints), passive.ITEMS_PER_EPOCH, config.SEED, rank, world_size)
        workers = int(config.NUM_PROCESSES)
        loader = DataLoader(
            train_set,
            batch_size=passive.BATCH_SIZE,
            sampler=sampler,
            num_workers=workers,
            persistent_workers=workers > 0,
            drop_last=False,
        )
        writer = make_writer(self.run.paths.tensorboard_dir, enabled=main)
        if main:
            logger.info(
                "passive pretraining: %d parameters (width %s), %d train datapoints, %d items per epoch, batch %d x %d process(es), %d workers, %d threads",
                count_parameters(model),
                settings["width"],
                len(train_set.datapoints),
                sampler.items_per_epoch,
                passive.BATCH_SIZE,
                world_size,
                workers,
                torch.get_num_threads(),
            )
        budget = float(passive.MAX_TRAIN_SECONDS)
        out_of_time = budget > 0 and counters["train_seconds"] >= budget
        try:
            while counters["epoch"] < config.NUM_EPOCHS and not out_of_time:
                sampler.set_epoch(counters["epoch"], start=counters["epoch_step"] * passive.BATCH_SIZE)
                stop = self._train_epoch(trained, optimizer, loader, counters, writer, device, budget, preemption)
                if stop == "preempted":
                    self._preempted(model, optimizer, counters, settings, preemption)
                out_of_time = stop == "out_of_time"
                if out_of_time and main:
                    logger.warning(
                        "PASSIVE.MAX_TRAIN_SECONDS (%.0f s) stopped training in epoch %d of %d: the separator got "
                        "fewer steps than NUM_EPOCHS plans, so its quality depends on this machine's speed and load",
                        budget,
                        counters["epoch"] + 1,
                        int(config.NUM_EPOCHS),
                    )
                counters["epoch"] += 1
                counters["epoch_step"] = 0
                if main:
                    summaries = self._validate(model, validation, counters, writer, device)
                    finished = counters["epoch"] >= config.NUM_EPOCHS or out_of_time
                    self._save(
                        model,
                        optimizer,
                        counters,
                        settings,
                        summaries,
                        periodic=finished or counters["epoch"] % config.CHECKPOINT_INTERVAL == 0,
                    )
                distributed.barrier()
        finally:
            writer.close()
        distributed.cleanup_distributed()
        return counters

    def _preempted(self, model, optimizer, counters: dict, settings: dict, preemption: PreemptionFlag) -> None:
        """Rank 0 writes resume_state.pth (mid-epoch counters included); every rank exits 128 + signal."""
        if self.run.device.is_main and self.run.paths.checkpoint_dir:
            path = os.path.join(self.run.paths.checkpoint_dir, RESUME_STATE_NAME)
            save_checkpoint(
                path,
                config=self.config,
                model=model,
                optimizer=optimizer,
                counters=counters,
                extra={"separator": settings, "validation": {}},
            )
            logger.warning(
                "preempted after step %d (epoch %d, step %d of it): wrote %s; run the same command again to resume",
                counters["step"],
                counters["epoch"] + 1,
                counters["epoch_step"],
                path,
            )
        distributed.barrier()
        distributed.cleanup_distributed()
        raise SystemExit(exit_status(preemption))

    def train_step(self, model, optimizer, batch: dict[str, torch.Tensor], step: int = 0) -> dict[str, torch.Tensor]:
        """One optimisation step on a batch; returns the loss terms. A non-finite loss (on any rank) raises
        NonFiniteError before backward and the optimizer step."""
        output = model(batch["mixed_binaural_magnitude"], batch["target_class"])
        losses = separation_losses(output, batch)
        if distributed.any_rank(not is_finite(losses["total"])):
            raise non_finite_loss("passive", f"step {step}", losses, LIKELY_CAUSES, self.run.paths.checkpoint_dir)
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        if self.config.PASSIVE.GRAD_CLIP_NORM > 0:  # after backward (the original clipped before it: a no-op)
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.config.PASSIVE.GRAD_CLIP_NORM)
        optimizer.step()
        return losses

    def _batches(self, loader):
        """The loader's batches; a dead worker (killed, out of memory) is a WorkerDiedError naming it."""
        iterator = iter(loader)
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                return
            except ProjectError as error:  # raised inside a worker: keep the type, drop the worker's traceback
                raise type(error)(worker_message(error)) from None
            except (RuntimeError, ConnectionError, EOFError, OSError) as error:
                self._raise_if_worker_died(error)
                raise
            yield batch

    def _raise_if_worker_died(self, error: BaseException) -> None:
        """WorkerDiedError for the ways a dead DataLoader worker surfaces (torch's SIGCHLD handler raises
        its RuntimeError wherever the main thread is; a reset pipe is a ConnectionResetError)."""
        text = " ".join(str(error).split())
        if isinstance(error, (ConnectionError, EOFError)) or "DataLoader worker" in text:
            raise WorkerDiedError(
                f"a DataLoader worker of the passive train set died ({type(error).__name__}: {text[:300]}); "
                f"NUM_PROCESSES={self.config.NUM_PROCESSES} workers: killed, or out of memory? Rerun the "
                "same command to resume from the last checkpoint"
            ) from None

    def _train_epoch(
        self,
        model,
        optimizer,
        loader,
        counters: dict,
        writer,
        device: torch.device,
        budget: float,
        preemption: PreemptionFlag,
    ) -> str:
        """The (rest of the) epoch's optimisation steps; returns "preempted", "out_of_time" or ""."""
        model.train()
        bar = tqdm(
            total=len(loader),
            desc=f"passive epoch {counters['epoch'] + 1}/{self.config.NUM_EPOCHS}",
            unit="batch",
            leave=False,
            disable=not self.run.device.is_main,
        )
        tick = time.perf_counter()
        try:
            for batch in self._batches(loader):
                losses = self.train_step(model, optimizer, to_device(batch, device), counters["step"] + 1)
                now = time.perf_counter()
                step_seconds, tick = now - tick, now
                size = int(batch["target_class"].shape[0])
                counters["step"] += 1
                counters["epoch_step"] += 1
                counters["samples"] += size * self.run.device.world_size
                counters["train_seconds"] += step_seconds
                total = float(losses["total"].detach())
                self.step_losses.append(total)
                bar.update(1)
                bar.set_postfix(loss=f"{total:.4f}", sps=f"{size / max(step_seconds, 1e-9):.0f}")
                if self.run.device.is_main and counters["step"] % self.config.LOG_INTERVAL == 0:
                    for name, value in losses.items():
                        writer.add_scalar(f"losses/{name}", float(value.detach()), counters["step"])
                    writer.add_scalar(
                        "perf/sps", counters["samples"] / max(counters["train_seconds"], 1e-9), counters["step"]
                    )
                preempted, out_of_time = distributed.any_rank_each(
                    [preemption.requested, budget > 0 and counters["train_seconds"] >= budget]
                )
                if preempted:
                    return "preempted"
                if out_of_time:
                    return "out_of_time"
        except (RuntimeError, ConnectionError, EOFError) as error:
            if isinstance(error, ProjectError):
                raise
            self._raise_if_worker_died(error)
            raise
        finally:
            bar.close()
        return ""

    def _validate(self, model, validation: dict, counters: dict, writer, device: torch.device) -> dict[str, dict]:
        summaries = {}
        for split, tensors in validation.items():
            scored = score_split(
                model,
                batches_of(tensors, self.config.PASSIVE.EVAL_BATCH_SIZE),
                self.params,
                self.config.AUDIO.TARGET_MONO_RMS,
                self.step_samples,
                device,
            )
            summary = {name: value["mean"] for name, value in scored["summary"].items()}
            summaries[split] = summary
            check_losses(
                "passive",
                f"validation of {split} after epoch {counters['epoch']}",
                {name: summary[name] for name in ("binaural_l1", "mono_l1")},
                "NaN/Inf in the validation split's RIRs or clips, or weights that went non-finite",
                self.run.paths.checkpoint_dir,
            )
            for name in ("binaural_l1", "mono_l1"):
                writer.add_scalar(f"losses/{split}/{name}", summary[name], counters["epoch"])
            for name in METRIC_NAMES:
                writer.add_scalar(f"metrics/{split}/{name}", summary[name], counters["epoch"])
        logger.info(
            "epoch %d (%d steps, %.0f s, %.1f samples/s): %s",
            counters["epoch"],
            counters["step"],
            counters["train_seconds"],
            counters["samples"] / max(counters["train_seconds"], 1e-9),
            "; ".join(
                f"{split} mono L1 {s['mono_l1']:.4f}, SI-SDR {s['si_sdr']:.2f} dB (mixture {s['input_si_sdr']:.2f})"
                for split, s in summaries.items()
            ),
        )
        return summaries

    # ================================================================================================ checkpoints
    def _resume(self, model, optimizer, counters: dict, settings: dict) -> None:
        """Continue from the newer of resume_state.pth (preemption) and the latest ckpt.N.pth of the run
        dir, if any (clear errors for bad files and for changed hyper-parameters)."""
        folder = self.run.paths.checkpoint_dir
        candidates = [os.path.join(folder, RESUME_STATE_NAME), latest_checkpoint(folder) or ""] if folder else []
        loaded = [(path, load_checkpoint(path)) for path in candidates if path and os.path.isfile(path)]
        if not loaded:
            return
        path, payload = max(loaded, key=lambda item: int(item[1]["counters"].get("step", -1)))
        check_settings(path, (payload.get("extra") or {}).get("separator"), settings)
        check_resume_config(path, payload.get("config"), self.config, RESUME_REFUSED_KEYS)
        saved_world_size = int(payload["counters"].get("world_size", 1))
        if saved_world_size != counters["world_size"]:
            raise ResumeMismatchError(
                f"{path}: was written by {saved_world_size} process(es), this run has {counters['world_size']}: "
                "each process draws its own share of an epoch, so resume with the same number of processes"
            )
        try:
            model.load_state_dict(payload["model"])
            optimizer.load_state_dict(payload["optimizer"])
        except (RuntimeError, ValueError, KeyError, TypeError) as error:
            raise CheckpointError(f"{path}: does not match the separator/optimizer being restored: {error}") from None
        counters.update(payload["counters"])
        if payload.get("rng"):
            restore_rng_states(payload["rng"])
        if self.run.device.is_main:
            logger.info(
                "resumed from %s at epoch %d, step %d (%d steps into the epoch)",
                path,
                counters["epoch"],
                counters["step"],
                counters["epoch_step"],
            )

    def _save(self, model, optimizer, counters: dict, settings: dict, summaries: dict, periodic: bool) -> None:
        folder = self.run.paths.checkpoint_dir
        if not folder:
            return
        extra = {"separator": settings, "validation": summaries}
        for split, summary in summaries.items():
            key = f"best_{split}_mono_l1"
            if summary["mono_l1"] < counters[key]:
                counters[key] = summary["mono_l1"]
                save_checkpoint(
                    os.path.join(folder, best_checkpoint_name(split)),
                    config=self.config,
                    model=model,
                    optimizer=optimizer,
                    counters=counters,
                    extra=extra,
                )
                logger.info(
                    "new best %s mono L1 %.4f at epoch %d -> %s",
                    split,
                    summary["mono_l1"],
                    counters["epoch"],
                    best_checkpoint_name(split),
                )
        if periodic:
            path = save_checkpoint(
                checkpoint_path(folder, counters["epoch"]),
                config=self.config,
                model=model,
                optimizer=optimizer,
                counters=counters,
                extra=extra,
            )
            logger.info("saved %s", path)

    def _checkpoint_to_evaluate(self) -> str:
        return checkpoint_to_evaluate(
            self.config.EVAL_CKPT_PATH_DIR, self.run.paths.checkpoint_dir, self.config.PASSIVE.EVAL_CHECKPOINT
        )

    # ================================================================================================ eval
    def eval(self) -> dict[str, Any]:
        """Score a checkpoint on heard and unheard validation clips; returns (and prints) the result JSON."""
        config, passive = self.config, self.config.PASSIVE
        device = self.run.device.device
        layout = self.run.require_world()
        path = self._checkpoint_to_evaluate()
        model, payload = load_passive_separator(path, device)
        for key, value in separator_settings(config).items():  # the checkpoint decides the model: say so
            saved = payload["extra"]["separator"].get(key)
            if saved != value:
                logger.warning(
                    "%s: evaluating the checkpoint's separator %s=%r; the config asks for %r (ignored)",
                    path,
                    key,
                    saved,
                    value,
                )
        counters = payload.get("counters", {})
        result: dict[str, Any] = {
            "checkpoint": path,
            "epoch": counters.get("epoch"),
            "parameters": count_parameters(model),
            "separator": payload["extra"]["separator"],
            "training_seconds": counters.get("train_seconds"),
            "training_samples_per_second": counters.get("samples", 0) / max(counters.get("train_seconds") or 0.0, 1e-9),
            "eval_seed": int(passive.EVAL_SEED),
            "splits": {},
        }
        per_item = {}
        for split in VALIDATION_SPLITS:
            dataset = PassiveDataset(
                config, layout, split, seed=passive.EVAL_SEED, draws_per_datapoint=passive.EVAL_DRAWS_PER_DATAPOINT
            )
            scored = score_split(
                model,
                batches_of(materialise(dataset), passive.EVAL_BATCH_SIZE),
                self.params,
                config.AUDIO.TARGET_MONO_RMS,
                self.step_samples,
                device,
            )
            result["splits"][split] = {"clips": CLIPS_OF_SPLIT[split], "items": len(dataset), **scored["summary"]}
            per_item[split] = scored["per_item"]
        out_dir = os.path.join(self.run.paths.model_dir or ".", "eval")
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "passive_metrics.json"), "w") as handle:
            json.dump(result, handle, indent=1)
        with open(os.path.join(out_dir, "passive_per_item.json"), "w") as handle:
            json.dump(per_item, handle)
        print(json.dumps(result, indent=1))
        for split, scores in result["splits"].items():
            logger.info(
                "%s (%s clips): SI-SDR %.2f dB vs mixture %.2f dB (improvement %.2f dB), STFT distance %.4f vs %.4f",
                split,
                scores["clips"],
                scores["si_sdr"]["mean"],
                scores["input_si_sdr"]["mean"],
                scores["si_sdr_improvement"]["mean"],
                scores["stft_distance"]["mean"],
                scores["input_stft_distance"]["mean"],
            )
        return result
