"""GPU readiness (marked cuda, skipped without CUDA; scripts/bench/gpu.sh runs them): the NAF trainer for
a few steps on CUDA."""

from __future__ import annotations

import pytest
import torch

from audio_separation.config import get_config
from audio_separation.naf.trainer import NafTrainer
from tests.naf.conftest import naf_opts

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_naf_trains_on_cuda(naf_config, naf_scene, tmp_path) -> None:
    root, data_dir = naf_config.WORLD.DATA_ROOT, naf_config.NAF.DATA_DIR
    trainer = NafTrainer.from_config(
        get_config(opts=naf_opts(root, data_dir, "NUM_EPOCHS", "1"), model_dir=str(tmp_path))
    )
    assert trainer.run.device.device.type == "cuda"
    trainer.train()
