"""The imitation warm start (rl/imitation.py): the loss learns a fixed batch, the labels are the approach
agent's shortest-path actions, the expert's privileged view never reaches the policy, and the trainer's
imitation phase runs and hands over to PPO."""

from __future__ import annotations

import numpy as np
import torch
from gymnasium.spaces import Box

from audio_separation.audio.settings import AudioSettings
from audio_separation.config import get_config
from audio_separation.env import make_vector_env
from audio_separation.env.agents import make_agent, shortest_actions
from audio_separation.env.navigation import TURN_LEFT, TURN_RIGHT, SceneNavigation
from audio_separation.models.policy import POLICY_INPUTS, ActorCritic
from audio_separation.rl.agent_checkpoint import ActiveSeparationAgent, agent_settings
from audio_separation.rl.environment import rl_env_settings
from audio_separation.rl.frozen_separator import load_frozen_separator
from audio_separation.rl.imitation import ImitationLearner, expert_probability, imitation_loss
from audio_separation.rl.rollout import RolloutSettings, run_episodes
from audio_separation.rl.rollout_storage import RolloutStorage
from audio_separation.rl.trainer import DDPPOTrainer
from audio_separation.world.open import open_world
from audio_separation.world.soundspaces import HEADINGS, read_graph


def test_imitation_loss_falls_on_a_fixed_batch() -> None:
    torch.manual_seed(0)
    policy = ActorCritic(
        num_freq_bins=64, num_frames=8, view_resolution=48, hidden_size=16, embedding_size=16, use_rgb=True
    )
    assert policy.observation_keys == ("rgb",)
    storage = RolloutStorage(6, 3, 64, 8, {"rgb": Box(0, 255, (48, 48, 3), np.uint8)})
    storage.binaural.uniform_(0, 3)
    storage.refined.uniform_(0, 3)
    storage.observations["rgb"].random_(0, 256)
    storage.expert_actions.random_(0, 3)
    storage.returns.normal_()
    settings = get_config(opts=["RL.IMITATION.LR", "0.01", "RL.IMITATION.EPOCHS", "1"])
    learner = ImitationLearner(
        policy, torch.optim.Adam(policy.parameters(), lr=1e-4), settings.RL.IMITATION, settings.RL.PPO
    )
    first = learner.update(storage)
    for _ in range(150):
        last = learner.update(storage)
    assert first["imitation_loss"] > 1.0  # ~log 3 at the start (actor gain 0.01)
    assert last["imitation_loss"] < 0.3 * first["imitation_loss"]
    assert last["imitation_accuracy"] > 0.9
    loss, _ = imitation_loss(policy, storage, 0.5)
    assert torch.isfinite(loss)


def test_expert_probability_falls_linearly_over_the_phase() -> None:
    settings = get_config(
        opts=[
            "RL.IMITATION.UPDATES",
            "5",
            "RL.IMITATION.EXPERT_PROBABILITY_START",
            "1.0",
            "RL.IMITATION.EXPERT_PROBABILITY_END",
            "0.0",
        ]
    ).RL.IMITATION
    assert [expert_probability(update, settings) for update in range(5)] == [1.0, 0.75, 0.5, 0.25, 0.0]


def test_paper_settings_do_not_imitate_and_the_quickstart_does() -> None:
    assert get_config("configs/train/nearTarget.yaml").RL.IMITATION.UPDATES == 0
    quickstart = get_config("configs/quickstart/train/nearTarget.yaml")
    assert 0 < quickstart.RL.IMITATION.UPDATES < quickstart.NUM_UPDATES
    # the plain-PPO recipe (issue 17.2): no imitation and only the paper's policy inputs
    plain = get_config("configs/quickstart/train/nearTarget_plainPPO.yaml")
    assert plain.RL.IMITATION.UPDATES == 0
    assert plain.RL.POLICY.INTERAURAL_BANDS == 0 and plain.RL.POLICY.PREVIOUS_ACTION_SIZE == 0
    assert plain.RL.DISTANCE_REWARD_WEIGHT > 0 and plain.RL.PPO.GAMMA == 0.0


def _rollout(config, experts: bool, probability: float, seed: int = 3):
    torch.manual_seed(0)
    agent = ActiveSeparationAgent(agent_settings(config)).eval()
    separator, _ = load_frozen_separator(config)
    envs = make_vector_env(rl_env_settings(config, evaluation=True))
    storage = RolloutStorage(
        int(config.TASK.MAX_EPISODE_STEPS),
        envs.num_envs,
        AudioSettings.from_config(config).num_freq_bins,
        AudioSettings.from_config(config).num_frames,
        {key: envs.single_observation_space[key] for key in agent.policy.observation_keys},
    )
    layout = open_world(config.WORLD.DATA_ROOT, config.WORLD.DATASET)
    labellers = [make_agent("approach", HEADINGS, layout, 0) for _ in range(envs.num_envs)] if experts else None
    torch.manual_seed(1)
    try:
        result = run_episodes(
            envs,
            separator,
            agent.memory,
            storage,
            RolloutSettings.from_config(config),
            policy=agent.policy,
            seeds=[seed + index for index in range(envs.num_envs)],
            record=True,
            experts=labellers,
            expert_probability=probability,
        )
    finally:
        envs.close()
    return storage, result.recordings, layout


def test_labels_are_the_approach_agents_shortest_path_actions(rl_config) -> None:
    config = rl_config(None, "TASK.MAX_EPISODE_STEPS", "8")
    storage, recordings, layout = _rollout(config, experts=True, probability=1.0)
    navigations = {}
    for env, recording in enumerate(recordings):
        scene = str(recording.infos[0]["scene"])
        navigation = navigations.setdefault(
            scene, SceneNavigation(read_graph(layout.graph_path(scene)), list(HEADINGS))
        )
        for step, info in enumerate(recording.infos[:-1]):
            plan = shortest_actions(navigation, int(info["node"]), int(info["heading"]), int(info["target_node"]))
            label = int(storage.expert_actions[step, env])
            if plan:
                assert label == plan[0], (env, step, info, plan)
            else:
                assert label in (TURN_LEFT, TURN_RIGHT)
            assert recording.actions[step] == label  # expert probability 1: the expert's action is executed
        # the starts are near the target: following the labels reaches it
        assert int(recording.infos[-1]["node"]) == int(recording.infos[0]["target_node"])


def test_the_expert_never_changes_what_the_policy_sees_or_does(rl_config) -> None:
    config = rl_config(None)
    labelled, labelled_recordings, _ = _rollout(config, experts=True, probability=0.0)
    plain, plain_recordings, _ = _rollout(config, experts=False, probability=0.0)
    assert set(labelled.policy_inputs(0)) <= set(POLICY_INPUTS)
    for key, value in labelled.policy_inputs(slice(0, None)).items():
        assert torch.equal(value, plain.policy_inputs(slice(0, None))[key]), key
    assert torch.equal(labelled.actions, plain.actions) and torch.equal(labelled.log_probs, plain.log_probs)
    assert [r.actions for r in labelled_recordings] == [r.actions for r in plain_recordings]


def test_trainer_imitates_then_runs_ppo(rl_config, tmp_path) -> None:
    trainer = DDPPOTrainer.from_config(rl_config(str(tmp_path / "run"), "RL.IMITATION.UPDATES", "2"))
    counters = trainer.train()
    assert counters["update"] == 3
    first, second, third = trainer.update_history
    assert first["expert_probability"] == 1.0 and second["expert_probability"] == 0.0
    assert first["imitation_loss"] > 0 and third["imitation_loss"] == 0.0 and third["expert_probability"] == 0.0
