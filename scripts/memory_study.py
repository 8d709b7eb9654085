#!/usr/bin/env python
"""The memory, studied offline: collect episodes with a trained checkpoint, then train memories on them
and score each one's final estimates against the passive ones (docs/rl.md, "A memory that sees the
mixture"). Minutes per variant instead of a 40-minute RL run; the same scorer as evaluation.

    # 1. episodes of a checkpoint's policy (its passive estimates, ground truth and mixtures, float16)
    python scripts/memory_study.py collect --exp-config configs/quickstart/val/nearTarget_unheard.yaml \\
        --checkpoint runs/quickstart/rl/data/best_ckpt_val_unheard.pth --output runs/memory_study/train.npz \\
        TASK.SPLIT train EVAL.NUM_EPISODES 1000
    python scripts/memory_study.py collect --exp-config configs/quickstart/val/nearTarget_unheard.yaml \\
        --checkpoint runs/quickstart/rl/data/best_ckpt_val_unheard.pth --output runs/memory_study/valUnheard.npz
    # 2. a memory trained on the first, scored on the second (the checkpoint's memory settings, or others)
    python scripts/memory_study.py train --exp-config configs/quickstart/val/nearTarget_unheard.yaml \\
        --checkpoint runs/quickstart/rl/data/best_ckpt_val_unheard.pth --train runs/memory_study/train.npz \\
        --val runs/memory_study/valUnheard.npz [--mixture-input] [--from-checkpoint] [--lr 5e-3 --batch 2 --epochs 2]

`train` prints, at every --eval-every steps and at the end, the mean SI-SDR of the final refined and
the passive estimates on the val episodes and their paired difference with its 95 % interval, and writes
the last as JSON (--summary). The loss is the RL memory step's (L1 on the current and the
REFINEMENT_WINDOW past tokens); a final estimate is the token of step s made at step
min(s + REFINEMENT_WINDOW, last) (models/memory.py), as in evaluation. At the quickstart's sizes with the
mixture, one thread: 1,000 steps of 2 episodes took 540 s on a shared 2-core machine, scorings
included; collecting 1,000 episodes took ~8 min and 4.6 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from yacs.config import CfgNode  # noqa: E402

from audio_separation.audio.episode_metrics import step_metrics, summarise  # noqa: E402
from audio_separation.audio.stft import StftParams  # noqa: E402
from audio_separation.config import get_config  # noqa: E402
from audio_separation.models.memory import TransformerMemory, final_estimate_source  # noqa: E402
from audio_separation.rl.agent_checkpoint import load_agent  # noqa: E402
from audio_separation.rl.rollout_storage import episode_memory_queries  # noqa: E402

KEPT = ("passive", "gt_mono", "gt_phase", "mixed_magnitude", "mixture_estimate")  # evaluation's episode arrays


# ============================================================================================ collect
def collect(exp_config: str, checkpoint: str, output: str, opts: list[str]) -> int:
    """Evaluate `checkpoint` on the config's TASK.SPLIT and keep every scored episode's arrays."""
    from audio_separation.rl.evaluation import Evaluator
    from audio_separation.run_context import build_run_context

    folder = os.path.splitext(output)[0] + "_eval"
    config = get_config(exp_config, ["EVAL.OUTPUT_DIR", folder, "EVAL.MEDIA_EPISODES", "0", *opts], run_type="eval")
    torch.set_num_threads(max(int(config.RL.NUM_THREADS), 1))
    evaluator = Evaluator(build_run_context(config))
    kept: dict[str, list[np.ndarray]] = {key: [] for key in KEPT}
    ids: list[str] = []

    def keep(record: dict, arrays: dict[str, np.ndarray]) -> None:
        ids.append(record["episode_id"])
        for key in KEPT:
            kept[key].append(arrays[key].astype(np.float16))

    evaluator.episode_sink = keep
    aggregate = os.path.join(folder, os.path.splitext(os.path.basename(checkpoint))[0], "aggregate.json")
    if os.path.isfile(aggregate):
        os.remove(aggregate)  # evaluation reads a finished aggregate back instead of running the episodes
    summary = evaluator.evaluate_checkpoint(checkpoint)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    np.savez(output, episode_id=np.array(ids), **{key: np.stack(values) for key, values in kept.items()})
    refined, passive = (summary["metrics"][kind]["si_sdr"]["mean"] for kind in ("refined", "passive"))
    print(
        f"{len(ids)} episodes of {config.TASK.SPLIT} -> {output} (checkpoint's own memory: refined {refined:.3f} dB, passive {passive:.3f} dB)"
    )
    return 0


# ============================================================================================ train
def load_episodes(path: str) -> dict[str, np.ndarray]:
    if not os.path.isfile(path):
        raise SystemExit(f"error: {path} does not exist: collect it first (python scripts/memory_study.py collect ...)")
    with np.load(path) as data:
        missing = [key for key in KEPT if key not in data.files]
        if missing:
            raise SystemExit(f"error: {path} lacks {missing}: not a file of scripts/memory_study.py collect")
        return {key: data[key] for key in data.files}


def memory_entries(episodes: dict[str, np.ndarray], index: np.ndarray, mixture_input: bool) -> torch.Tensor:
    """(L, B, F, T) passive estimates of the episodes `index` (or (L, B, F, T, 3) with the mixture)."""
    passive = torch.from_numpy(episodes["passive"][index].astype(np.float32)).transpose(0, 1)
    if not mixture_input:
        return passive
    mixture = torch.from_numpy(episodes["mixed_magnitude"][index].astype(np.float32)).transpose(0, 1)
    return torch.cat([passive.unsqueeze(-1), mixture], dim=-1)


@torch.no_grad()
def final_estimates(memory: TransformerMemory, entries: torch.Tensor, capacity: int, window: int) -> np.ndarray:
    """(B, L, F, T) the final refined estimate of every step of the episodes (L, B, ...)."""
    length, count = entries.shape[:2]
    finals = np.zeros((count, length, *entries.shape[2:4]), dtype=np.float32)
    for query in range(length):
        queries = episode_memory_queries(entries, None, [query], capacity, window)
        refined = memory.refine(queries.entries, queries.window_index, queries.window_step, queries.decode)
        per_episode = refined.clamp(min=0.0).split(queries.decode.sum(dim=1).tolist())  # oldest first
        for step in range(length):
            source, offset = final_estimate_source(step, length, window)
            if source == query:
                for episode, tokens in enumerate(per_episode):
                    finals[episode, step] = tokens[len(tokens) - 1 - offset].numpy()
    return finals


def episode_si_sdr(config, episodes: dict[str, np.ndarray], estimates: np.ndarray) -> np.ndarray:
    """(E,) each episode's mean SI-SDR over its steps (as evaluation reports near-target) of `estimates`
    (E, L, F, T), against the episodes' ground truth."""
    params = StftParams.from_config(config.AUDIO)
    samples = int(config.AUDIO.SAMPLE_RATE * config.AUDIO.STEP_SECONDS)
    quirk = bool(config.EVAL.QUIRK_N_FFT_1022)
    values = []
    for index, estimate in enumerate(estimates):
        truth = [episodes[key][index].astype(np.float32) for key in ("gt_mono", "gt_phase", "mixture_estimate")]
        values.append(np.mean(step_metrics(estimate.astype(np.float32), *truth, params, samples, quirk)["si_sdr"]))
    return np.asarray(values)


def score(refined: np.ndarray, passive: np.ndarray) -> dict[str, Any]:
    """Mean SI-SDR of the refined and passive estimates and the paired refined - passive with its 95 %
    interval, from per-episode values."""
    gain = summarise(list(refined - passive))
    return {
        "refined": float(refined.mean()),
        "passive": float(passive.mean()),
        "gain": gain["mean"],
        "gain_ci95": [gain["ci95_low"], gain["ci95_high"]],
        "episodes": gain["count"],
    }


def train(args: argparse.Namespace) -> int:
    config = get_config(args.exp_config, args.opts, run_type="eval")
    torch.set_num_threads(max(int(config.RL.NUM_THREADS), 1))
    torch.manual_seed(args.seed)
    generator = np.random.default_rng(args.seed)
    agent, payload = load_agent(args.checkpoint)
    trained = CfgNode.load_cfg(payload["config"]) if isinstance(payload.get("config"), str) else config
    capacity, window = int(trained.RL.MEMORY.CAPACITY), int(trained.RL.MEMORY.REFINEMENT_WINDOW)  # as evaluation
    settings = dict(payload["extra"]["agent_settings"]["memory"])
    for key, value in (("mixture_input", args.mixture_input), ("channels", args.channels)):
        if value is not None:
            settings[key] = value
    memory = TransformerMemory(**settings)
    if args.from_checkpoint:
        memory.load_state_dict(agent.memory.state_dict())
    mixture = memory.mixture_input
    train_episodes, val_episodes = load_episodes(args.train), load_episodes(args.val)
    val_entries = memory_entries(val_episodes, np.arange(len(val_episodes["passive"])), mixture)
    passive = episode_si_sdr(config, val_episodes, val_episodes["passive"])  # fixed: scored once

    def evaluate(label: str) -> dict[str, Any]:
        memory.eval()
        refined = episode_si_sdr(config, val_episodes, final_estimates(memory, val_entries, capacity, window))
        result = score(refined, passive)
        memory.train()
        low, high = result["gain_ci95"]
        print(
            f"{label}: refined {result['refined']:.3f} dB, passive {result['passive']:.3f} dB, "
            f"refined - passive {result['gain']:+.3f} [{low:+.3f}, {high:+.3f}] ({result['episodes']} episodes)",
            flush=True,
        )
        return result

    optimizer = torch.optim.Adam(memory.parameters(), lr=args.lr, eps=float(config.RL.PPO.EPS))
    count = len(train_episodes["passive"])
    steps = int(round(args.epochs * count / args.batch))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / max(steps, 1))
    result = evaluate("start") if args.from_checkpoint else None
    started, running = time.perf_counter(), None
    for step in range(steps):
        index = generator.integers(0, count, args.batch)
        gt_mono = torch.from_numpy(train_episodes["gt_mono"][index].astype(np.float32)).transpose(0, 1)
        entries = memory_entries(train_episodes, index, mixture)
        queries = episode_memory_queries(entries, gt_mono, list(range(entries.shape[0])), capacity, window)
        refined = memory.refine(queries.entries, queries.window_index, queries.window_step, queries.decode)
        loss = torch.nn.functional.l1_loss(refined, queries.targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        value = float(loss.detach())
        running = value if running is None else 0.95 * running + 0.05 * value
        if (step + 1) % args.eval_every == 0 or step + 1 == steps:
            print(f"step {step + 1}/{steps}: L1 {running:.4f}, {time.perf_counter() - started:.0f} s", flush=True)
            result = evaluate(f"step {step + 1}")
    if result is None:
        result = evaluate("untrained")
    if args.summary:
        summary = {"settings": settings, "lr": args.lr, "batch": args.batch, "epochs": args.epochs, **result}
        with open(args.summary, "w") as handle:
            json.dump(summary, handle, indent=1)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    gather = commands.add_parser("collect", help="episodes of a checkpoint's policy, as arrays")
    gather.add_argument("--exp-config", required=True)
    gather.add_argument("--checkpoint", required=True)
    gather.add_argument("--output", required=True, help="a .npz file")
    gather.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides as KEY VALUE pairs")
    learn = commands.add_parser("train", help="train a memory on collected episodes and score it")
    learn.add_argument("--exp-config", required=True, help="the audio and evaluation settings of the scoring")
    learn.add_argument("--checkpoint", required=True, help="whose memory settings (and, --from-checkpoint, weights)")
    learn.add_argument("--train", required=True)
    learn.add_argument("--val", required=True)
    learn.add_argument("--mixture-input", action=argparse.BooleanOptionalAction, default=None)
    learn.add_argument(
        "--channels", type=int, default=None, help="the entry CNN's channels (default: the checkpoint's)"
    )
    learn.add_argument("--from-checkpoint", action="store_true", help="start from the checkpoint's memory weights")
    learn.add_argument("--lr", type=float, default=5e-3, help="Adam, linearly decayed to 0 (RL.MEMORY.LR's default)")
    learn.add_argument("--batch", type=int, default=2, help="episodes per step (the quickstart's rollout)")
    learn.add_argument("--epochs", type=float, default=2.0)
    learn.add_argument("--eval-every", type=int, default=250)
    learn.add_argument("--seed", type=int, default=0)
    learn.add_argument("--summary", default="", help="write the last scores as JSON here")
    learn.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides as KEY VALUE pairs")
    args = parser.parse_args(argv)
    if args.command == "collect":
        return collect(args.exp_config, args.checkpoint, args.output, args.opts)
    if args.batch < 1 or args.epochs < 0 or args.eval_every < 1:
        raise SystemExit("error: --batch and --eval-every must be >= 1 and --epochs >= 0")
    return train(args)


if __name__ == "__main__":
    sys.exit(main())
