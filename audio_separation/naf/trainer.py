"""Trainer "naf": fit one neural acoustic field per scene (train), score it on the held-out split (eval).

    python main.py --exp-config configs/quickstart/naf.yaml --run-type train --model-dir runs/naf
    torchrun --nproc_per_node 2 main.py --exp-config configs/naf/apartment_01.yaml --run-type train --model-dir DIR
    python main.py --exp-config configs/quickstart/naf.yaml --run-type eval --model-dir runs/naf

Train recipe: data (rank 0 builds, others wait) -> model (DDP when launched by torchrun) -> AdamW with
weight decay on the grid features only -> epochs over a DistributedSampler (its epoch is set) of the
train split, BATCH_RIRS items per step, lr decayed exponentially from LR at the first step to LR_END
at the last (schedule by step, not wall clock) -> checkpoints every CHECKPOINT_INTERVAL epochs and at
the end. Re-running with the same --model-dir resumes from the newest checkpoint or preemption state.

Time budget (MAX_TRAIN_SECONDS): after PLAN_AFTER_STEPS steps (or as soon as the budget is spent) the
budget becomes a step count, planned_steps = budget / mean step time (capped by NUM_EPOCHS), saved in the
checkpoints; training stops there and the lr reaches LR_END on that step, so a resumed run follows the
same schedule exactly. Randomness of step s of epoch e comes from derive_seed(SEED, rank, e, s), so a run
resumed at any step continues exactly as an uninterrupted one.

Reliability: a NaN / Inf loss stops training (before the optimizer step in a single process; after the
step that all ranks agree on under DDP) with no checkpoint written after the last good one. SIGTERM /
SIGUSR1 finish the step, write <model-dir>/data/resume_state.pth (rank 0) and exit with 128 + signal.
Resuming with a changed RESUME_REFUSED_KEYS key is refused, other changed keys are warnings.
"""

from __future__ import annotations

import logging
import math
import os
import time

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler
from tqdm import tqdm

from audio_separation.common import distributed
from audio_separation.common.checkpoint import (
    checkpoint_path,
    checkpoint_to_evaluate,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from audio_separation.common.errors import ResumeMismatchError
from audio_separation.common.files import write_json_atomic
from audio_separation.common.numerics import is_finite, non_finite_loss
from audio_separation.common.parameters import count_parameters
from audio_separation.common.preemption import RESUME_STATE_NAME, PreemptionFlag, exit_status
from audio_separation.common.registry import registry
from audio_separation.common.resume_check import check_resume_config
from audio_separation.common.seeding import derive_seed, seed_everything
from audio_separation.common.tensorboard import make_writer
from audio_separation.naf.batches import SceneTensors, denormalise, frame_loss, pixel_loss
from audio_separation.naf.data import NafSceneData, ensure_scene_data, load_scene_data
from audio_separation.naf.evaluate import score_paper_protocol, score_phase_methods
from audio_separation.naf.model import build_model, scene_box
from audio_separation.run_context import BaseTrainer

logger = logging.getLogger("audio_separation")


def prepare_scene_data(config) -> NafSceneData:
    """Rank 0 builds the scene's NAF files from the (opened) world if absent; every rank loads them."""
    if distributed.is_main():
        ensure_scene_data(config, progress=True)
    distributed.barrier()
    return load_scene_data(config)


def model_for_scene(config, data: NafSceneData) -> torch.nn.Module:
    return build_model(
        config, scene_box(data.node_xy, config.NAF.GRID_MARGIN), len(data.headings), data.num_freq_bins, data.max_len
    )


PLAN_AFTER_STEPS = 10  # steps timed before a time budget is turned into a step count
RESUME_REFUSED_KEYS = (
    "SEED",
    "NAF.SCENE",
    "NAF.MODEL",
    "NAF.BATCH_RIRS",
    "NAF.PIXELS_PER_RIR",
    "NAF.FRAMES_PER_RIR",
    "NAF.HIDDEN",
    "NAF.NUM_BLOCKS",
    "NAF.SKIP_AFTER",
    "NAF.GRID_*",
    "NAF.*_FREQUENCIES",
    "NAF.*_MAX_LOG2",
    "NAF.SAMPLE_RATE",
    "NAF.N_FFT",
    "NAF.HOP_LENGTH",
    "NAF.PAD_MODE",
    "NAF.APPEND_ZEROS",
    "NAF.MIN_SECONDS",
    "NAF.LOG_EPS",
    "NAF.STD_*",
    "NAF.TRAIN_FRACTION",
    "NAF.SPLIT_SEED",
    "WORLD.DATASET",
)
LIKELY_CAUSES = (
    "NaN/Inf in the scene's NAF data (rebuild NAF.DATA_DIR from a verified world), a learning rate too high "
    "(NAF.LR), or a loss weight too large (NAF.DECAY_LOSS_WEIGHT / NAF.EDC_LOSS_WEIGHT)"
)


def learning_rate(config, progress: float) -> float:
    """LR * (LR_END / LR) ** progress, progress in [0, 1]."""
    naf = config.NAF
    return float(naf.LR * (naf.LR_END / naf.LR) ** min(max(progress, 0.0), 1.0))


@torch.no_grad()
def predict_logmags(
    model, data: NafSceneData, indices: np.ndarray, std_scale: float, batch_size: int, device
) -> list[np.ndarray]:
    """Log-magnitudes (2, F, T_i) of items `indices`, each at its ground-truth length (the paper's QUIRK)."""
    model.eval()
    outputs = []
    for start in range(0, len(indices), batch_size):
        chunk = indices[start : start + batch_size]
        listener = torch.from_numpy(data.listener_xy[chunk]).float().to(device)
        emitter = torch.from_numpy(data.emitter_xy[chunk]).float().to(device)
        heading = torch.from_numpy(data.heading_index[chunk]).long().to(device)
        frames = int(data.lengths[chunk].max())
        normalised = model.predict_spectrogram(listener, emitter, heading, frames).cpu().numpy()
        for row, item in zip(normalised, chunk):
            outputs.append(denormalise(row[..., : data.lengths[item]], data, std_scale).astype(np.float32))
    return outputs


@torch.no_grad()
def inference_milliseconds(model, data: NafSceneData, device, repeats: int = 10) -> float:
    """Mean wall-clock ms to predict one binaural RIR's full spectrogram (batch of 1, after a warm-up)."""
    model.eval()
    item = int(data.test_indices[0])
    args = (
        torch.from_numpy(data.listener_xy[item : item + 1]).float().to(device),
        torch.from_numpy(data.emitter_xy[item : item + 1]).float().to(device),
        torch.from_numpy(data.heading_index[item : item + 1]).long().to(device),
        int(data.lengths[item]),
    )
    model.predict_spectrogram(*args)
    start = time.perf_counter()
    for _ in range(repeats):
        model.predict_spectrogram(*args)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 1000.0 * (time.perf_counter() - start) / repeats


@registry.register_trainer(name="naf")
class NafTrainer(BaseTrainer):
    """Per-scene NAF training and evaluation (see the module docstring)."""

    def _loss(self, model, tensors: SceneTensors, items: torch.Tensor, generator: torch.Generator, stft_params):
        naf = self.config.NAF
        if naf.MODEL == "pixel":
            for key in ("DECAY_LOSS_WEIGHT", "EDC_LOSS_WEIGHT"):
                if naf[key] > 0:
                    raise ValueError(
                        f"NAF.{key} {naf[key]} needs whole spectrograms per step: use NAF.MODEL frame (or weight 0 for pixel)"
                    )
            return pixel_loss(
                model, tensors, items, naf.PIXELS_PER_RIR, naf.POSITION_JITTER, naf.PAD_TO_MAX_FRACTION, generator
            )
        return frame_loss(
            model,
            tensors,
            items,
            naf.FRAMES_PER_RIR,
            naf.POSITION_JITTER,
            naf.PAD_TO_MAX_FRACTION,
            generator,
            naf.DECAY_LOSS_WEIGHT,
            naf.DECAY_LOSS_FLOOR_DB,
            naf.DECAY_LOSS_CURVE,
            naf.EDC_LOSS_WEIGHT,
            naf.EDC_LOSS_FLOOR_DB,
            naf.EDC_LOSS_DOMAIN,
            stft_params,
        )

    def train(self) -> None:
        preemption = PreemptionFlag().install()
        try:
            self._train(preemption)
        finally:
            preemption.uninstall()

    def _train(self, preemption: PreemptionFlag) -> None:
        config, naf = self.config, self.config.NAF
        device = self.run.device.device
        rank, world_size, main = self.run.device.rank, self.run.device.world_size, self.run.device.is_main
        seed_everything(derive_seed(config.SEED, rank))
        data = prepare_scene_data(config)
        tensors = SceneTensors.from_data(data, naf.STD_SCALE, device)
        torch.manual_seed(config.SEED)  # identical initial weights on every rank
        model = model_for_scene(config, data).to(device)
        grid = {id(p) for p in model.grid_parameters()}
        optimizer = torch.optim.AdamW(
            [
                {"params": [p for p in model.parameters() if id(p) in grid], "weight_decay": naf.GRID_WEIGHT_DECAY},
                {"params": [p for p in model.parameters() if id(p) not in grid], "weight_decay": 0.0},
            ],
            lr=naf.LR,
        )
        counters = {
            "epoch": 0,
            "step": 0,
            "epoch_step": 0,  # steps done in the current epoch (> 0 only in a preemption's resume state)
            "planned_steps": 0,  # the time budget as a step count, once planned (0: not planned / no budget)
            "planned_total_steps": 0,  # NUM_EPOCHS x steps per epoch when the budget was planned
            "seconds": 0.0,
            "queries": 0,
            "world_size": world_size,
        }
        self._resume(model, optimizer, counters)
        trained = DistributedDataParallel(model) if distributed.is_distributed() else model
        sampler = DistributedSampler(
            range(len(data.train_indices)),
            num_replicas=world_size,
            rank=rank,
            shuffle=True,
            seed=config.SEED,
            drop_last=False,
        )
        steps_per_epoch = math.ceil(len(sampler) / naf.BATCH_RIRS)
        total_steps = int(config.NUM_EPOCHS) * steps_per_epoch
        train_items = torch.from_numpy(data.train_indices).to(device)
        writer = make_writer(self.run.paths.tensorboard_dir, enabled=main)
        if main:
            logger.info(
                "NAF %s model on %s: %d parameters, %d train / %d test items, %d process(es), %d steps per epoch",
                naf.MODEL,
                data.scene,
                count_parameters(model),
                len(data.train_indices),
                len(data.test_indices),
                world_size,
                steps_per_epoch,
            )
        budget = float(naf.MAX_TRAIN_SECONDS)
        if counters["planned_steps"] and counters["planned_total_steps"] not in (0, total_steps):
            # resumed with another NUM_EPOCHS (a warned key): plan the budget again at the measured step time
            per_step = counters["seconds"] / max(counters["step"], 1)
            counters["planned_steps"] = max(counters["step"], min(total_steps, int(budget / max(per_step, 1e-9))))
        counters["planned_total_steps"] = total_steps

        def last_step() -> int:
            return min(total_steps, counters["planned_steps"]) if counters["planned_steps"] else total_steps

        bar = tqdm(
            total=config.NUM_EPOCHS, initial=counters["epoch"], desc="naf epochs", unit="epoch", disable=not main
        )
        out_of_time = counters["step"] >= last_step() and counters["step"] > 0
        while counters["epoch"] < config.NUM_EPOCHS and not out_of_time:
            epoch = counters["epoch"]
            sampler.set_epoch(epoch)
            order = torch.tensor(list(sampler), dtype=torch.long)
            trained.train()
            epoch_loss, epoch_steps = 0.0, 0
            for start in range(counters["epoch_step"] * naf.BATCH_RIRS, len(order), naf.BATCH_RIRS):
                tick = time.perf_counter()
                step = counters["step"]  # 0-based index of this step
                progress = step / max(last_step() - 1, 1)
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(config, progress)
                generator = torch.Generator().manual_seed(derive_seed(config.SEED, rank, epoch, counters["epoch_step"]))
                items = train_items[order[start : start + naf.BATCH_RIRS].to(device)]
                loss, queries = self._loss(trained, tensors, items, generator, data.params.stft_params)
                finite = is_finite(loss)
                where = f"step {step + 1} (epoch {epoch + 1})"
                if not finite and not distributed.is_distributed():  # before the step; DDP ranks agree below
                    raise non_finite_loss("naf", where, {"loss": loss}, LIKELY_CAUSES, self.run.paths.checkpoint_dir)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                # one all-reduce: mean step time, and whether any rank saw a non-finite loss or a signal
                seconds, any_non_finite, any_preempted = distributed.all_reduce_mean(
                    torch.tensor(
                        [time.perf_counter() - tick, 0.0 if finite else 1.0, 1.0 if preemption.requested else 0.0],
                        dtype=torch.float64,
                    )
                ).tolist()
                if any_non_finite > 0:
                    raise non_finite_loss(
                        "naf", f"{where} on some rank", {"loss": loss}, LIKELY_CAUSES, self.run.paths.checkpoint_dir
                    )
                counters["step"] += 1
                counters["epoch_step"] += 1
                counters["seconds"] += seconds
                counters["queries"] += queries * world_size
                epoch_loss += float(loss.detach())
                epoch_steps += 1
                if budget > 0 and not counters["planned_steps"]:
                    if counters["step"] >= PLAN_AFTER_STEPS or counters["seconds"] >= budget:
                        per_step = counters["seconds"] / counters["step"]
                        counters["planned_steps"] = max(counters["step"], min(total_steps, int(budget / per_step)))
                        if main:
                            logger.info(
                                "time budget %.0f s at %.3f s per step: training %d steps (lr reaches NAF.LR_END on the last)",
                                budget,
                                per_step,
                                counters["planned_steps"],
                            )
                if counters["step"] % config.LOG_INTERVAL == 0:  # every rank joins the all-reduce
                    step_loss = float(distributed.all_reduce_mean(loss.detach()))
                if main and counters["step"] % config.LOG_INTERVAL == 0:
                    writer.add_scalar(
                        "losses/mse" if naf.DECAY_LOSS_WEIGHT == 0 else "losses/mse_plus_decay",
                        step_loss,
                        counters["step"],
                    )
                    writer.add_scalar(
                        "perf/queries_per_second", queries * world_size / max(seconds, 1e-9), counters["step"]
                    )
                    writer.add_scalar("perf/lr", optimizer.param_groups[0]["lr"], counters["step"])
                if any_preempted > 0:
                    self._preempted(model, optimizer, counters, data, preemption)
                if counters["step"] >= last_step():
                    out_of_time = counters["step"] < total_steps
                    break
            counters["epoch"] = epoch + 1
            counters["epoch_step"] = 0
            mean_loss = float(distributed.all_reduce_mean(epoch_loss / max(epoch_steps, 1)))
            if main:
                writer.add_scalar(
                    "losses/epoch_mse" if naf.DECAY_LOSS_WEIGHT == 0 else "losses/epoch_mse_plus_decay",
                    mean_loss,
                    counters["epoch"],
                )
                bar.update(1)
                bar.set_postfix(loss=f"{mean_loss:.4f}", lr=f"{optimizer.param_groups[0]['lr']:.2e}")
                logger.info(
                    "epoch %d: mse %.5f, %.0f s, %.0f queries/s",
                    counters["epoch"],
                    mean_loss,
                    counters["seconds"],
                    counters["queries"] / max(counters["seconds"], 1e-9),
                )
            finished = counters["epoch"] >= config.NUM_EPOCHS or out_of_time
            if (
                main
                and self.run.paths.checkpoint_dir
                and (finished or counters["epoch"] % config.CHECKPOINT_INTERVAL == 0)
            ):
                self._save(model, optimizer, counters, data)
        bar.close()
        writer.close()
        self.final_counters = counters
        self.final_lr = float(optimizer.param_groups[0]["lr"])
        distributed.barrier()
        distributed.cleanup_distributed()

    def _resume(self, model, optimizer, counters: dict) -> None:
        """Continue from the newer of resume_state.pth and the latest ckpt.N.pth, if any."""
        folder = self.run.paths.checkpoint_dir
        candidates = [os.path.join(folder, RESUME_STATE_NAME), latest_checkpoint(folder) or ""] if folder else []
        found = [path for path in candidates if path and os.path.isfile(path)]
        if not found:
            return
        loaded = [(path, load_checkpoint(path)) for path in found]
        path, payload = max(loaded, key=lambda item: int(item[1]["counters"].get("step", -1)))
        check_resume_config(path, payload.get("config"), self.config, RESUME_REFUSED_KEYS)
        saved_world_size = int(payload["counters"].get("world_size", 1))
        if saved_world_size != counters["world_size"]:
            raise ResumeMismatchError(
                f"{path}: was written by {saved_world_size} process(es), this run has {counters['world_size']}: "
                "resume with the same number of processes"
            )
        load_checkpoint(path, model=model, optimizer=optimizer, restore_rng=True)
        counters.update({key: value for key, value in payload["counters"].items() if key in counters})
        if self.run.device.is_main:
            logger.info("resumed from %s at epoch %d (step %d)", path, counters["epoch"], counters["step"])

    def _preempted(self, model, optimizer, counters: dict, data: NafSceneData, preemption: PreemptionFlag) -> None:
        if self.run.device.is_main and self.run.paths.checkpoint_dir:
            path = self._save(
                model, optimizer, counters, data, os.path.join(self.run.paths.checkpoint_dir, RESUME_STATE_NAME)
            )
            logger.warning(
                "preempted after step %d: wrote %s; run the same command again to resume", counters["step"], path
            )
        self.final_counters = counters
        distributed.barrier()
        distributed.cleanup_distributed()
        raise SystemExit(exit_status(preemption))

    def _save(self, model, optimizer, counters: dict, data: NafSceneData, path: str = "") -> str:
        extra = {
            "box": scene_box(data.node_xy, self.config.NAF.GRID_MARGIN),
            "num_headings": len(data.headings),
            "num_freq_bins": data.num_freq_bins,
            "max_len": data.max_len,
            # what a checkpoint needs to render RIRs alone (naf/rir_source.py): the headings and the
            # normalisation statistics (about 2 x 256 x max_len float32)
            "headings": list(data.headings),
            "stats_mean": data.mean,
            "stats_std": data.std,
        }
        counters = {**counters, "queries_per_second": counters["queries"] / max(counters["seconds"], 1e-9)}
        path = path or checkpoint_path(self.run.paths.checkpoint_dir, counters["epoch"])
        save_checkpoint(path, config=self.config, model=model, optimizer=optimizer, counters=counters, extra=extra)
        logger.info("saved %s", path)
        return path

    def _checkpoint_to_evaluate(self) -> str:
        return checkpoint_to_evaluate(self.config.EVAL_CKPT_PATH_DIR, self.run.paths.checkpoint_dir)

    def eval(self) -> dict:
        """Score the latest (or EVAL_CKPT_PATH_DIR) checkpoint and the mean predictor on the test split;
        writes <model-dir>/eval/metrics.json (+ per_item.json, plots when the floor plan exists, and
        index.html with audio and pictures of NAF.REPORT_PAIRS pairs: naf/report.py)."""
        config, naf = self.config, self.config.NAF
        device = self.run.device.device
        data = prepare_scene_data(config)
        model = model_for_scene(config, data).to(device)
        path = self._checkpoint_to_evaluate()
        counters = load_checkpoint(path, model=model)["counters"]
        indices = data.test_indices[: naf.EVAL_MAX_ITEMS] if naf.EVAL_MAX_ITEMS > 0 else data.test_indices
        ground_truth = [data.item_logmag(i) for i in indices]
        predictions = predict_logmags(model, data, indices, naf.STD_SCALE, naf.EVAL_BATCH_RIRS, device)
        mean_predictions = [
            np.broadcast_to(data.mean[:, : data.lengths[i]], g.shape) for i, g in zip(indices, ground_truth)
        ]
        true_waveforms = data.waveforms(indices)
        phase_kwargs = dict(
            params=data.params,
            methods=list(naf.PHASE_METHODS),
            phase_seed=naf.PHASE_SEED,
            griffin_lim_iterations=naf.GRIFFIN_LIM_ITERATIONS,
        )
        result = {
            "scene": data.scene,
            "checkpoint": path,
            "model": naf.MODEL,
            "decay_loss_weight": float(naf.DECAY_LOSS_WEIGHT),
            "test_items": int(len(indices)),
            "sample_rate": data.params.sample_rate,
            "naf": score_paper_protocol(predictions, ground_truth, data.params, naf.PHASE_SEED),
            "mean_predictor": score_paper_protocol(mean_predictions, ground_truth, data.params, naf.PHASE_SEED),
            "phase_methods_vs_true_waveform": {
                "naf": score_phase_methods(predictions, true_waveforms, **phase_kwargs),
                "ground_truth_magnitude": score_phase_methods(ground_truth, true_waveforms, **phase_kwargs),
            },
            "parameters": count_parameters(model),
            "model_megabytes_fp32": 4 * count_parameters(model) / 1e6,
            "inference_ms_per_binaural_rir": inference_milliseconds(model, data, device),
            "training_seconds": counters.get("seconds"),
            "training_queries_per_second": counters.get("queries_per_second"),
            "training_epochs": counters.get("epoch"),
        }
        out_dir = os.path.join(self.run.paths.model_dir or ".", "eval")
        os.makedirs(out_dir, exist_ok=True)
        per_item = [
            {"key": data.keys[i], "spectral_error": float(np.mean(np.abs(p - g)))}
            for i, p, g in zip(indices, predictions, ground_truth)
        ]
        write_json_atomic(os.path.join(out_dir, "per_item.json"), per_item)
        if naf.EVAL_PLOTS:
            from audio_separation.naf.visualise import make_scene_plots

            result["plots"] = make_scene_plots(config, model, data, out_dir, device)
        if naf.REPORT_PAIRS > 0:  # index.html: audio, spectrograms and decay curves of a few pairs
            from audio_separation.naf.report import ReportSettings, write_eval_report

            result["report"] = write_eval_report(
                out_dir,
                data,
                indices,
                predictions,
                result,
                self.run.require_world(),
                ReportSettings.from_config(config),
            )
        write_json_atomic(os.path.join(out_dir, "metrics.json"), result)
        logger.info(
            "NAF eval of %s: spectral %.4f (mean predictor %.4f), T60 %.2f %% (%.2f %%) -> %s",
            data.scene,
            result["naf"]["spectral_error"],
            result["mean_predictor"]["spectral_error"],
            result["naf"]["t60_error_percent"],
            result["mean_predictor"]["t60_error_percent"],
            out_dir,
        )
        return result
