#!/usr/bin/env python
"""Command-line entry: python main.py --exp-config X.yaml --run-type {train,eval} --model-dir DIR [KEY VALUE ...]

Dispatches through the trainer registry on the config's TRAINER_NAME. Never reads stdin.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import sys

from audio_separation.common.logging import setup_logging
from audio_separation.common.registry import registry
from audio_separation.config import ConfigError, get_config
from audio_separation.run_context import build_run_context


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp-config", required=True, help="experiment yaml (see configs/)")
    parser.add_argument("--run-type", required=True, choices=["train", "eval"])
    parser.add_argument("--model-dir", required=True, help="run directory: tb/, data/ (checkpoints), train.log")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="train: delete an existing non-empty model dir first (otherwise a dir holding checkpoints resumes "
        "and any other non-empty dir is refused)",
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides as KEY VALUE pairs")
    return parser


def prepare_model_dir(model_dir: str, run_type: str, overwrite: bool) -> None:
    """Refuse to clobber a non-empty run dir unless asked; a dir with checkpoints is a resume."""
    if run_type != "train" or not os.path.isdir(model_dir) or not os.listdir(model_dir):
        return
    if overwrite:
        shutil.rmtree(model_dir)
        return
    if glob.glob(os.path.join(model_dir, "data", "*.pth")):
        return  # the trainer resumes from its latest checkpoint
    raise SystemExit(
        f"error: --model-dir {model_dir} is not empty and holds no checkpoint to resume from; "
        "pass --overwrite to delete it, or choose another directory"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = get_config(args.exp_config, args.opts, model_dir=args.model_dir, run_type=args.run_type)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # under torchrun only rank 0 vets (or clears) the model dir and writes train.log; other ranks log to stderr
    main_rank = int(os.environ.get("RANK", "0")) == 0
    if main_rank:
        prepare_model_dir(args.model_dir, args.run_type, args.overwrite)
    os.makedirs(args.model_dir, exist_ok=True)
    setup_logging(os.path.join(args.model_dir, "train.log") if main_rank else None)
    trainer_class = registry.get_trainer(config.TRAINER_NAME)
    run = build_run_context(config, with_world=trainer_class.needs_world)
    trainer = trainer_class(run)
    if args.run_type == "train":
        trainer.train()
    else:
        trainer.eval()
    return 0


if __name__ == "__main__":
    sys.exit(main())
