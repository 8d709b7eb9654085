"""Move scripts/bench/gpu_ppo.sh's inputs to a device machine and its checkpoints back, within the device
tool's limits (64 MiB each way, at most 8 files of 16 MiB back).

    python scripts/bench/gpu_ppo_carry.py SEPARATOR FOLDER          # here: SEPARATOR's weights -> FOLDER/separator.pth
    python scripts/bench/gpu_ppo_carry.py --pack RUNS OUT RUN...    # there: each RUN's newest ckpt -> OUT/RUN.pth, logs -> OUT/logs.tar.gz
    python scripts/bench/gpu_ppo_carry.py --join FILES RUNS         # here: FILES/RUN.pth -> RUNS/RUN/data/ckpt.N.pth, logs unpacked

Packing drops the optimizer states, the RNG states and the memory's replay buffer (evaluation reads none of
them): a quickstart agent's float32 weights are ~15 MiB, so three fit. The weights travel unchanged, and the
separator's too, so its fingerprint is the one the runs record.
"""

from __future__ import annotations

import argparse
import os
import sys
import tarfile

import torch

from audio_separation.common.checkpoint import checkpoint_path, list_checkpoints

DROPPED_EXTRA = ("memory_optimizer", "memory_replay")


def strip(payload: dict) -> dict:
    """The payload without optimizer / scheduler / RNG states and the memory's optimizer and replay."""
    kept = {key: value for key, value in payload.items() if key not in ("optimizer", "scheduler", "rng")}
    if isinstance(kept.get("extra"), dict):
        kept["extra"] = {key: value for key, value in kept["extra"].items() if key not in DROPPED_EXTRA}
    return kept


def carry_separator(source: str, folder: str) -> str:
    payload = torch.load(source, map_location="cpu", weights_only=False)
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, "separator.pth")
    torch.save(strip(payload), target)
    return target


def pack(runs: str, out: str, names: list[str]) -> list[str]:
    os.makedirs(out, exist_ok=True)
    written = []
    for name in names:
        folder = os.path.join(runs, name, "data")
        found = list_checkpoints(folder)
        if not found:
            print(f"{name}: no checkpoint under {folder}", file=sys.stderr)
            continue
        number, path = found[-1]
        payload = strip(torch.load(path, map_location="cpu", weights_only=False))
        payload["carried_index"] = number
        target = os.path.join(out, f"{name}.pth")
        torch.save(payload, target)
        written.append(target)
        print(f"{name}: {path} -> {target} ({os.path.getsize(target) / 2**20:.1f} MiB)")
    logs = os.path.join(out, "logs.tar.gz")
    with tarfile.open(logs, "w:gz") as archive:  # train.log, tensorboard events, console logs, configs
        for root, _, files in os.walk(runs):
            for file in files:
                if not file.endswith(".pth"):
                    full = os.path.join(root, file)
                    archive.add(full, arcname=os.path.relpath(full, runs))
    written.append(logs)
    return written


def join(files: str, runs: str) -> list[str]:
    written = []
    for file in sorted(os.listdir(files)):
        if not file.endswith(".pth"):
            continue
        name = file[: -len(".pth")]
        payload = torch.load(os.path.join(files, file), map_location="cpu", weights_only=False)
        folder = os.path.join(runs, name, "data")
        os.makedirs(folder, exist_ok=True)
        target = checkpoint_path(folder, payload.pop("carried_index"))
        torch.save(payload, target)
        written.append(target)
    logs = os.path.join(files, "logs.tar.gz")
    if os.path.isfile(logs):
        with tarfile.open(logs) as archive:
            archive.extractall(runs, filter="data")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", action="store_true", help="RUNS OUT RUN...: pack the runs' newest checkpoints")
    parser.add_argument("--join", action="store_true", help="FILES RUNS: unpack packed checkpoints into run dirs")
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    if args.pack:
        for path in pack(args.paths[0], args.paths[1], args.paths[2:]):
            print(path)
    elif args.join:
        for path in join(args.paths[0], args.paths[1]):
            print(path)
    else:
        print(carry_separator(args.paths[0], args.paths[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
