"""The interface every registered trainer implements: built from a frozen config, then train() or eval()."""

from __future__ import annotations

from yacs.config import CfgNode


class BaseTrainer:
    """Trainers read everything from the config; main.py calls train() or eval() by --run-type."""

    def __init__(self, config: CfgNode) -> None:
        self.config = config

    def train(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not support --run-type train")

    def eval(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not support --run-type eval")
