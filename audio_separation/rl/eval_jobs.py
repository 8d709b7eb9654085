"""Running several evaluations (checkpoint x split x agent) for the scripts, optionally in parallel
single-threaded processes, and reading the results back. Each job is one evaluate_checkpoint call with
its own config; results land where evaluation puts them (rl/evaluation.py), so a job already done is
read back instead of recomputed.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class EvalJob:
    """One evaluation: a config file plus KEY VALUE overrides, the model dir and a checkpoint."""

    exp_config: str
    model_dir: str
    checkpoint: str
    opts: tuple[str, ...] = ()


def run_job(job: EvalJob) -> dict[str, Any]:
    """evaluate_checkpoint for the job (in this process); returns its aggregate summary."""
    import torch

    from audio_separation.common.logging import setup_logging
    from audio_separation.config import get_config
    from audio_separation.rl.evaluation import Evaluator
    from audio_separation.run_context import build_run_context

    config = get_config(job.exp_config, list(job.opts), model_dir=job.model_dir, run_type="eval")
    setup_logging(os.path.join(job.model_dir, "train.log"))
    if config.RL.NUM_THREADS > 0:
        torch.set_num_threads(int(config.RL.NUM_THREADS))
    return Evaluator(build_run_context(config)).evaluate_checkpoint(job.checkpoint)


def job_size(job: EvalJob) -> float:
    """The episodes a job scores, for scheduling: its EVAL.NUM_EPISODES, or infinity for 0 (every episode
    of the split, taken as larger than any capped job; the split is not read)."""
    from audio_separation.config import get_config

    config = get_config(job.exp_config, list(job.opts), model_dir=job.model_dir, run_type="eval")
    wanted = int(config.EVAL.NUM_EPISODES)
    return float("inf") if wanted <= 0 else float(wanted)


def submission_order(jobs: list[EvalJob]) -> list[int]:
    """Indices of `jobs`, largest first (equal sizes keep their order): with a pool, the long evaluations
    start at once and the short ones fill in behind them (the quickstart's test, 3 jobs of 600 episodes and 3
    of 100 on 2 processes: 3.7-3.8 min against 4.4 in the given order, whose last long job ran alone)."""
    sizes = [job_size(job) for job in jobs]
    return sorted(range(len(jobs)), key=lambda index: -sizes[index])


def run_jobs(jobs: list[EvalJob], parallel: int = 1) -> list[dict[str, Any]]:
    """Summaries of all jobs, in order; `parallel` > 1 runs them in that many spawned processes,
    started largest first (submission_order)."""
    if parallel <= 1 or len(jobs) <= 1:
        return [run_job(job) for job in jobs]
    order = submission_order(jobs)
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=parallel, mp_context=context) as pool:
        summaries = list(pool.map(run_job, [jobs[index] for index in order]))
    return [summary for _, summary in sorted(zip(order, summaries), key=lambda pair: pair[0])]


def paired_difference(
    first: list[dict[str, Any]], second: list[dict[str, Any]], estimate: str, metric: str
) -> dict[str, Any]:
    """Mean of first - second over the episodes both scored (matched by episode id), with its 95 %
    Student-t interval: the comparison of two agents on the same episodes."""
    by_id = {episode["episode_id"]: episode["mean"][estimate][metric] for episode in second}
    differences = np.array(
        [
            episode["mean"][estimate][metric] - by_id[episode["episode_id"]]
            for episode in first
            if episode["episode_id"] in by_id
        ]
    )
    count = int(differences.size)
    if count < 2:
        return {
            "mean": float(differences.mean()) if count else None,
            "ci95_low": None,
            "ci95_high": None,
            "count": count,
        }
    mean = float(differences.mean())
    half = float(stats.t.ppf(0.975, count - 1) * differences.std(ddof=1) / np.sqrt(count))
    return {"mean": mean, "ci95_low": mean - half, "ci95_high": mean + half, "count": count}
