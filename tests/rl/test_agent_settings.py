"""The agent's saved constructor settings: the memory's activation travels with a checkpoint, and a
ReLU memory's settings stay those of older checkpoints (no new key)."""

from __future__ import annotations

from audio_separation.config import get_config
from audio_separation.rl.agent_checkpoint import ActiveSeparationAgent, agent_settings

SMALL = [
    "RL.POLICY.HIDDEN_SIZE",
    "16",
    "RL.POLICY.EMBEDDING_SIZE",
    "16",
    "RL.MEMORY.ENCODER_CHANNELS",
    "4",
    "RL.MEMORY.NUM_HEADS",
    "4",
    "RL.MEMORY.FFN_SIZE",
    "32",
    "RL.POLICY.USE_RGB",
    "False",
]


def test_memory_negative_slope_is_saved_only_when_set() -> None:
    relu = agent_settings(get_config(None, SMALL))
    assert "negative_slope" not in relu["memory"]
    leaky = agent_settings(get_config(None, [*SMALL, "RL.MEMORY.NEGATIVE_SLOPE", "0.2"]))
    assert leaky["memory"]["negative_slope"] == 0.2
    names = {type(module).__name__ for module in ActiveSeparationAgent(leaky).memory.modules()}
    assert "LeakyReLU" in names and "ReLU" not in names


def test_eval_names_each_model_setting_the_config_asks_otherwise() -> None:
    from audio_separation.rl.evaluation import warn_model_differences

    saved = {"policy": {"hidden_size": 16, "use_rgb": True}, "memory": {"channels": 2}}
    wanted = {"policy": {"hidden_size": 32, "use_rgb": True}, "memory": {"channels": 2}}
    messages = warn_model_differences("ckpt.3.pth", saved, wanted)
    assert len(messages) == 1 and "policy.hidden_size is 16 in the checkpoint but 32 in the config" in messages[0]
    assert warn_model_differences("ckpt.3.pth", saved, saved) == []
