"""scripts/bench/gpu_ppo_carry.py: checkpoints travel to and from a device machine without their optimizer
states, with the weights and the checkpoint's number unchanged, and the runs' logs come back."""

from __future__ import annotations

import os
import sys

import torch

from audio_separation.common.checkpoint import save_checkpoint

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "bench"))
import gpu_ppo_carry  # noqa: E402


def _run(folder: str, number: int) -> torch.nn.Module:
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    extra = {"agent_settings": {"policy": {"hidden_size": 4}}, "memory_optimizer": {"x": 1}, "memory_replay": [1]}
    save_checkpoint(os.path.join(folder, "data", f"ckpt.{number}.pth"), model=model, optimizer=optimizer, extra=extra)
    with open(os.path.join(folder, "train.log"), "w") as log:
        log.write("update 1\n")
    return model


def test_pack_and_join_keep_weights_and_number_and_drop_optimizer_states(tmp_path) -> None:
    runs, out, back = tmp_path / "runs", tmp_path / "out", tmp_path / "back"
    _run(str(runs / "a"), 10)
    model = _run(str(runs / "a"), 20)  # the newest checkpoint travels
    written = gpu_ppo_carry.pack(str(runs), str(out), ["a", "missing"])
    assert sorted(os.path.basename(path) for path in written) == ["a.pth", "logs.tar.gz"]
    joined = gpu_ppo_carry.join(str(out), str(back))
    assert joined == [str(back / "a" / "data" / "ckpt.20.pth")]
    payload = torch.load(joined[0], weights_only=False)
    assert "optimizer" not in payload and "rng" not in payload
    assert payload["extra"] == {"agent_settings": {"policy": {"hidden_size": 4}}}
    for name, tensor in model.state_dict().items():
        assert torch.equal(payload["model"][name], tensor)
    assert (back / "a" / "train.log").read_text() == "update 1\n"


def test_separator_copy_keeps_its_weights(tmp_path) -> None:
    model = _run(str(tmp_path / "passive"), 3)
    target = gpu_ppo_carry.carry_separator(str(tmp_path / "passive" / "data" / "ckpt.3.pth"), str(tmp_path / "c"))
    payload = torch.load(target, weights_only=False)
    assert "optimizer" not in payload and torch.equal(payload["model"]["weight"], model.state_dict()["weight"])
