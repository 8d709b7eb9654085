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
resumed run computes exactly the batches an uninterrupted one would (checkpoints sit at epoch ends).

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
from torch.utils.data import DataLoader
from tqdm import tqdm

from audio_separation.audio.episode_metrics import METRIC_NAMES
from audio_separation.audio.stft import StftParams
from audio_separation.common.checkpoint import (
    CheckpointError,
    checkpoint_path,
    checkpoint_to_evaluate,
    latest_checkpoint,
    load_checkpoint,
    restore_rng_states,
    save_checkpoint,
)
from audio_separation.common.parameters import count_parameters
from audio_separation.common.registry import registry
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
        """Train (or resume) to NUM_EPOCHS or MAX_TRAIN_SECONDS; returns the final counters."""
        config, passive = self.config, self.config.PASSIVE
        device = self.run.device.device
        seed_everything(config.SEED)
        layout = self.run.require_world()
        train_set = PassiveDataset(config, layout, "train", seed=config.SEED)
        validation = {
            split: materialise(PassiveDataset(config, layout, split, seed=passive.VAL_SEED), passive.VAL_MAX_ITEMS)
            for split in VALIDATION_SPLITS
        }

        torch.manual_seed(config.SEED)
        settings = separator_settings(config)
        model = build_passive_separator(settings, device)
        optimizer = build_optimizer(model, passive)
        counters: dict[str, Any] = {
            "epoch": 0,
            "step": 0,
            "samples": 0,
            "train_seconds": 0.0,
            **{f"best_{split}_mono_l1": math.inf for split in VALIDATION_SPLITS},
        }
        self._resume(model, optimizer, counters, settings)

        sampler = EpochSampler(len(train_set.datapoints), passive.ITEMS_PER_EPOCH, config.SEED)
        workers = int(config.NUM_PROCESSES)
        loader = DataLoader(
            train_set,
            batch_size=passive.BATCH_SIZE,
            sampler=sampler,
            num_workers=workers,
            persistent_workers=workers > 0,
            drop_last=False,
        )
        writer = make_writer(self.run.paths.tensorboard_dir)
        logger.info(
            "passive pretraining: %d parameters (width %s), %d train datapoints, %d items per epoch, batch %d, %d workers, %d threads",
            count_parameters(model),
            settings["width"],
            len(train_set.datapoints),
            len(sampler),
            passive.BATCH_SIZE,
            workers,
            torch.get_num_threads(),
        )
        budget = float(passive.MAX_TRAIN_SECONDS)
        out_of_time = budget > 0 and counters["train_seconds"] >= budget
        while counters["epoch"] < config.NUM_EPOCHS and not out_of_time:
            sampler.set_epoch(counters["epoch"])
            out_of_time = self._train_epoch(model, optimizer, loader, counters, writer, device, budget)
            counters["epoch"] += 1
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
        writer.close()
        return counters

    def train_step(self, model, optimizer, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One optimisation step on a batch; returns the loss terms."""
        output = model(batch["mixed_binaural_magnitude"], batch["target_class"])
        losses = separation_losses(output, batch)
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        if self.config.PASSIVE.GRAD_CLIP_NORM > 0:  # after backward (the original clipped before it: a no-op)
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.config.PASSIVE.GRAD_CLIP_NORM)
        optimizer.step()
        return losses

    def _train_epoch(
        self, model, optimizer, loader, counters: dict, writer, device: torch.device, budget: float
    ) -> bool:
        """One epoch of optimisation steps; returns True when the time budget ran out inside it."""
        model.train()
        bar = tqdm(
            total=len(loader),
            desc=f"passive epoch {counters['epoch'] + 1}/{self.config.NUM_EPOCHS}",
            unit="batch",
            leave=False,
        )
        tick = time.perf_counter()
        try:
            for batch in loader:
                losses = self.train_step(model, optimizer, to_device(batch, device))
                now = time.perf_counter()
                step_seconds, tick = now - tick, now
                size = int(batch["target_class"].shape[0])
                counters["step"] += 1
                counters["samples"] += size
                counters["train_seconds"] += step_seconds
                total = float(losses["total"].detach())
                self.step_losses.append(total)
                bar.update(1)
                bar.set_postfix(loss=f"{total:.4f}", sps=f"{size / max(step_seconds, 1e-9):.0f}")
                if counters["step"] % self.config.LOG_INTERVAL == 0:
                    for name, value in losses.items():
                        writer.add_scalar(f"losses/{name}", float(value.detach()), counters["step"])
                    writer.add_scalar(
                        "perf/sps", counters["samples"] / max(counters["train_seconds"], 1e-9), counters["step"]
                    )
                if budget > 0 and counters["train_seconds"] >= budget:
                    return True
        finally:
            bar.close()
        return False

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
        """Continue from the latest ckpt.N.pth of the run dir, if any (clear errors for bad files)."""
        folder = self.run.paths.checkpoint_dir
        path = latest_checkpoint(folder) if folder else None
        if path is None:
            return
        payload = load_checkpoint(path)
        check_settings(path, (payload.get("extra") or {}).get("separator"), settings)
        try:
            model.load_state_dict(payload["model"])
            optimizer.load_state_dict(payload["optimizer"])
        except (RuntimeError, ValueError, KeyError, TypeError) as error:
            raise CheckpointError(f"{path}: does not match the separator/optimizer being restored: {error}") from None
        counters.update(payload["counters"])
        if payload.get("rng"):
            restore_rng_states(payload["rng"])
        logger.info("resumed from %s at epoch %d (step %d)", path, counters["epoch"], counters["step"])

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
