"""torchrun, decided once at the edge: rank, world size and device, passed in explicitly.

Shape after nanoGPT's ``train.py``: ``torchrun`` sets ``WORLD_SIZE``, ``RANK``
and ``LOCAL_RANK``; a world of more than one process joins a process group
(NCCL on GPUs, gloo on CPUs), each process uses the GPU of its local rank, and
only rank 0 writes. The commands call `setup_distributed` once and hand the
`Distributed` they get to the library; library functions shard work only when
given one with ``world_size > 1``, never because a process group happens to
exist.

torch is imported only when a process group is joined or a device is asked
for, so measures that need no torch (colorfulness) start without it.
"""

import gc
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # annotations only
    import torch


@dataclass(frozen=True)
class Distributed:
    """This process's place among the torchrun processes (one process: the defaults).

    Attributes
    ----------
    rank : int
        0 .. world_size - 1; rank 0 is the one that logs and writes.
    local_rank : int
        Rank on this machine: the GPU this process uses.
    world_size : int
    """

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    def __post_init__(self):
        if not 0 <= self.rank < self.world_size or self.local_rank < 0:
            raise ValueError(f"Expected 0 <= rank < world_size and local_rank >= 0, got {self}.")

    @property
    def main(self) -> bool:
        """Whether this process is rank 0, the one that logs and writes."""
        return self.rank == 0

    @classmethod
    def from_environment(cls) -> "Distributed":
        """Read torchrun's environment variables (one process when they are absent)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        return cls(int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")), world)

    def shard(self, n_items: int) -> range:
        """The items of `n_items` this process handles: every world_size-th, from its rank.

        Examples
        --------
        >>> list(Distributed(1, 1, 3).shard(8))
        [1, 4, 7]
        """
        return range(self.rank, n_items, self.world_size)

    def sum(self, array: np.ndarray, device: "torch.device | None" = None) -> np.ndarray:
        """Element-wise sum of `array` over all processes (itself in a world of one).

        Each process fills the items it handled and leaves zeros elsewhere, so
        the sum gives every process the whole array, exactly, for integers
        and floats alike.
        """
        if self.world_size == 1:
            return array
        import torch

        dist = torch.distributed
        on = device if device is not None and dist.get_backend() == "nccl" else torch.device("cpu")
        total = torch.from_numpy(np.ascontiguousarray(array)).to(on)
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total.cpu().numpy()

    def gather(self, value: Any) -> list[Any]:
        """Every process's `value` (picklable), in rank order."""
        if self.world_size == 1:
            return [value]
        import torch

        gathered: list[Any] = [None] * self.world_size
        torch.distributed.all_gather_object(gathered, value)
        return gathered


    def first_error(self, message: str | None) -> str | None:
        """The first process's error message, if any had one; every process must call this once.

        Checks that can fail before any collective (bad input) end with this
        call on every process, failed or not, so all processes stop together
        with the same message (printed once, by rank 0) instead of one process
        failing alone while the others wait for it, unheard.
        """
        if self.world_size == 1:
            return message
        return next((m for m in self.gather(message) if m is not None), None)


SINGLE = Distributed()
"""One process: what library functions assume unless told otherwise."""


def setup_distributed(requested_device: "str | torch.device | None" = None) -> tuple[Distributed, "torch.device | None"]:
    """Join the torchrun process group when there is one; pick this process's device.

    Under torchrun a group is joined even by a world of one process, so a
    one-GPU run exercises the same NCCL path as a larger one (and records it).

    Parameters
    ----------
    requested_device : str or torch.device, optional
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (`p2p_eval.device.pick_device`);
        None for work that needs no device (the group is then gloo).

    Returns
    -------
    distributed : Distributed
    device : torch.device or None
        Under torchrun on GPUs, the GPU of this process's local rank.
    """
    distributed = Distributed.from_environment()
    device = None
    if requested_device is not None:
        from p2p_eval.device import pick_device

        device = pick_device(str(requested_device))
    if "RANK" not in os.environ:  # not launched by torchrun
        return distributed, device
    import torch

    if device is not None and device.type == "cuda":
        device = torch.device("cuda", distributed.local_rank)
        torch.cuda.set_device(device)
    if not torch.distributed.is_initialized():
        backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend)
    return distributed, device


def teardown_distributed(*, completed: bool) -> None:
    """Leave the process group, if this process joined one.

    A DistributedDataParallel wrapper keeps the group alive past
    ``destroy_process_group`` until the garbage collector breaks its reference
    cycles. Freed at the interpreter's exit, it can abort a gloo rank after the
    work is done ("terminate called without an active exception", exit -6, and
    torchrun fails the command: 4 of 40 runs of the trainer on this machine).
    Collecting first stops it: two processes, one DDP step, rank 0 busy for 1 s
    before leaving, aborted in 5 of 40 runs with the old teardown and 0 of 40
    with this one (a barrier alone did not help: 3 of 20). Leaving is
    also collective (torch's "Shutdown" docs: once no rank communicates any
    more), so after a completed command every rank first waits for the others
    (rank 0 may still be writing images or results); after a failure it does
    not wait for peers that may never come (torchrun stops them).

    Parameters
    ----------
    completed : bool
        Whether this process's command ran to its end.
    """
    if "RANK" not in os.environ:
        return
    import torch

    if torch.distributed.is_initialized():
        if completed:
            torch.distributed.barrier()
        gc.collect()  # unreachable DDP wrappers go now, while the group they hold is still whole
        torch.distributed.destroy_process_group()
