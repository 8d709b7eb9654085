#!/usr/bin/env python
"""Command-line entry: python main.py --exp-config X.yaml --run-type {train,eval} --model-dir DIR [KEY VALUE ...]

Dispatches through the trainer registry on the config's TRAINER_NAME. Never reads stdin.

Errors about the input (config, world data, checkpoints, non-finite numbers, dead workers, a model dir
in use) print as one line `error: <message>` with a non-zero exit status (2 for config errors);
--debug or AUDIO_SEPARATION_DEBUG=1 shows their traceback. Anything else is a bug and keeps its traceback.
A training run holds <model-dir>/run.lock while it runs (one run per model dir) and records how it ended
in <model-dir>/last_run.json.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import shutil
import signal
import sys
import time

from audio_separation.common.errors import ProjectError, debug_enabled
from audio_separation.common.files import write_json_atomic
from audio_separation.common.logging import setup_logging
from audio_separation.common.registry import registry
from audio_separation.common.run_lock import LOCK_NAME, RunLock, describe, lock_owner, owner_is_live
from audio_separation.config import ConfigError, get_config
from audio_separation.run_context import build_run_context

logger = logging.getLogger("audio_separation")

LAST_RUN_NAME = "last_run.json"  # {"status": "finished" | "failed" | "preempted", ...} of the last train run
# what a train run that saved no checkpoint leaves behind: such a dir is a failed start, not a trap
LEFTOVERS_OF_A_FAILED_START = {"train.log", "tb", "data", LAST_RUN_NAME, LOCK_NAME}


class ModelDirError(ProjectError):
    """--model-dir cannot be used for this run (not empty and nothing to resume)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp-config", required=True, help="experiment yaml (see configs/)")
    parser.add_argument("--run-type", required=True, choices=["train", "eval"])
    parser.add_argument("--model-dir", required=True, help="run directory: tb/, data/ (checkpoints), train.log")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="train: delete an existing non-empty model dir first (otherwise a dir holding checkpoints resumes, "
        "a dir holding only the logs of a failed start is reused, and any other non-empty dir is refused)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of project errors (also AUDIO_SEPARATION_DEBUG=1)"
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides as KEY VALUE pairs")
    return parser


def _failed_start(model_dir: str) -> bool:
    """True when the dir holds only logs of earlier train runs that failed (or were killed) before saving."""
    if not set(os.listdir(model_dir)) <= LEFTOVERS_OF_A_FAILED_START:
        return False
    if os.path.isdir(os.path.join(model_dir, "data")) and os.listdir(os.path.join(model_dir, "data")):
        return False
    owner = lock_owner(model_dir)
    if owner is not None and not owner_is_live(owner):
        return True  # killed (kill -9, power loss) before it could record how it ended
    try:
        with open(os.path.join(model_dir, LAST_RUN_NAME)) as handle:
            return json.load(handle).get("status") == "failed"
    except (OSError, ValueError, AttributeError):
        return False


def prepare_model_dir(model_dir: str, run_type: str, overwrite: bool) -> None:
    """Refuse to clobber a non-empty run dir unless asked; a dir with checkpoints is a resume, a dir with
    only the logs of a failed start is reused. A dir another live run holds is refused even with --overwrite."""
    if run_type != "train" or not os.path.isdir(model_dir) or not os.listdir(model_dir):
        return
    owner = lock_owner(model_dir)
    if owner is not None and owner_is_live(owner):
        raise ModelDirError(
            f"--model-dir {model_dir} is in use by another run ({describe(owner)}; lock file "
            f"{os.path.join(model_dir, LOCK_NAME)}); wait for it to end, or choose another directory"
        )
    if overwrite:
        shutil.rmtree(model_dir)
        return
    if glob.glob(os.path.join(model_dir, "data", "*.pth")):
        return  # the trainer resumes from its latest checkpoint
    if _failed_start(model_dir):
        print(
            f"note: --model-dir {model_dir} holds only the logs of a run that failed before saving a checkpoint; "
            "starting afresh there (train.log is appended to)",
            file=sys.stderr,
        )
        return
    raise ModelDirError(
        f"--model-dir {model_dir} is not empty and holds no checkpoint to resume from; "
        "pass --overwrite to delete it, or choose another directory"
    )


def _record_last_run(model_dir: str, status: str, detail: str = "") -> None:
    try:
        write_json_atomic(
            os.path.join(model_dir, LAST_RUN_NAME),
            {"status": status, "detail": detail, "pid": os.getpid(), "ended": time.time()},
        )
    except OSError:
        pass  # a full disk must not hide the run's own error


def run(args: argparse.Namespace) -> int:
    config = get_config(args.exp_config, args.opts, model_dir=args.model_dir, run_type=args.run_type)
    try:
        trainer_class = registry.get_trainer(config.TRAINER_NAME)
    except KeyError as error:
        raise ConfigError(f"TRAINER_NAME: {error.args[0]}") from None
    # under torchrun only rank 0 vets (or clears) the model dir, holds its lock and writes train.log
    main_rank = int(os.environ.get("RANK", "0")) == 0
    training = args.run_type == "train"
    if main_rank:
        prepare_model_dir(args.model_dir, args.run_type, args.overwrite)
    os.makedirs(args.model_dir, exist_ok=True)
    lock = RunLock(args.model_dir).acquire() if main_rank and training else None
    try:
        setup_logging(os.path.join(args.model_dir, "train.log") if main_rank else None)
        trainer = trainer_class(build_run_context(config, with_world=trainer_class.needs_world))
        if training:
            trainer.train()
        else:
            trainer.eval()
    except SystemExit as stop:
        if lock is not None:
            preempted = isinstance(stop.code, int) and stop.code - 128 in (signal.SIGTERM, signal.SIGUSR1)
            _record_last_run(args.model_dir, "preempted" if preempted else "failed", f"exit status {stop.code}")
        raise
    except BaseException as error:
        if lock is not None:
            _record_last_run(args.model_dir, "failed", f"{type(error).__name__}: {error}")
        raise
    else:
        if lock is not None:
            _record_last_run(args.model_dir, "finished")
    finally:
        if lock is not None:
            lock.release()
    return 0


def _log_to_files(message: str) -> None:
    """Write an error line to the run's log file only (stderr gets the `error:` line)."""
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler):
            handler.emit(logger.makeRecord(logger.name, logging.ERROR, __file__, 0, message, None, None))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except ProjectError as error:
        if args.debug or debug_enabled():
            raise
        message = " ".join(str(error).split("\n"))
        _log_to_files(f"{type(error).__name__}: {message}")  # train.log keeps the cause too
        print(f"error: {message}", file=sys.stderr)
        return int(error.exit_code)


if __name__ == "__main__":
    sys.exit(main())
