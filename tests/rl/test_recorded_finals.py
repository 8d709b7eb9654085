"""A recorded rollout (evaluation) decodes only the positions it keeps; its final estimates are what the
memory predicts for those steps from the whole window (the plain decode of every position)."""

from __future__ import annotations

import numpy as np
import torch

from audio_separation.audio.settings import AudioSettings
from audio_separation.env import make_vector_env
from audio_separation.models.memory import final_estimate_source
from audio_separation.rl.agent_checkpoint import ActiveSeparationAgent, agent_settings
from audio_separation.rl.environment import rl_env_settings
from audio_separation.rl.frozen_separator import load_frozen_separator
from audio_separation.rl.rollout import RolloutSettings, recorded_offsets, run_episodes
from audio_separation.rl.rollout_storage import RolloutStorage


def test_recorded_offsets() -> None:
    assert recorded_offsets(0, 20, 14) == [0]
    assert recorded_offsets(13, 20, 14) == [0]
    assert recorded_offsets(14, 20, 14) == [14, 0]
    assert recorded_offsets(19, 20, 14) == list(range(14, -1, -1))
    assert recorded_offsets(3, 5, 0) == [0]
    every = {(step, offset) for step in range(20) for offset in recorded_offsets(step, 20, 14)}
    assert {final_estimate_source(step, 20, 14) for step in range(20)} <= every


def test_recorded_finals_equal_the_whole_windows_decode(rl_config) -> None:
    config = rl_config(
        None, "TASK.MAX_EPISODE_STEPS", "7", "RL.MEMORY.CAPACITY", "5", "RL.MEMORY.REFINEMENT_WINDOW", "3"
    )
    torch.manual_seed(0)
    agent = ActiveSeparationAgent(agent_settings(config)).eval()
    separator, _ = load_frozen_separator(config)
    envs = make_vector_env(rl_env_settings(config, evaluation=True))
    audio = AudioSettings.from_config(config)
    storage = RolloutStorage(
        7,
        envs.num_envs,
        audio.num_freq_bins,
        audio.num_frames,
        {key: envs.single_observation_space[key] for key in agent.policy.observation_keys},
    )
    settings = RolloutSettings.from_config(config)
    try:
        result = run_episodes(envs, separator, agent.memory, storage, settings, policy=agent.policy, record=True)
    finally:
        envs.close()
    with torch.inference_mode():
        for step in range(7):
            query, offset = final_estimate_source(step, 7, 3)
            queries = storage.memory_queries([query], settings.capacity, 3)
            refined = agent.memory.refine(queries.entries, queries.window_index, queries.window_step, queries.decode)
            per_env = refined.clamp(min=0.0).split(queries.decode.sum(dim=1).tolist())
            for env, recording in enumerate(result.recordings):
                expected = per_env[env][len(per_env[env]) - 1 - offset].numpy()
                np.testing.assert_allclose(recording.final[step], expected, rtol=1e-5, atol=1e-6)
