"""Fault suite, training: a non-finite loss stops each trainer at once naming the step, the losses and
the likely causes, with the last good checkpoint intact; SIGTERM makes passive and NAF save and exit
128 + signal, and the resumed run computes the same next losses; changed hyper-parameters on resume are
refused or warned per key; NAF's lr schedule follows steps and ends at LR_END."""

from __future__ import annotations

import logging
import os
import signal

import pytest
import torch

from audio_separation.common.checkpoint import load_checkpoint, save_checkpoint
from audio_separation.common.errors import NonFiniteError, ResumeMismatchError
from audio_separation.common.preemption import RESUME_STATE_NAME
from audio_separation.config import get_config
from audio_separation.naf.data import ensure_scene_data
from audio_separation.naf.trainer import NafTrainer
from audio_separation.pretrain import trainer as passive_module
from audio_separation.pretrain.separator_checkpoint import build_passive_separator, separator_settings
from audio_separation.pretrain.trainer import PassiveTrainer
from tests.naf.conftest import naf_opts
from tests.rl.conftest import TINY_RL


def _signal_at_call(monkeypatch, owner, name: str, call: int, number: int = signal.SIGTERM) -> None:
    """Send `number` to this process during the call-th call of owner.name (a preemption mid-run)."""
    original = getattr(owner, name)
    calls = {"count": 0}

    def wrapped(*args, **kwargs):
        calls["count"] += 1
        if calls["count"] == call:
            os.kill(os.getpid(), number)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapped)


# ================================================================================================ passive
def test_passive_preemption_resumes_exactly_and_resume_checks_keys(passive_config, tmp_path, monkeypatch, caplog):
    straight = PassiveTrainer.from_config(passive_config(str(tmp_path / "straight")))
    straight.train()
    assert len(straight.step_losses) == 4  # 2 epochs x 2 steps

    run_dir = str(tmp_path / "preempted")
    first = PassiveTrainer.from_config(passive_config(run_dir))
    _signal_at_call(monkeypatch, PassiveTrainer, "train_step", 1)  # mid-epoch 1
    with pytest.raises(SystemExit) as stopped:
        first.train()
    monkeypatch.undo()
    assert stopped.value.code == 128 + signal.SIGTERM
    assert first.step_losses == straight.step_losses[:1]
    assert load_checkpoint(os.path.join(run_dir, "data", RESUME_STATE_NAME))["counters"]["epoch_step"] == 1
    second = PassiveTrainer.from_config(passive_config(run_dir))
    counters = second.train()
    assert second.step_losses == straight.step_losses[1:]  # the same next losses, bit for bit
    assert counters["step"] == 4

    with pytest.raises(ResumeMismatchError, match=r"ckpt\.2\.pth: cannot resume with changed SEED"):
        PassiveTrainer.from_config(passive_config(run_dir, "SEED", "1", "NUM_EPOCHS", "3")).train()
    with pytest.raises(ResumeMismatchError, match="PASSIVE.BATCH_SIZE: checkpoint 4, now 2"):
        PassiveTrainer.from_config(passive_config(run_dir, "PASSIVE.BATCH_SIZE", "2", "NUM_EPOCHS", "3")).train()
    logger = logging.getLogger("audio_separation")
    logger.addHandler(caplog.handler)
    try:
        PassiveTrainer.from_config(passive_config(run_dir, "PASSIVE.LR", "0.0001", "NUM_EPOCHS", "3")).train()
    finally:
        logger.removeHandler(caplog.handler)
    assert "with PASSIVE.LR changed: checkpoint 0.0005, now 0.0001" in caplog.text
    caplog.clear()
    logger.addHandler(caplog.handler)
    try:  # eval with another model size scores the checkpoint's separator, and says so
        PassiveTrainer.from_config(passive_config(run_dir, "MODEL.SEPARATOR_WIDTH", "0.25")).eval()
    finally:
        logger.removeHandler(caplog.handler)
    assert "evaluating the checkpoint's separator width=0.0625; the config asks for 0.25" in caplog.text


def test_passive_non_finite_loss_stops_and_keeps_the_last_checkpoint(passive_config, tmp_path, monkeypatch):
    original = passive_module.separation_losses
    calls = {"count": 0}

    def poisoned(output, batch):
        losses = original(output, batch)
        calls["count"] += 1
        if calls["count"] == 3:  # the first step of epoch 2
            losses["total"] = losses["total"] * float("nan")
        return losses

    monkeypatch.setattr(passive_module, "separation_losses", poisoned)
    run_dir = str(tmp_path / "run")
    with pytest.raises(
        NonFiniteError,
        match=r"passive: non-finite loss at step 3 \(.*total nan\).*Likely causes: NaN.*ckpt\.1\.pth is intact",
    ):
        PassiveTrainer.from_config(passive_config(run_dir)).train()
    names = sorted(os.listdir(os.path.join(run_dir, "data")))
    assert "ckpt.1.pth" in names and "ckpt.2.pth" not in names
    assert load_checkpoint(os.path.join(run_dir, "data", "ckpt.1.pth"))["counters"]["step"] == 2


# ================================================================================================ NAF
@pytest.fixture(scope="module")
def naf_world(tiny_world, tmp_path_factory):
    root, _ = tiny_world
    data_dir = str(tmp_path_factory.mktemp("naf_data"))
    ensure_scene_data(get_config(opts=naf_opts(root, data_dir)), progress=False)
    return root, data_dir


def _naf(naf_world, model_dir: str, *extra: str) -> NafTrainer:
    return NafTrainer.from_config(
        get_config(
            opts=naf_opts(*naf_world, "NAF.LR_END", "0.0003", "NAF.BATCH_RIRS", "32", *extra), model_dir=model_dir
        )
    )


def test_naf_preemption_resumes_exactly_and_the_schedule_ends_at_lr_end(naf_world, tmp_path, monkeypatch):
    straight = _naf(naf_world, str(tmp_path / "straight"))
    straight.train()
    assert straight.final_lr == pytest.approx(3e-4)  # the last step runs at LR_END
    run_dir = str(tmp_path / "preempted")
    first = _naf(naf_world, run_dir)
    _signal_at_call(monkeypatch, NafTrainer, "_loss", 5, signal.SIGUSR1)
    with pytest.raises(SystemExit) as stopped:
        first.train()
    monkeypatch.undo()
    assert stopped.value.code == 128 + signal.SIGUSR1 and first.final_counters["step"] == 5
    second = _naf(naf_world, run_dir)
    second.train()
    assert second.final_counters["step"] == straight.final_counters["step"]
    final, reference = (
        load_checkpoint(os.path.join(run_dir, "data", "ckpt.2.pth")),
        load_checkpoint(os.path.join(str(tmp_path / "straight"), "data", "ckpt.2.pth")),
    )
    for key, value in reference["model"].items():
        assert torch.equal(value, final["model"][key]), key


def test_naf_time_budget_is_planned_in_steps_and_ends_at_lr_end(naf_world, tmp_path, monkeypatch):
    from audio_separation.naf import trainer as naf_module

    class Clock:  # every step "takes" 0.05 s: the plan is 1.0 / 0.05 = 20 steps on any machine
        now = 0.0

        @classmethod
        def perf_counter(cls) -> float:
            cls.now += 0.05
            return cls.now

    monkeypatch.setattr(naf_module, "time", Clock)
    run_dir = str(tmp_path / "budget")
    budget = ("NAF.MAX_TRAIN_SECONDS", "1.0", "NUM_EPOCHS", "50")
    first = _naf(naf_world, run_dir, *budget)
    _signal_at_call(monkeypatch, NafTrainer, "_loss", 2)  # preempted before the plan (made after 10 steps)
    with pytest.raises(SystemExit):
        first.train()
    assert first.final_counters["planned_steps"] == 0
    second = _naf(naf_world, run_dir, *budget)
    _signal_at_call(monkeypatch, NafTrainer, "_loss", 15)  # preempted after the plan
    with pytest.raises(SystemExit):
        second.train()
    planned = second.final_counters["planned_steps"]
    assert planned == 20 and second.final_counters["step"] == 17
    third = _naf(naf_world, run_dir, *budget)
    third.train()
    assert third.final_counters["step"] == third.final_counters["planned_steps"] == planned  # the saved plan
    assert third.final_lr == pytest.approx(3e-4)  # its last step runs at LR_END


def test_naf_non_finite_loss_stops_at_once(naf_world, tmp_path, monkeypatch):
    original = NafTrainer._loss
    calls = {"count": 0}

    def poisoned(self, *args):
        loss, queries = original(self, *args)
        calls["count"] += 1
        return (loss * float("inf") if calls["count"] == 3 else loss), queries

    monkeypatch.setattr(NafTrainer, "_loss", poisoned)
    with pytest.raises(NonFiniteError, match=r"naf: non-finite loss at step 3 \(epoch 1\) \(loss inf\).*NAF.LR"):
        _naf(naf_world, str(tmp_path / "run")).train()


# ================================================================================================ RL
def test_rl_non_finite_logits_name_the_cause(tiny_world, tmp_path, monkeypatch):
    from audio_separation.rl import trainer as rl_module

    root, _ = tiny_world
    config = get_config(opts=["WORLD.DATA_ROOT", root, "MODEL.SEPARATOR_WIDTH", "0.0625"])
    separator = str(tmp_path / "separator.pth")
    settings = separator_settings(config)
    save_checkpoint(separator, config=config, model=build_passive_separator(settings), extra={"separator": settings})

    def nan_policy(*args, **kwargs):
        raise ValueError(
            "Expected parameter logits (Tensor of shape (2, 4)) to satisfy the constraint IndependentConstraint(Real(), 1), but found invalid values"
        )

    monkeypatch.setattr(rl_module, "run_episodes", nan_policy)
    rl = get_config(
        opts=["WORLD.DATA_ROOT", root, "RL.SEPARATOR_CHECKPOINT", separator, *TINY_RL], model_dir=str(tmp_path / "rl")
    )
    with pytest.raises(
        NonFiniteError,
        match=r"non-finite action logits during the rollout of update 1.*Likely causes: NaN/Inf in the RIRs",
    ):
        rl_module.DDPPOTrainer.from_config(rl).train()
