"""`stylecam train` on several processes: PyTorch DistributedDataParallel, launched by torchrun.

One process per rank; torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT
and this module reads them. The backend is gloo on CPU and nccl on CUDA. The global batch
(TrainConfig.batch, .pair_batch) is what a single process would draw; each rank computes its
1/world_size share of the rows and DDP averages the gradients, so a step means the same thing
whatever the world size (and a checkpoint resumes with any world size).

Ranks outside torchrun is `SINGLE`: every helper here is then a no-op.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch

TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
# The teacher cache can keep one rank busy for hours while the others wait for its part: that
# wait uses its own gloo group with this timeout, the training collectives keep the default.
CACHE_WAIT = timedelta(hours=12)
LAUNCH_HINT = ("torchrun --nproc-per-node N -m stylecam.cli train ... (one machine) or "
               "torchrun --nnodes M --nproc-per-node N --rdzv-backend c10d --rdzv-endpoint HOST:PORT "
               "-m stylecam.cli train ... (several; docs/styles.md)")


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run. `distributed`: a process group is (to be) used."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    distributed: bool = False
    slow_group: object = None  # gloo group for long waits (cache building); None: no group

    @property
    def main(self) -> bool:
        """Rank 0: the only one that writes checkpoints, logs and progress bars."""
        return self.rank == 0

    def rows(self, total: int) -> slice:
        """This rank's rows of a global batch of `total` (a multiple of the world size)."""
        per = total // self.world
        return slice(self.rank * per, (self.rank + 1) * per)

    def span(self, total: int) -> tuple[int, int]:
        """This rank's [lo, hi) of `total` items split as evenly as possible (any total)."""
        return total * self.rank // self.world, total * (self.rank + 1) // self.world

    def wait(self) -> None:
        """Barrier for the slow phases (teacher cache); a no-op on one process."""
        if self.slow_group is not None:
            torch.distributed.barrier(group=self.slow_group)

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The mean of `values` over all ranks (in place; returned)."""
        if self.distributed:
            try:
                torch.distributed.all_reduce(values)
            except RuntimeError as exc:  # gloo: connection closed; nccl: timeout or abort
                raise RuntimeError(
                    f"rank {self.rank}: lost contact with the other ranks ({exc}). torchrun's "
                    "summary names the rank that failed first; checkpoints are written whole, "
                    "so run the same command again to resume from the last one") from exc
            values /= self.world
        return values


SINGLE = Ranks()


def from_env(required: bool = False) -> Ranks:
    """The ranks torchrun announced in the environment, without joining the group yet.

    required (--distributed): fail with the launch command when torchrun did not start us.
    """
    env = os.environ
    if not all(k in env for k in TORCHRUN_ENV):
        if required:
            raise ValueError("--distributed: this process was not started by torchrun (RANK, "
                             f"WORLD_SIZE and LOCAL_RANK are not set); launch it with {LAUNCH_HINT}")
        return SINGLE
    return Ranks(rank=int(env["RANK"]), world=int(env["WORLD_SIZE"]),
                 local_rank=int(env["LOCAL_RANK"]), distributed=True)


def check_split(world: int, batch: int, pair_batch: int) -> None:
    """Each rank takes batch / world crops and pair_batch / world frame pairs: both must divide."""
    for value, name, flag in ((batch, "batch", "--batch"), (pair_batch, "pair_batch", "--set pair_batch=")):
        if value % world:
            fix = max(world, -(-value // world) * world)
            sep = "" if flag.endswith("=") else " "
            raise ValueError(f"{name} {value} does not split over {world} ranks (each rank takes "
                             f"{name} / world size): give {flag}{sep}{fix}, a multiple of {world}")


def resolve_device(name: str, ranks: Ranks = SINGLE) -> torch.device:
    """'auto' (CUDA when PyTorch sees a GPU), 'cpu' or 'cuda'; under DDP, GPU = LOCAL_RANK."""
    if name not in ("auto", "cpu", "cuda"):
        raise ValueError(f"--device {name}: use auto, cpu or cuda")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError("--device cuda: PyTorch sees no CUDA GPU (torch.cuda.is_available() is "
                         "False); install a CUDA build of PyTorch or use --device cpu")
    count = torch.cuda.device_count()
    if ranks.local_rank >= count:
        raise ValueError(f"local rank {ranks.local_rank} has no GPU: this machine has {count}; "
                         f"give torchrun --nproc-per-node {count} (one rank per GPU)")
    return torch.device("cuda", ranks.local_rank)


def start(ranks: Ranks, device: torch.device) -> Ranks:
    """Join the process group (gloo on CPU, nccl on CUDA); returns ranks with the slow group."""
    if not ranks.distributed:
        return ranks
    dist = torch.distributed
    if device.type == "cuda":
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    else:
        dist.init_process_group("gloo")
    slow = dist.new_group(backend="gloo", timeout=CACHE_WAIT)
    return Ranks(ranks.rank, ranks.world, ranks.local_rank, True, slow)


def stop(ranks: Ranks) -> None:
    if ranks.distributed and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
