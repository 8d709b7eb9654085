"""The trained part of the active separator (policy + memory) built from settings, and its checkpoints.

A checkpoint (common/checkpoint.py format) holds the agent's weights, the policy optimizer, and in
`extra`: the memory optimizer, the model settings the agent was built with (so evaluation rebuilds it
without trusting the current config), and the frozen separator it was trained on (path, fingerprint).
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn
from yacs.config import CfgNode

from audio_separation.audio.settings import AudioSettings
from audio_separation.common.checkpoint import CheckpointError, latest_checkpoint, load_checkpoint
from audio_separation.models.memory import TransformerMemory
from audio_separation.models.policy import ActorCritic
from audio_separation.rl.preemption import RESUME_STATE_NAME


class ActiveSeparationAgent(nn.Module):
    """The trainable modules of RL, saved together."""

    def __init__(self, settings: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.settings = settings
        self.policy = ActorCritic(**settings["policy"])
        self.memory = TransformerMemory(**settings["memory"])


def agent_settings(config: CfgNode) -> dict[str, dict[str, Any]]:
    """Constructor arguments of the policy and the memory that the config asks for."""
    audio, policy, memory = AudioSettings.from_config(config), config.RL.POLICY, config.RL.MEMORY
    if policy.USE_RGB and "RGB" not in config.TASK.SENSORS:
        raise ValueError("RL.POLICY.USE_RGB is True but TASK.SENSORS lacks RGB")
    optional = {
        "interaural_bands": int(policy.INTERAURAL_BANDS),
        "previous_action_size": int(policy.PREVIOUS_ACTION_SIZE),
    }
    optional = {
        key: value for key, value in optional.items() if value > 0
    }  # absent when off: older checkpoints stay valid
    memory_optional = {"negative_slope": float(memory.NEGATIVE_SLOPE)} if memory.NEGATIVE_SLOPE > 0 else {}
    if not memory.TOKEN_SKIP:
        memory_optional["token_skip"] = False
    if memory.MIXTURE_INPUT:
        memory_optional["mixture_input"] = True
    return {
        "policy": {
            "num_freq_bins": audio.num_freq_bins,
            "num_frames": audio.num_frames,
            "view_resolution": int(config.WORLD.VIEW_RESOLUTION),
            "hidden_size": int(policy.HIDDEN_SIZE),
            "embedding_size": int(policy.EMBEDDING_SIZE),
            "use_rgb": bool(policy.USE_RGB),
            **optional,
        },
        "memory": {
            "num_freq_bins": audio.num_freq_bins,
            "num_frames": audio.num_frames,
            "channels": int(memory.ENCODER_CHANNELS),
            "num_layers": int(memory.NUM_LAYERS),
            "num_heads": int(memory.NUM_HEADS),
            "ffn_size": int(memory.FFN_SIZE),
            "dropout": float(memory.DROPOUT),
            "predict_residual": bool(memory.PREDICT_RESIDUAL),
            **memory_optional,
        },
    }


def resume_candidates(folder: str) -> list[str]:
    """The files a run may resume from: the preemption state and the latest ckpt.N.pth (those present)."""
    candidates = [os.path.join(folder, RESUME_STATE_NAME), latest_checkpoint(folder) or ""]
    return [path for path in candidates if path and os.path.isfile(path)]


def newest_state(folder: str) -> tuple[str, dict[str, Any]] | None:
    """(path, payload) of the resume candidate with the most updates, or None."""
    loaded = [(path, load_checkpoint(path)) for path in resume_candidates(folder)]
    if not loaded:
        return None
    return max(loaded, key=lambda item: int(item[1]["counters"].get("update", -1)))


def load_agent(path: str, device: torch.device | str = "cpu") -> tuple[ActiveSeparationAgent, dict[str, Any]]:
    """(agent with the checkpoint's weights, in eval mode, built from its saved settings; payload)."""
    payload = load_checkpoint(path, map_location=device)
    settings = (payload.get("extra") or {}).get("agent_settings")
    if not settings:
        raise CheckpointError(f"{path}: not a checkpoint of trainer 'ddppo'/'ppo' (no extra['agent_settings'])")
    agent = ActiveSeparationAgent(settings).to(device)
    try:
        agent.load_state_dict(payload["model"])
    except (RuntimeError, KeyError) as error:
        raise CheckpointError(f"{path}: its weights do not fit the agent its settings describe: {error}") from None
    agent.eval()
    return agent, payload
