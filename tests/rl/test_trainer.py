"""The RL trainer on the tiny world: single process train + eval outputs, a clear error for a missing or
mismatched separator, 2-worker gloo DD-PPO keeps parameters identical, and preemption resumes exactly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch
import torch.multiprocessing as mp

from audio_separation.common.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from audio_separation.config import get_config
from audio_separation.pretrain.separator_checkpoint import build_passive_separator, separator_settings
from audio_separation.rl.media import ffmpeg_available
from audio_separation.rl.preemption import RESUME_STATE_NAME
from audio_separation.rl.trainer import DDPPOTrainer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_train_then_eval_writes_checkpoints_metrics_and_media(rl_config, tmp_path) -> None:
    model_dir = str(tmp_path / "run")
    trainer = DDPPOTrainer.from_config(rl_config(model_dir))
    counters = trainer.train()
    assert counters["update"] == 3 and counters["env_steps"] == 3 * 2 * 4
    assert sorted(os.listdir(os.path.join(model_dir, "data"))) == ["ckpt.2.pth", "ckpt.3.pth"]
    payload = load_checkpoint(os.path.join(model_dir, "data", "ckpt.3.pth"))
    assert {"agent_settings", "memory_optimizer", "separator"} <= set(payload["extra"])
    assert all(
        set(stats) >= {"reward", "memory_l1", "time_env", "time_forward", "time_update", "sps"}
        for stats in trainer.update_history
    )
    assert os.listdir(os.path.join(model_dir, "tb"))

    config = rl_config(
        model_dir,
        "TASK.SPLIT",
        "val",
        "EVAL.NUM_EPISODES",
        "3",
        "EVAL_CKPT_PATH_DIR",
        os.path.join(model_dir, "data", "ckpt.3.pth"),
        run_type="eval",
    )
    [summary] = DDPPOTrainer.from_config(config).eval()
    folder = os.path.join(model_dir, "eval", "val", "policy", "ckpt.3")
    assert summary["num_episodes"] == 3 and summary["update"] == 3 and summary["last_update"]
    for kind in ("passive", "refined"):
        assert set(summary["metrics"][kind]) == {
            "si_sdr",
            "si_sdr_improvement",
            "stft_distance",
            "input_si_sdr",
            "input_stft_distance",
        }
    episodes = json.load(open(os.path.join(folder, "per_episode.json")))
    assert len({episode["episode_id"] for episode in episodes}) == 3
    assert len(episodes[0]["per_step"]["refined"]["si_sdr"]) == 5 and len(episodes[0]["trajectory"]) == 5
    media = episodes[0]["media"]
    import soundfile

    mixture = soundfile.info(os.path.join(folder, media["folder"], media["mixture"]))
    assert (mixture.channels, mixture.frames) == (2, 5 * 16000)
    assert soundfile.info(os.path.join(folder, media["folder"], media["estimate"])).frames == 5 * 16000
    assert os.path.isfile(os.path.join(folder, media["folder"], "summary.png"))
    if ffmpeg_available():  # the views with the mixture (CI installs ffmpeg)
        assert media["video"] == "views.mp4"
        assert os.path.getsize(os.path.join(folder, media["folder"], "views.mp4")) > 1000
    assert [("media" in episode) for episode in episodes] == [True, False, False]  # EVAL.MEDIA_EPISODES 1
    page = open(os.path.join(folder, "index.html")).read()
    assert "<audio" in page and "summary.png" in page
    # a baseline agent runs through the same separator and memory
    still = DDPPOTrainer.from_config(
        rl_config(
            model_dir,
            "TASK.SPLIT",
            "val",
            "EVAL.NUM_EPISODES",
            "2",
            "EVAL.AGENT",
            "still",
            "EVAL.MEDIA_EPISODES",
            "0",
            run_type="eval",
        )
    ).eval()
    assert [s["agent"] for s in still] == ["still", "still"]  # every ckpt.N.pth of the run
    # polling the folder (habitat): stops once the checkpoint of the run's last update is evaluated;
    # ckpt.3 was evaluated above with the same settings and is read back, not recomputed
    polled = DDPPOTrainer.from_config(
        rl_config(model_dir, "TASK.SPLIT", "val", "EVAL.NUM_EPISODES", "3", "EVAL.POLL_SECONDS", "0.1", run_type="eval")
    ).eval()
    assert [s["update"] for s in polled] == [2, 3] and polled[-1]["last_update"]
    assert polled[-1]["seconds"] == summary["seconds"]

    # far-target scoring (EVAL.SCORED_STEPS last): the same episodes, each scored by its final estimate only
    def evaluate_ckpt3(folder: str, *opts: str) -> dict:  # ckpt.3 on the same 3 val episodes, with `opts`
        [result] = DDPPOTrainer.from_config(
            rl_config(
                model_dir,
                "TASK.SPLIT",
                "val",
                "EVAL.NUM_EPISODES",
                "3",
                "EVAL.MEDIA_EPISODES",
                "0",
                "EVAL.OUTPUT_DIR",
                folder,
                "EVAL_CKPT_PATH_DIR",
                os.path.join(model_dir, "data", "ckpt.3.pth"),
                *opts,
                run_type="eval",
            )
        ).eval()
        return result

    last_folder = str(tmp_path / "last")
    last = evaluate_ckpt3(last_folder, "EVAL.SCORED_STEPS", "last")
    assert last["scored_steps"] == "last" and summary["scored_steps"] == "all"
    last_episodes = json.load(open(os.path.join(last_folder, "ckpt.3", "per_episode.json")))
    assert [e["episode_id"] for e in last_episodes] == [e["episode_id"] for e in episodes]
    for every, final in zip(episodes, last_episodes):
        for kind in ("passive", "refined"):
            steps = every["per_step"][kind]["si_sdr"]
            assert final["per_step"][kind]["si_sdr"] == pytest.approx(steps, abs=1e-5)
            assert final["mean"][kind]["si_sdr"] == pytest.approx(steps[-1], abs=1e-5)
            assert every["mean"][kind]["si_sdr"] == pytest.approx(sum(steps) / len(steps), abs=1e-5)
    assert last["metrics"]["refined"]["si_sdr"]["mean"] == pytest.approx(
        sum(e["per_step"]["refined"]["si_sdr"][-1] for e in episodes) / 3, abs=1e-5
    )
    # the memory's past ablated (EVAL.MEMORY_CAPACITY 1): the window holds the current entry only
    alone = evaluate_ckpt3(str(tmp_path / "alone"), "EVAL.MEMORY_CAPACITY", "1")
    assert alone["memory_window"] == {"capacity": 1, "refinement_window": 0}
    assert summary["memory_window"]["capacity"] > 1
    assert alone["metrics"]["passive"]["si_sdr"]["mean"] == pytest.approx(
        summary["metrics"]["passive"]["si_sdr"]["mean"]
    )


def test_missing_or_mismatched_separator_is_a_clear_error(rl_config, tiny_world, tmp_path) -> None:
    with pytest.raises(CheckpointError, match="does not exist: pretrain the separators first"):
        DDPPOTrainer.from_config(
            rl_config(str(tmp_path / "a"), "RL.SEPARATOR_CHECKPOINT", str(tmp_path / "nope.pth"))
        ).train()
    root, _ = tiny_world
    other = get_config(opts=["WORLD.DATA_ROOT", root, "MODEL.SEPARATOR_WIDTH", "0.0625", "TASK.NUM_SOUNDS_IN_MIX", "3"])
    settings = separator_settings(other)
    path = str(tmp_path / "three_sources.pth")
    save_checkpoint(
        path, config=other, model=build_passive_separator(settings), counters={}, extra={"separator": settings}
    )
    with pytest.raises(CheckpointError, match="num_sources: checkpoint 3, RL config 2"):
        DDPPOTrainer.from_config(rl_config(str(tmp_path / "b"), "RL.SEPARATOR_CHECKPOINT", path)).train()


# ============================================================================================ DD-PPO
def _free_port() -> int:
    with socket.socket() as handle:
        handle.bind(("127.0.0.1", 0))
        return handle.getsockname()[1]


def _ddppo_worker(rank: int, world_size: int, port: int, opts: list, model_dir: str, out_dir: str) -> None:
    os.environ.update(
        {
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(world_size),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
        }
    )
    trainer = DDPPOTrainer.from_config(get_config(opts=opts, model_dir=model_dir))
    counters = trainer.train()
    flat = torch.cat([parameter.detach().flatten() for parameter in trainer.agent.parameters()])
    torch.save(
        {"parameters": flat, "counters": counters, "rewards": [s["reward"] for s in trainer.update_history]},
        os.path.join(out_dir, f"rank{rank}.pt"),
    )


@pytest.mark.parametrize("vector_env_type", ["sync", "batched"])  # batched: each worker its own batched env
def test_two_gloo_workers_end_with_identical_parameters(rl_config, tmp_path, vector_env_type: str) -> None:
    config = rl_config(None, "NUM_UPDATES", "2", "NUM_PROCESSES", "1", "ENV.VECTOR_ENV_TYPE", vector_env_type)
    opts = [item for key, value in _flatten(config) for item in (key, value)]
    model_dir = str(tmp_path / "ddppo")
    context = mp.spawn(_ddppo_worker, args=(2, _free_port(), opts, model_dir, str(tmp_path)), nprocs=2, join=False)
    deadline = time.time() + 240
    while not context.join(timeout=2):
        if time.time() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail("DD-PPO workers did not finish in 240 s (deadlock?)")
    first, second = (torch.load(tmp_path / f"rank{rank}.pt") for rank in range(2))
    assert torch.equal(first["parameters"], second["parameters"])
    assert first["counters"]["env_steps"] == second["counters"]["env_steps"] == 2 * 2 * 4  # updates x workers x actions
    assert first["rewards"] == second["rewards"]  # statistics are averaged over workers
    untrained = torch.load(os.path.join(model_dir, "data", "ckpt.2.pth"), weights_only=False)
    assert untrained["counters"]["update"] == 2


def _flatten(config, prefix: str = ""):
    """(KEY, value-as-string) pairs of a config, for passing it to a spawned process as overrides."""
    for key, value in config.items():
        if hasattr(value, "items"):
            yield from _flatten(value, f"{prefix}{key}.")
        elif key not in ("MODEL_DIR", "RUN_TYPE"):
            yield f"{prefix}{key}", repr(value) if isinstance(value, (list, str)) else str(value)


# ============================================================================================ preemption
def test_signal_saves_a_resumable_state_and_the_rerun_resumes_exactly(rl_config, tmp_path) -> None:
    """SIGUSR1 after update 2 of 4 -> resume_state.pth at update 2; the same config again resumes at
    update 2 and ends with the weights of an uninterrupted 4-update run."""
    model_dir = str(tmp_path / "preempted")
    config = rl_config(model_dir, "NUM_UPDATES", "4", "CHECKPOINT_INTERVAL", "4")
    trainer = DDPPOTrainer.from_config(config)
    original = trainer._train_update

    def update_then_signal(*args, **kwargs):
        stats = original(*args, **kwargs)
        if stats["update"] == 2:
            os.kill(os.getpid(), signal.SIGUSR1)  # as a cluster would, in the middle of training
        return stats

    trainer._train_update = update_then_signal
    with pytest.raises(SystemExit) as stopped:
        trainer.train()
    assert stopped.value.code == 128 + signal.SIGUSR1
    assert trainer.preempted and trainer.final_counters["update"] == 2
    assert load_checkpoint(os.path.join(model_dir, "data", RESUME_STATE_NAME))["counters"]["update"] == 2
    resumed = DDPPOTrainer.from_config(config)
    assert resumed.train()["update"] == 4 and len(resumed.update_history) == 2
    assert sorted(os.listdir(os.path.join(model_dir, "data"))) == ["ckpt.4.pth", RESUME_STATE_NAME]

    DDPPOTrainer.from_config(
        rl_config(str(tmp_path / "straight"), "NUM_UPDATES", "4", "CHECKPOINT_INTERVAL", "4")
    ).train()
    expected = load_checkpoint(os.path.join(tmp_path, "straight", "data", "ckpt.4.pth"))
    actual = load_checkpoint(os.path.join(model_dir, "data", "ckpt.4.pth"))
    assert actual["counters"]["env_steps"] == expected["counters"]["env_steps"]
    for name, value in expected["model"].items():
        assert torch.allclose(value, actual["model"][name], atol=1e-6), name


@pytest.mark.slow
def test_sigterm_to_a_running_main_then_the_same_command_resumes(rl_config, tmp_path) -> None:
    """The real thing: `python main.py ...` gets SIGTERM mid-training, writes its state and exits 143;
    the identical command resumes from that update."""
    config = rl_config(None, "NUM_UPDATES", "1000", "CHECKPOINT_INTERVAL", "1000")
    overrides = [item for key, value in _flatten(config) for item in (key, value)]
    model_dir = str(tmp_path / "killed")
    command = [
        sys.executable,
        os.path.join(ROOT, "main.py"),
        "--exp-config",
        os.path.join(ROOT, "configs", "quickstart", "train", "nearTarget.yaml"),
        "--run-type",
        "train",
        "--model-dir",
        model_dir,
        *overrides,
    ]
    log = os.path.join(model_dir, "train.log")
    state = os.path.join(model_dir, "data", RESUME_STATE_NAME)

    def run_until(text: str) -> None:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 150
        while (
            time.time() < deadline and not (os.path.isfile(log) and text in open(log).read()) and process.poll() is None
        ):
            time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 128 + signal.SIGTERM, errors[-3000:]

    run_until("update 3/1000")
    saved = load_checkpoint(state)["counters"]["update"]
    assert saved >= 3
    run_until(f"resumed from {state} at update {saved}")
    assert load_checkpoint(state)["counters"]["update"] > saved
