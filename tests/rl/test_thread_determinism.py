"""RL training on several CPU threads is reproducible: the same seed gives the same weights."""

from __future__ import annotations

import torch

from audio_separation.common.seeding import deterministic_cpu_kernels
from audio_separation.rl.trainer import DDPPOTrainer

# the quickstart's memory and episode sizes: with the tiny config's, each gradient's rows are too few for
# torch to split the accumulation over threads, and two runs agree even without deterministic kernels
QUICKSTART_MEMORY = (
    "NUM_PROCESSES",
    "4",
    "TASK.MAX_EPISODE_STEPS",
    "20",
    "RL.MEMORY.CAPACITY",
    "20",
    "RL.MEMORY.REFINEMENT_WINDOW",
    "14",
    "RL.MEMORY.ENCODER_CHANNELS",
    "8",
    "RL.MEMORY.NUM_HEADS",
    "4",
)


def _weights(rl_config, model_dir: str) -> dict[str, torch.Tensor]:
    trainer = DDPPOTrainer.from_config(
        rl_config(model_dir, "RL.NUM_THREADS", "2", "NUM_UPDATES", "4", "CHECKPOINT_INTERVAL", "4", *QUICKSTART_MEMORY)
    )
    trainer.train()
    return {name: value.detach().clone() for name, value in trainer.agent.state_dict().items()}


def test_two_threads_train_the_same_weights_twice(rl_config, tmp_path) -> None:
    threads = torch.get_num_threads()
    try:
        first, second = _weights(rl_config, str(tmp_path / "a")), _weights(rl_config, str(tmp_path / "b"))
    finally:
        torch.set_num_threads(threads)
    assert first.keys() == second.keys()
    assert [name for name in first if not torch.equal(first[name], second[name])] == []


def test_deterministic_kernels_are_scoped_to_cpu_blocks() -> None:
    before = torch.are_deterministic_algorithms_enabled()
    with deterministic_cpu_kernels(torch.device("cpu")):
        assert torch.are_deterministic_algorithms_enabled()
    assert torch.are_deterministic_algorithms_enabled() == before
    with deterministic_cpu_kernels(torch.device("meta")):  # not a CPU: left as it was
        assert torch.are_deterministic_algorithms_enabled() == before
