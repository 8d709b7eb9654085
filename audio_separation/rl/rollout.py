"""Running one episode in every env of a vector env: the step loop shared by training and evaluation.

Each step t: observation -> frozen separator (target binaural + passive mono estimate) -> the entry goes
into the external memory -> the memory refines the window ending at t -> the current refined estimate
is the policy's mono input and scores the transition that led here (rl/reward.py) -> the actor (the
policy, or a baseline agent of env/agents.py) picks the next action, except at the last step.

Evaluation records more (`record=True`): the mixture phase, the views, the trajectory, and the final
estimate of every step (models/memory.final_estimate_source).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from gymnasium.vector import VectorEnv

from audio_separation.models.memory import TransformerMemory, final_estimate_source
from audio_separation.models.policy import ActorCritic
from audio_separation.models.separators import PassiveSeparator
from audio_separation.rl.frozen_separator import separate
from audio_separation.rl.reward import counterfactual_key, distance_reward, normalised_error, separation_reward
from audio_separation.rl.rollout_storage import RolloutStorage


@dataclass
class RolloutSettings:
    """What the step loop needs from the config."""

    capacity: int  # RL.MEMORY.CAPACITY
    refinement_window: int  # RL.MEMORY.REFINEMENT_WINDOW
    reward: str  # RL.REWARD
    zero_terminal_reward: bool  # RL.ZERO_TERMINAL_REWARD
    target_rms: float  # AUDIO.TARGET_MONO_RMS
    deterministic: bool = False  # argmax actions (evaluation)
    distance_reward_weight: float = 0.0  # RL.DISTANCE_REWARD_WEIGHT (far-target navigation term; 0 = off)

    @classmethod
    def from_config(cls, config, deterministic: bool = False) -> RolloutSettings:
        memory = config.RL.MEMORY
        return cls(
            int(memory.CAPACITY),
            int(memory.REFINEMENT_WINDOW),
            str(config.RL.REWARD),
            bool(config.RL.ZERO_TERMINAL_REWARD),
            float(config.AUDIO.TARGET_MONO_RMS),
            deterministic,
            float(config.RL.DISTANCE_REWARD_WEIGHT),
        )


@dataclass
class EpisodeRecording:
    """What evaluation keeps of one env's episode (numpy, (steps, ...))."""

    infos: list[dict[str, Any]] = field(
        default_factory=list
    )  # per step: episode_id, scene, node, heading, target_node, step
    actions: list[int] = field(default_factory=list)
    mixed_magnitude: list[np.ndarray] = field(default_factory=list)  # (F, T, 2) log1p
    mixed_phase: list[np.ndarray] = field(default_factory=list)  # (F, T, 2)
    gt_phase: list[np.ndarray] = field(default_factory=list)  # (F, T)
    rgb: list[np.ndarray] = field(default_factory=list)  # (H, W, 3)
    final: dict[int, np.ndarray] = field(default_factory=dict)  # step -> final refined estimate (F, T)


@dataclass
class RolloutResult:
    timings: dict[str, float]  # seconds: env (reset + steps), forward (separator, memory, policy)
    passive_error: torch.Tensor  # (L, N) normalised error of the passive estimate
    refined_error: torch.Tensor  # (L, N) normalised error of the current-step refined estimate at acting time
    recordings: list[EpisodeRecording] | None = None


PIPELINE_KEYS = (
    "mixed_binaural_magnitude",
    "target_class",
    "gt_mono_magnitude",
)  # the frozen separator's inputs and the memory's / reward's ground truth; the policy's own: storage.observation_keys


def to_tensors(
    observations: dict[str, np.ndarray | torch.Tensor], device: torch.device, keys: tuple[str, ...] = PIPELINE_KEYS
) -> dict[str, torch.Tensor]:
    """The observations `keys` the pipeline reads, as tensors on `device`: numpy arrays are copied (vector
    env buffers may be reused); the batched env's tensors (fresh every step) are used as they are when
    they live on `device` (no host round trip), else moved there directly."""
    return {
        key: observations[key].to(device)
        if isinstance(observations[key], torch.Tensor)
        else torch.as_tensor(np.array(observations[key]), device=device)
        for key in keys
        if key in observations
    }


def _host(value: np.ndarray | torch.Tensor) -> np.ndarray:
    """A numpy copy of an observation (a numpy array or a tensor on any device)."""
    return value.detach().cpu().numpy().copy() if isinstance(value, torch.Tensor) else np.array(value)


def env_info(infos: dict[str, Any], index: int) -> dict[str, Any]:
    """One env's entry of a vector env's info dict, as plain python values."""
    return {
        key: (value[index].item() if isinstance(value[index], np.generic) else value[index])
        for key, value in infos.items()
        if not key.startswith("_")
    }


@torch.inference_mode()  # acting only: the PPO and memory updates recompute what they differentiate
def run_episodes(
    envs: VectorEnv,
    separator: PassiveSeparator,
    memory: TransformerMemory,
    storage: RolloutStorage,
    settings: RolloutSettings,
    policy: ActorCritic | None = None,
    agents: list | None = None,
    seeds: list[int] | None = None,
    record: bool = False,
    experts: list | None = None,
    expert_probability: float = 0.0,
) -> RolloutResult:
    """One episode per env into `storage`, acted by `policy` or by the baseline `agents` (one per env).

    Imitation (rl/imitation.py): `experts` (one baseline agent per env, e.g. the privileged `approach`)
    label every step's state with the action they would take (storage.expert_actions) and, where the
    expert knows them (ApproachAgent.optimal_actions), every action as good (storage.expert_action_sets); the expert's
    privileged view (its info: node, heading, target node) goes only into those labels, never into the
    policy's inputs. Each step, each env executes the expert's action with probability
    `expert_probability` (DAgger's mixture policy) and the policy's otherwise; log_probs stay the
    policy's own."""
    if (policy is None) == (agents is None):
        raise ValueError("run_episodes needs exactly one of policy and agents")
    if policy is not None and not set(policy.observation_keys) <= set(storage.observation_keys):
        raise ValueError(
            f"the policy consumes observations {list(policy.observation_keys)}; the storage keeps {list(storage.observation_keys)}"
        )
    if experts is not None and (policy is None or len(experts) != storage.num_envs):
        raise ValueError("experts label a policy's rollout: give a policy and one expert per env")
    length, count, device = storage.episode_length, storage.num_envs, storage.device
    timings = {"env": 0.0, "forward": 0.0}
    tick = time.perf_counter()
    observations, infos = envs.reset(seed=seeds)
    timings["env"] += time.perf_counter() - tick
    infos_per_env = [env_info(infos, index) for index in range(count)]
    for group in (agents, experts):
        for agent, info in zip(group or [], infos_per_env):
            agent.reset(info)
    hidden = policy.initial_hidden(count, device) if policy is not None else None
    recordings = [EpisodeRecording() for _ in range(count)] if record else None
    passive_error = torch.zeros(length, count, device=device)
    refined_error = torch.zeros(length, count, device=device)
    decode_window = settings.refinement_window if record else 0
    distance = _distances(infos_per_env, device) if settings.distance_reward_weight else None
    # pose_gain / still_gain: the same second heard from another pose (its sensor is checked with the config)
    counterfactual = counterfactual_key(settings.reward)
    keys = PIPELINE_KEYS + ((counterfactual,) if counterfactual else ()) + storage.observation_keys
    for step in range(length):
        tick = time.perf_counter()
        tensors = to_tensors(observations, device, keys)
        binaural, passive = separate(separator, tensors["mixed_binaural_magnitude"], tensors["target_class"])
        gt_mono = tensors["gt_mono_magnitude"][..., 0]
        storage.insert_observation(
            step,
            binaural=binaural,
            passive=passive,
            gt_mono=gt_mono,
            observations=tensors,
            mixture=tensors["mixed_binaural_magnitude"],
        )
        queries = storage.memory_queries([step], settings.capacity, decode_window)
        if record:  # decode only the current step and the steps whose final estimate this step makes
            offsets = recorded_offsets(step, length, settings.refinement_window)
            wanted = torch.tensor(offsets, device=queries.decode.device)
            queries.decode &= torch.isin(step - queries.window_step, wanted)
        # each step encodes only its own entries; the pool (slots 0 .. step, time-major) reuses the cache
        tokens, skips = memory.encode(storage.memory_entries[step])
        if step == 0:
            token_cache = tokens.new_empty(length, *tokens.shape)
            skip_cache = skips.new_empty(length, *skips.shape)
        token_cache[step], skip_cache[step] = tokens, skips
        encoded = (token_cache[: step + 1].flatten(0, 1), skip_cache[: step + 1].flatten(0, 1))
        refined = memory.refine(
            queries.entries, queries.window_index, queries.window_step, queries.decode, encoded
        ).clamp(min=0.0)
        decoded_per_env = queries.decode.sum(dim=1).tolist()
        per_env = refined.split(decoded_per_env)  # each env's decoded tokens, oldest first, current last
        storage.refined[step].copy_(torch.stack([tokens[-1] for tokens in per_env]))
        passive_error[step] = normalised_error(passive, gt_mono, settings.target_rms)
        refined_error[step] = normalised_error(storage.refined[step], gt_mono, settings.target_rms)
        if step > 0:
            if counterfactual:  # the same second's passive estimate from the other pose, against the agent's
                _, reference = separate(separator, tensors[counterfactual], tensors["target_class"])
                before, after = normalised_error(reference, gt_mono, settings.target_rms), passive_error[step]
            else:
                before, after = refined_error[step - 1], refined_error[step]
            storage.rewards[step - 1] = separation_reward(
                settings.reward,
                before,
                after,
                terminal=step == length - 1,
                zero_terminal=settings.zero_terminal_reward,
            )
            if distance is not None:  # far-target: + weight x (d_t - d_t+1)
                distance_before, distance = distance, _distances(infos_per_env, device)
                storage.rewards[step - 1] += distance_reward(distance_before, distance, settings.distance_reward_weight)
        if recordings is not None:
            _record(recordings, observations, infos_per_env, per_env, step, length, settings.refinement_window, offsets)
        actions = None
        if step < length - 1:
            if policy is not None:
                output = policy.step(storage.policy_inputs(step), hidden)
                hidden = output.hidden
                actions = (
                    output.distribution.probs.argmax(dim=-1) if settings.deterministic else output.distribution.sample()
                )
                if experts is not None:
                    labels = torch.tensor(
                        [
                            expert.act({key: value[index] for key, value in observations.items()}, info)
                            for index, (expert, info) in enumerate(zip(experts, infos_per_env))
                        ],
                        device=device,
                    )
                    storage.expert_actions[step].copy_(labels)
                    storage.expert_action_sets[step].zero_()  # the expert's own action joins the set in imitation_loss
                    for index, (expert, info) in enumerate(zip(experts, infos_per_env)):
                        if hasattr(
                            expert, "optimal_actions"
                        ):  # an expert indifferent between several actions labels them all
                            storage.expert_action_sets[step, index, expert.optimal_actions(info)] = True
                    if expert_probability > 0:
                        actions = torch.where(torch.rand(count, device=device) < expert_probability, labels, actions)
                storage.insert_action(step, actions, output.distribution.log_prob(actions), output.value)
            else:
                separated = binaural.cpu().numpy()  # agents may listen to the separated target (heuristic)
                actions = torch.tensor(
                    [
                        agent.act(
                            {
                                **{key: value[index] for key, value in observations.items()},
                                "separated_binaural": separated[index],
                            },
                            info,
                        )
                        for index, (agent, info) in enumerate(zip(agents, infos_per_env))
                    ],
                    device=device,
                )
                storage.insert_action(
                    step, actions, torch.zeros(count, device=device), torch.zeros(count, device=device)
                )
        timings["forward"] += time.perf_counter() - tick
        if actions is None:
            break
        tick = time.perf_counter()
        # the batched env takes the actions where they are (env/batched_vector.py); others take numpy
        observations, _, terminated, truncated, infos = envs.step(
            actions if getattr(envs, "tensor_actions", False) else actions.cpu().numpy()
        )
        timings["env"] += time.perf_counter() - tick
        infos_per_env = [env_info(infos, index) for index in range(count)]
        ended = np.logical_or(terminated, truncated)
        expected_end = step + 1 == length - 1
        if not np.all(ended == expected_end):
            raise RuntimeError(
                f"an env episode ended at step {step + 1} (ended: {ended.tolist()}), but RL rollouts are episodes of TASK.MAX_EPISODE_STEPS = {length} observations"
            )
        if recordings is not None:
            for recording, action in zip(recordings, actions.tolist()):
                recording.actions.append(int(action))
    return RolloutResult(timings, passive_error, refined_error, recordings)


def _distances(infos_per_env: list[dict[str, Any]], device: torch.device) -> torch.Tensor:
    """(N,) the envs' geodesic distances to their targets (env info "geodesic_distance", metres)."""
    return torch.tensor([float(info["geodesic_distance"]) for info in infos_per_env], device=device)


def recorded_offsets(step: int, length: int, window: int) -> list[int]:
    """The window offsets (steps back from `step`) a recorded rollout decodes at `step`, largest first:
    0 (the current estimate, a policy input) and those whose final estimate is made now
    (final_estimate_source); the other positions of the refinement window are never read."""
    made_now = {step - s for s in range(step + 1) if final_estimate_source(s, length, window)[0] == step}
    return sorted(made_now | {0}, reverse=True)


def _record(
    recordings: list[EpisodeRecording],
    observations: dict,
    infos: list[dict],
    refined_per_env: tuple,
    step: int,
    length: int,
    window: int,
    offsets: list[int],
) -> None:
    """Keep what evaluation writes out, and the final estimates this step makes (numpy copies);
    refined_per_env holds each env's decoded tokens at `offsets` (recorded_offsets), in that order."""
    finals = [  # (position among the decoded tokens, step whose final estimate it is)
        (position, step - offset)
        for position, offset in enumerate(offsets)
        if final_estimate_source(step - offset, length, window)[0] == step
    ]
    for index, recording in enumerate(recordings):
        recording.infos.append(dict(infos[index]))
        recording.mixed_magnitude.append(_host(observations["mixed_binaural_magnitude"][index]))
        if "mixed_binaural_phase" in observations:
            recording.mixed_phase.append(_host(observations["mixed_binaural_phase"][index]))
        recording.gt_phase.append(_host(observations["gt_mono_phase"][index][..., 0]))
        if "rgb" in observations:
            recording.rgb.append(_host(observations["rgb"][index]))
        tokens = refined_per_env[index]
        if len(tokens) != len(offsets):
            raise RuntimeError(f"step {step}: {len(tokens)} decoded tokens for the offsets {offsets}")
        for position, target_step in finals:
            recording.final[target_step] = tokens[position].cpu().numpy()
