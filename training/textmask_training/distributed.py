"""Several processes through torch.distributed: one per GPU, or several CPU processes.

``torchrun`` sets RANK, WORLD_SIZE and LOCAL_RANK (plus MASTER_ADDR and MASTER_PORT); with
WORLD_SIZE above 1 the trainer joins a process group (NCCL on CUDA, Gloo on the CPU), wraps the
model in DistributedDataParallel and gives each rank its share of every epoch. Only rank 0
writes checkpoints, metrics and logs of progress.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from textmask_core.devices import select_device

logger = logging.getLogger(__name__)

Item = TypeVar("Item")


@dataclass(frozen=True)
class DistributedContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    local_world_size: int = 1  # processes on this machine

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def environment_rank() -> tuple[int, int, int]:
    """Return (rank, world size, local rank) from the torchrun variables; (0, 1, 0) without them."""
    try:
        rank = int(os.environ.get("RANK", "0"))
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as error:
        raise ValueError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers: {error}") from error
    if not 0 <= rank < world_size:
        raise ValueError(f"RANK={rank} is outside 0..WORLD_SIZE-1 (WORLD_SIZE={world_size})")
    return rank, world_size, local_rank


def shard_for_rank(items: Sequence[Item]) -> list[Item]:
    """Return this process's share of ``items`` (every WORLD_SIZE-th from RANK); all of them
    outside torchrun. The shares of all ranks together are ``items``, each item once."""
    rank, world_size, _ = environment_rank()
    return list(items[rank::world_size])


def init_distributed(device_name: str = "auto") -> DistributedContext:
    """Pick the device and, under torchrun with WORLD_SIZE > 1, join the process group."""
    rank, world_size, local_rank = environment_rank()
    if world_size == 1:
        return DistributedContext(0, 1, 0, select_device(device_name))
    device = select_device(device_name)
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
        logger.info(
            "rank %d of %d joined the %s process group on %s", rank, world_size, backend, device
        )
    local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size)))
    return DistributedContext(rank, world_size, local_rank, device, local_world_size)


def shutdown_distributed(context: DistributedContext) -> None:
    if context.is_distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(context: DistributedContext) -> None:
    if context.is_distributed:
        dist.barrier()


def mean_across_ranks(value: float, context: DistributedContext) -> float:
    """Average a number over the ranks; every rank gets the same result."""
    if not context.is_distributed:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=_collective_device(context))
    dist.all_reduce(tensor)
    return float(tensor.item()) / context.world_size


def any_rank(flag: bool, context: DistributedContext) -> bool:
    """Return True on every rank when ``flag`` is True on at least one."""
    if not context.is_distributed:
        return flag
    tensor = torch.tensor([1.0 if flag else 0.0], device=_collective_device(context))
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item() > 0)


def gather_lists(items: list[Any], context: DistributedContext) -> list[Any]:
    """Concatenate every rank's list in rank order; every rank gets the whole list."""
    if not context.is_distributed:
        return list(items)
    gathered: list[list[Any] | None] = [None] * context.world_size
    dist.all_gather_object(gathered, items)
    return [item for part in gathered for item in (part or [])]


def _collective_device(context: DistributedContext) -> torch.device:
    # NCCL only moves CUDA tensors; Gloo works on CPU tensors.
    return context.device if context.device.type == "cuda" else torch.device("cpu")
