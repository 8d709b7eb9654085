"""torch.distributed helpers: init from torchrun's environment, rank queries, mean all-reduce.

One process per device. On CPU the gloo backend is used; with CUDA, NCCL and one GPU per local rank.
Every helper works unchanged in a plain single process (no torchrun): rank 0 of world size 1.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


def launched_by_torchrun() -> bool:
    """Whether torchrun (or an equivalent launcher) set WORLD_SIZE / RANK for this process."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


@dataclass(frozen=True)
class DeviceState:
    """Where this process computes and which worker it is (rank 0 of 1 outside torchrun)."""

    device: torch.device
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def select_device(torch_gpu_id: int = 0) -> torch.device:
    """The one device rule of every trainer: under torchrun cuda:LOCAL_RANK, else cuda:TORCH_GPU_ID, and
    the CPU when CUDA is not available."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    index = int(os.environ.get("LOCAL_RANK", 0)) if launched_by_torchrun() else int(torch_gpu_id)
    if not 0 <= index < torch.cuda.device_count():
        source = "LOCAL_RANK" if launched_by_torchrun() else "TORCH_GPU_ID"
        raise ValueError(f"{source}={index} but only {torch.cuda.device_count()} CUDA device(s) are visible")
    return torch.device("cuda", index)


def init_distributed(backend: str | None = None, torch_gpu_id: int = 0, timeout_seconds: float = 1800.0) -> DeviceState:
    """This process's device (select_device), joining the process group torchrun describes (nothing to
    join in a plain process). backend: None picks NCCL with CUDA, gloo otherwise."""
    device = select_device(torch_gpu_id)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if launched_by_torchrun() and not dist.is_initialized():
        dist.init_process_group(
            backend=backend or ("nccl" if device.type == "cuda" else "gloo"),
            timeout=datetime.timedelta(seconds=timeout_seconds),
        )
    return DeviceState(
        device=device,
        rank=get_rank(),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)) if launched_by_torchrun() else 0,
        world_size=get_world_size(),
    )


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """True on rank 0 (the process that logs and writes checkpoints)."""
    return get_rank() == 0


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def all_reduce_mean(value: torch.Tensor | float) -> torch.Tensor:
    """The mean of a tensor (or float) over all ranks; the value itself in a single process."""
    tensor = value.detach().clone() if isinstance(value, torch.Tensor) else torch.tensor(float(value))
    if is_distributed():
        if dist.get_backend() == "nccl" and tensor.device.type != "cuda":
            tensor = tensor.cuda()
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        tensor = tensor / dist.get_world_size()
    return tensor


def any_rank(flag: bool) -> bool:
    """True when `flag` is True on at least one rank (e.g. a preemption signal seen by one worker)."""
    if not is_distributed():
        return bool(flag)
    tensor = torch.tensor([1.0 if flag else 0.0])
    if dist.get_backend() == "nccl":
        tensor = tensor.cuda()
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item() > 0)


def any_rank_each(flags: list[bool]) -> list[bool]:
    """any_rank for several flags in one all-reduce (e.g. [preemption requested, out of time])."""
    if not is_distributed():
        return [bool(flag) for flag in flags]
    tensor = torch.tensor([1.0 if flag else 0.0 for flag in flags])
    if dist.get_backend() == "nccl":
        tensor = tensor.cuda()
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return [bool(value > 0) for value in tensor.tolist()]


def all_reduce_gradients(parameters) -> None:
    """Replace each parameter's .grad by its mean over ranks, in one flattened all-reduce (no-op in a
    single process). Parameters without a gradient contribute zeros, so every rank stays in step."""
    if not is_distributed():
        return
    parameters = [parameter for parameter in parameters if parameter.requires_grad]
    grads = [parameter.grad if parameter.grad is not None else torch.zeros_like(parameter) for parameter in parameters]
    flat = torch.cat([grad.reshape(-1) for grad in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist.get_world_size()
    offset = 0
    for parameter in parameters:
        count = parameter.numel()
        parameter.grad = flat[offset : offset + count].view_as(parameter).clone()
        offset += count


def broadcast_module(module: torch.nn.Module, source: int = 0) -> None:
    """Copy the parameters and buffers of rank `source` to every rank (no-op in a single process)."""
    if not is_distributed():
        return
    for tensor in [*module.parameters(), *module.buffers()]:
        dist.broadcast(tensor.data, src=source)


def cleanup_distributed() -> None:
    """Leave the process group (safe to call when none was joined)."""
    if is_distributed():
        dist.destroy_process_group()
