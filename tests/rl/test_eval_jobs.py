"""rl/eval_jobs.py: evaluation jobs start largest first and come back in the order given."""

from __future__ import annotations

import os

from audio_separation.rl.eval_jobs import EvalJob, job_size, run_jobs, submission_order
from audio_separation.rl.trainer import DDPPOTrainer
from tests.rl.conftest import TINY_RL

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEST = os.path.join(ROOT, "configs", "quickstart", "test")


def test_the_whole_split_counts_as_the_largest_job_and_ties_keep_their_order() -> None:
    heard = EvalJob(f"{TEST}/nearTarget.yaml", "/tmp/unused", "ckpt.pth")  # EVAL.NUM_EPISODES 100
    unheard = EvalJob(f"{TEST}/nearTarget_unheard.yaml", "/tmp/unused", "ckpt.pth")  # 0: every episode
    capped = EvalJob(f"{TEST}/nearTarget.yaml", "/tmp/unused", "ckpt.pth", ("EVAL.NUM_EPISODES", "300"))
    assert job_size(heard) == 100 and job_size(unheard) == float("inf") and job_size(capped) == 300
    jobs = [heard, unheard, capped, unheard, heard]
    assert submission_order(jobs) == [1, 3, 2, 0, 4]


def test_parallel_jobs_come_back_in_the_given_order(rl_config, tiny_world, separator_checkpoint, tmp_path) -> None:
    model_dir = str(tmp_path / "run")
    DDPPOTrainer.from_config(rl_config(model_dir, "NUM_UPDATES", "2")).train()
    root, _ = tiny_world
    opts = ("WORLD.DATA_ROOT", root, "WORLD.PRESET", "tiny", "RL.SEPARATOR_CHECKPOINT", separator_checkpoint, *TINY_RL)
    checkpoint = os.path.join(model_dir, "data", "ckpt.2.pth")
    wanted = [("still", 1), ("policy", 2), ("random", 1)]  # the largest (policy) is submitted first
    jobs = [
        EvalJob(
            f"{TEST}/nearTarget.yaml",
            model_dir,
            checkpoint,
            (*opts, "EVAL.AGENT", agent, "EVAL.NUM_EPISODES", str(count), "EVAL.MEDIA_EPISODES", "0"),
        )
        for agent, count in wanted
    ]
    assert submission_order(jobs) == [1, 0, 2]
    summaries = run_jobs(jobs, parallel=2)
    assert [(summary["agent"], summary["num_episodes"]) for summary in summaries] == wanted
