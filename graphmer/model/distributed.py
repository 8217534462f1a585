"""DistributedDataParallel plumbing: the same `graphmer train` under torchrun.

gloo on CPU, nccl on GPU. Outside torchrun everything here is a no-op on one process.
"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup() -> DistContext:
    """Join the process group torchrun describes (WORLD_SIZE > 1), else a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    rank = int(os.environ["RANK"])
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device, backend = torch.device("cuda", local), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistContext(rank, world, device)


def wrap(model: torch.nn.Module, ctx: DistContext) -> torch.nn.Module:
    if ctx.world <= 1:
        return model
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    # Relations absent from a batch leave their H-GAT parameters without gradient.
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def all_true(flag: bool, ctx: DistContext) -> bool:
    """True only if `flag` holds on every process (they must skip a step together)."""
    if ctx.world <= 1:
        return flag
    t = torch.tensor([1 if flag else 0], device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def barrier(ctx: DistContext) -> None:
    if ctx.world > 1:
        dist.barrier()


def cleanup(ctx: DistContext) -> None:
    if ctx.world > 1 and dist.is_initialized():
        dist.destroy_process_group()


def hardware(device: torch.device) -> dict:
    """What the run ran on, for reports."""
    info = {"cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "threads": torch.get_num_threads(),
            "torch": torch.__version__}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
