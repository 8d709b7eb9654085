"""Golden regression test: the tiny world's observations and a short passive and RL training, pinned.

golden.json (next to this file) holds checksums computed by this module at the reference commit. The
test recomputes them and compares:

  a. env: a "sync" vector env of 2 envs on the tiny world (every sensor, 4-observation episodes, so the
     6 fixed steps cross two autoresets), reset(seed=0) then 6 steps of a fixed action sequence. Per step
     and per observation key, and for rewards / terminations / truncations / the final observations of
     ended episodes: shape, dtype, float64 sum, sum of |x|, sum of squares and sha256 of the raw bytes;
     plus the infos' episode ids, steps, nodes and headings. The same trace from a "grouped" vector env
     (2 worker groups, fork) must match the same golden numbers.
  b. passive: `main.main([... trainer "passive" ...])`, 2 epochs of 16 items, validation on 8 items:
     checksums of the last ckpt.N.pth's model state dict (all tensors concatenated in state-dict order,
     and per top-level module), its counters (minus wall-clock time) and validation summaries.
  c. rl: `main.main([... trainer "ddppo" ...])`, 2 updates of 2 sync envs, on the separator that b saved
     as best_ckpt_nonoverlapping_val.pth: the same checksums of the last ckpt.N.pth (policy, memory) and
     its counters.

Every config is built here from the defaults plus explicit KEY VALUE overrides (not from the tests'
fixtures); only the tiny world itself comes from the session fixture `tiny_world` (build_world(root,
preset="tiny", seed=0)). Torch runs single-threaded throughout (restored afterwards).

Tolerances: shapes, dtypes, integers, strings and list lengths must be equal. Sums of squares, sums of
|x| and scalar floats must agree with rtol 1e-6 (RTOL); a signed sum must agree within 1e-6 x its sum of
|x| (a signed sum can be near zero, e.g. of phases, so a tolerance relative to the sum itself would be
meaningless). The sha256 values are compared too, but a sha256 mismatch whose sums are within tolerance
is only a warning (GoldenBitsWarning), not a failure: floating-point bit identity is not guaranteed
across BLAS / FFT builds, CPU instruction sets or a reordering of float operations, while the sums catch
any real change of behaviour.

Runtime: about 5 s on a 2-core CPU on top of the session's tiny-world build (about 6 s, shared with the
rest of the suite), so the module is not marked slow.

Public calls used (adapt these, not golden.json, when a refactor renames them):
audio_separation.config.get_config(opts=[...]), audio_separation.env.make_vector_env(EnvSettings.from_config(config)) (gymnasium
vector env API: reset(seed=), step(actions), infos "final_obs" / "_final_obs"), main.main(argv),
audio_separation.world.builder.build_world (--write only), the checkpoint layout of
audio_separation/common/checkpoint.py (<model-dir>/data/ckpt.N.pth, a dict with "model", "counters",
"extra"; the passive trainer's extra["validation"] and best_ckpt_nonoverlapping_val.pth) and the config
keys in the *_opts functions below.

Regenerate (from the repository root):

    PYTHONPATH=. python -m tests.regression.test_golden --write

It builds the tiny world in a temporary folder, reruns a-c and rewrites golden.json. Do that ONLY for a
change that is meant to alter these numbers (new env behaviour, a different training step, a different
default), and say so in the commit message. A refactor that must not change behaviour must pass against
the existing golden.json; if the refactor renames a public call this module uses, adapt the calls here,
never golden.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

GOLDEN_PATH = Path(__file__).with_name("golden.json")
RTOL = 1e-6

SENSORS = [
    "MIXED_BINAURAL_MAGNITUDE",
    "MIXED_BINAURAL_PHASE",
    "GT_MONO",
    "GT_BINAURAL",
    "TARGET_CLASS",
    "POSE",
    "RGB",
    "DEPTH",
]
ACTIONS = [[0, 1], [2, 0], [0, 0], [1, 2], [0, 1], [2, 2]]  # 0 MOVE_FORWARD, 1 TURN_LEFT, 2 TURN_RIGHT; per env
INFO_KEYS = ("episode_id", "step", "node", "heading")


class GoldenBitsWarning(UserWarning):
    """Raw bytes differ from golden.json while every sum agrees within tolerance."""


# ==================================================================================================== configs
def world_opts(root: str) -> list[str]:
    return ["WORLD.DATA_ROOT", root, "WORLD.PRESET", "tiny", "SEED", "0"]


def env_opts(root: str, vector_env_type: str) -> list[str]:
    return [
        *world_opts(root),
        "TASK.SPLIT",
        "train",
        "TASK.SENSORS",
        str(SENSORS),
        "TASK.MAX_EPISODE_STEPS",
        "4",
        "TASK.NUM_SOUNDS_IN_MIX",
        "2",
        "NUM_PROCESSES",
        "2",
        "ENV.VECTOR_ENV_TYPE",
        vector_env_type,
        "ENV.NUM_WORKERS",
        "2",
        "ENV.MULTIPROCESSING_CONTEXT",
        "fork",
        "ENV.AUTORESET_MODE",
        "same_step",
        "ENV.COPY_OBSERVATIONS",
        "True",
    ]


def passive_opts(root: str) -> list[str]:
    return [
        *world_opts(root),
        "TRAINER_NAME",
        "passive",
        "MODEL.SEPARATOR_WIDTH",
        "0.0625",
        "PASSIVE.BATCH_SIZE",
        "8",
        "PASSIVE.ITEMS_PER_EPOCH",
        "16",
        "PASSIVE.VAL_MAX_ITEMS",
        "8",
        "PASSIVE.NUM_THREADS",
        "1",
        "NUM_PROCESSES",
        "0",
        "NUM_EPOCHS",
        "2",
        "CHECKPOINT_INTERVAL",
        "1",
        "LOG_INTERVAL",
        "1",
    ]


def rl_opts(root: str, separator_checkpoint: str) -> list[str]:
    return [
        *world_opts(root),
        "TRAINER_NAME",
        "ddppo",
        "RL.SEPARATOR_CHECKPOINT",
        separator_checkpoint,
        "ENV.VECTOR_ENV_TYPE",
        "sync",
        "NUM_PROCESSES",
        "2",
        "TASK.MAX_EPISODE_STEPS",
        "5",
        "TASK.SENSORS",
        "['MIXED_BINAURAL_MAGNITUDE', 'GT_MONO', 'TARGET_CLASS', 'POSE', 'RGB']",
        "MODEL.SEPARATOR_WIDTH",
        "0.0625",
        "RL.POLICY.HIDDEN_SIZE",
        "16",
        "RL.POLICY.EMBEDDING_SIZE",
        "16",
        "RL.MEMORY.CAPACITY",
        "4",
        "RL.MEMORY.REFINEMENT_WINDOW",
        "2",
        "RL.MEMORY.ENCODER_CHANNELS",
        "2",
        "RL.MEMORY.NUM_HEADS",
        "2",
        "RL.MEMORY.FFN_SIZE",
        "32",
        "RL.PPO.PPO_EPOCH",
        "2",
        "RL.NUM_THREADS",
        "1",
        "NUM_UPDATES",
        "2",
        "CHECKPOINT_INTERVAL",
        "2",
        "LOG_INTERVAL",
        "1",
    ]


# ==================================================================================================== checksums
def checksum(array: Any) -> dict[str, Any]:
    """shape, dtype, float64 sum / sum of |x| / sum of squares, sha256 of the C-ordered raw bytes."""
    array = np.ascontiguousarray(np.asarray(array))
    values = array.astype(np.float64)
    return {
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "sum": float(values.sum()),
        "sum_abs": float(np.abs(values).sum()),
        "sum_sq": float(np.square(values).sum()),
        "sha256": hashlib.sha256(array.tobytes()).hexdigest(),
    }


def tensors_checksum(tensors: list[torch.Tensor]) -> dict[str, Any]:
    """Checksum of tensors concatenated in the given order (shape = [total elements]; sha over the raw bytes
    of each, in order; dtype = the distinct dtypes in order of appearance)."""
    digest = hashlib.sha256()
    total = total_abs = total_sq = 0.0
    count = 0
    dtypes: list[str] = []
    for tensor in tensors:
        array = np.ascontiguousarray(tensor.detach().cpu().numpy())
        values = array.astype(np.float64)
        total += float(values.sum())
        total_abs += float(np.abs(values).sum())
        total_sq += float(np.square(values).sum())
        count += array.size
        digest.update(array.tobytes())
        if str(array.dtype) not in dtypes:
            dtypes.append(str(array.dtype))
    return {
        "shape": [count],
        "dtype": ",".join(dtypes),
        "tensors": len(tensors),
        "sum": total,
        "sum_abs": total_abs,
        "sum_sq": total_sq,
        "sha256": digest.hexdigest(),
    }


def state_dict_checksums(state_dict: dict[str, torch.Tensor]) -> dict[str, Any]:
    """{"all": every tensor in state-dict order, <top-level module>: its tensors} (e.g. policy, memory)."""
    groups: dict[str, list[torch.Tensor]] = {}
    for name, tensor in state_dict.items():
        groups.setdefault(name.split(".")[0], []).append(tensor)
    return {
        "all": tensors_checksum(list(state_dict.values())),
        **{name: tensors_checksum(group) for name, group in groups.items()},
    }


def plain(value: Any) -> Any:
    """JSON-able python value of a numpy / torch scalar or container."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(item) for item in value]
    if isinstance(value, torch.Tensor):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


# ==================================================================================================== a. env
def env_trace(root: str, vector_env_type: str) -> list[dict[str, Any]]:
    """reset(seed=0) then the ACTIONS steps of 2 envs; one record per returned observation batch."""
    from audio_separation.config import get_config
    from audio_separation.env import EnvSettings, make_vector_env

    config = get_config(opts=env_opts(root, vector_env_type))
    envs = make_vector_env(EnvSettings.from_config(config))
    try:
        observations, infos = envs.reset(seed=0)
        trace = [
            {"observations": {key: checksum(value) for key, value in observations.items()}, "infos": info_record(infos)}
        ]
        for actions in ACTIONS:
            observations, rewards, terminations, truncations, infos = envs.step(np.asarray(actions))
            record = {
                "observations": {key: checksum(value) for key, value in observations.items()},
                "rewards": checksum(rewards),
                "terminations": checksum(terminations),
                "truncations": checksum(truncations),
                "infos": info_record(infos),
            }
            ended = np.flatnonzero(np.asarray(infos.get("_final_obs", np.zeros(len(actions), dtype=bool))))
            if len(ended):
                finals = [infos["final_obs"][index] for index in ended]
                record["final_obs"] = {
                    "envs": [int(index) for index in ended],
                    **{key: checksum(np.stack([final[key] for final in finals])) for key in finals[0]},
                }
            trace.append(record)
    finally:
        envs.close()
    return trace


def info_record(infos: dict[str, Any]) -> dict[str, Any]:
    return {key: plain(infos[key]) for key in INFO_KEYS}


# ==================================================================================================== b, c. training
def newest_checkpoint(model_dir: str) -> str:
    """The ckpt.N.pth with the largest N under <model_dir>/data."""
    found = sorted(
        (int(name.split(".")[1]), name)
        for name in os.listdir(os.path.join(model_dir, "data"))
        if name.startswith("ckpt.") and name.endswith(".pth") and name.split(".")[1].isdigit()
    )
    assert found, f"no ckpt.N.pth in {model_dir}/data"
    return os.path.join(model_dir, "data", found[-1][1])


def load_payload(path: str) -> dict[str, Any]:
    """The dict a checkpoint file holds (common/checkpoint.py: "model" state dict, "counters", "extra", ...)."""
    return torch.load(path, map_location="cpu", weights_only=False)


def checkpoint_record(payload: dict[str, Any], path: str) -> dict[str, Any]:
    counters = {key: plain(value) for key, value in payload["counters"].items() if "seconds" not in key}
    return {"file": os.path.basename(path), "model": state_dict_checksums(payload["model"]), "counters": counters}


def run_main(workdir: str, name: str, trainer_name: str, opts: list[str]) -> str:
    """python main.py --exp-config <tiny yaml> --run-type train --model-dir <workdir>/<name> KEY VALUE ...;
    returns the model dir."""
    from main import main

    exp_config = os.path.join(workdir, f"{name}.yaml")
    with open(exp_config, "w") as file:
        file.write(f"TRAINER_NAME: {trainer_name}\n")
    model_dir = os.path.join(workdir, name)
    assert main(["--exp-config", exp_config, "--run-type", "train", "--model-dir", model_dir, *opts]) == 0
    return model_dir


def training_records(root: str, workdir: str) -> dict[str, Any]:
    passive_dir = run_main(workdir, "passive", "passive", passive_opts(root))
    path = newest_checkpoint(passive_dir)
    payload = load_payload(path)
    passive = {**checkpoint_record(payload, path), "validation": plain(payload["extra"]["validation"])}
    separator = os.path.join(passive_dir, "data", "best_ckpt_nonoverlapping_val.pth")
    passive["best_nonoverlapping_val_epoch"] = plain(load_payload(separator)["counters"]["epoch"])
    rl_dir = run_main(workdir, "rl", "ddppo", rl_opts(root, separator))
    path = newest_checkpoint(rl_dir)
    return {"passive": passive, "rl": checkpoint_record(load_payload(path), path)}


class single_thread:
    """Run torch single-threaded inside, and put back the thread count (the trainers set it globally)."""

    def __enter__(self) -> None:
        self.threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.threads)


def compute_all(root: str, workdir: str) -> dict[str, Any]:
    with single_thread():
        return {"env": env_trace(root, "sync"), **training_records(root, workdir)}


# ==================================================================================================== comparison
def compare(actual: Any, expected: Any, where: str, failures: list[str], bit_differences: list[str]) -> None:
    """Append what differs: failures beyond tolerance, bit_differences for sha256 mismatches."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or sorted(actual) != sorted(expected):
            failures.append(
                f"{where}: keys {sorted(actual) if isinstance(actual, dict) else type(actual).__name__} != expected {sorted(expected)}"
            )
            return
        for key in expected:
            if key == "sha256":
                if actual[key] != expected[key]:
                    bit_differences.append(where)
            elif key == "sum" and "sum_abs" in expected:
                bound = RTOL * max(expected["sum_abs"], actual["sum_abs"])
                if not abs(actual["sum"] - expected["sum"]) <= bound:
                    failures.append(
                        f"{where}.sum: {actual['sum']!r} != expected {expected['sum']!r} (allowed {bound:.3g})"
                    )
            else:
                compare(actual[key], expected[key], f"{where}.{key}", failures, bit_differences)
    elif isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            failures.append(f"{where}: {actual!r} != expected {expected!r}")
            return
        for index, (got, wanted) in enumerate(zip(actual, expected)):
            compare(got, wanted, f"{where}[{index}]", failures, bit_differences)
    elif isinstance(expected, float) and not isinstance(actual, (bool, str)) and isinstance(actual, (int, float)):
        if not (
            math.isclose(actual, expected, rel_tol=RTOL, abs_tol=1e-12) or (math.isnan(actual) and math.isnan(expected))
        ):
            failures.append(f"{where}: {actual!r} != expected {expected!r} (rtol {RTOL})")
    elif actual != expected or type(actual) is not type(expected):
        failures.append(f"{where}: {actual!r} != expected {expected!r}")


def check(actual: Any, expected: Any, where: str) -> None:
    failures: list[str] = []
    bit_differences: list[str] = []
    compare(actual, expected, where, failures, bit_differences)
    if failures:
        pytest.fail(
            f"{len(failures)} difference(s) from {GOLDEN_PATH.name}:\n" + "\n".join(failures[:40]), pytrace=False
        )
    if bit_differences:
        warnings.warn(
            GoldenBitsWarning(
                f"{len(bit_differences)} sha256 mismatch(es) with sums within tolerance (not bit-identical): "
                + ", ".join(bit_differences[:20])
            ),
            stacklevel=2,
        )


# ==================================================================================================== tests
@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    if not GOLDEN_PATH.is_file():
        pytest.fail(f"{GOLDEN_PATH} is missing; see this module's docstring to generate it", pytrace=False)
    return json.loads(GOLDEN_PATH.read_text())


@pytest.fixture(scope="module")
def trainings(tiny_world, tmp_path_factory) -> dict[str, Any]:
    root, _ = tiny_world
    with single_thread():
        return training_records(root, str(tmp_path_factory.mktemp("golden_training")))


def test_sync_env_observations(tiny_world, golden) -> None:
    with single_thread():
        trace = env_trace(tiny_world[0], "sync")
    check(trace, golden["env"], "env")


def test_grouped_env_gives_the_same_observations(tiny_world, golden) -> None:
    with single_thread():
        trace = env_trace(tiny_world[0], "grouped")
    check(trace, golden["env"], "env[grouped]")


def test_passive_training(trainings, golden) -> None:
    check(trainings["passive"], golden["passive"], "passive")


def test_rl_training(trainings, golden) -> None:
    check(trainings["rl"], golden["rl"], "rl")


# ==================================================================================================== --write
def write_golden() -> None:
    from audio_separation.world.builder import build_world

    with tempfile.TemporaryDirectory(prefix="golden_") as folder:
        root = os.path.join(folder, "tiny_world")
        build_world(root, preset="tiny", seed=0, workers=2, progress=False)  # as tests/conftest.py's tiny_world
        workdir = os.path.join(folder, "runs")
        os.makedirs(workdir)
        results = compute_all(root, workdir)
    GOLDEN_PATH.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN_PATH}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description="Regenerate golden.json (see the module docstring for when that is legitimate)."
    )
    parser.add_argument("--write", action="store_true", help="rerun the captured scenarios and rewrite golden.json")
    if not parser.parse_args().write:
        parser.print_help()
        sys.exit(2)
    write_golden()
