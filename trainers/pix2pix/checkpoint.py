"""Checkpoints: everything needed to resume, written atomically, loaded with weights_only.

::

    <run>/checkpoints/latest.pt    format, step, config, generator, discriminator,
                                   opt_g, opt_d, sched_g, sched_d, rng
"""

import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from p2p_eval.data.torch_files import read_torch_file
from p2p_eval.errors import InputError
from trainers.pix2pix.config import TrainConfig

log = logging.getLogger(__name__)

FORMAT = 1
LATEST = Path("checkpoints") / "latest.pt"


@dataclass
class TrainState:
    """The mutable state of a run: networks, optimisers, schedulers and the step reached."""

    generator: nn.Module
    discriminator: nn.Module | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer | None
    sched_g: torch.optim.lr_scheduler.LRScheduler
    sched_d: torch.optim.lr_scheduler.LRScheduler | None
    step: int = 0


def unwrap(net: nn.Module | None) -> nn.Module | None:
    """The bare module under DistributedDataParallel and torch.compile wrappers."""
    while net is not None and hasattr(net, "module"):
        net = net.module
    return getattr(net, "_orig_mod", net)


def _state(obj: Any) -> dict | None:
    return None if obj is None else obj.state_dict()


def rng_state() -> dict[str, Any]:
    """Python, numpy and torch (CPU and CUDA) RNG states, in weights_only-loadable types."""
    np_state = np.random.get_state()
    return {
        "python": [list(x) if isinstance(x, tuple) else x for x in random.getstate()],
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(run: Path, state: TrainState, config: TrainConfig) -> Path:
    """Write ``<run>/checkpoints/latest.pt`` atomically (temp file, then rename)."""
    blob = {
        "format": FORMAT,
        "step": state.step,
        "config": config.to_dict(),
        "generator": unwrap(state.generator).state_dict(),
        "discriminator": _state(unwrap(state.discriminator)),
        "opt_g": state.opt_g.state_dict(),
        "opt_d": _state(state.opt_d),
        "sched_g": state.sched_g.state_dict(),
        "sched_d": _state(state.sched_d),
        "rng": rng_state(),
    }
    path = run / LATEST
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(blob, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint onto the CPU; a missing or foreign file raises `InputError`."""
    return read_torch_file(
        path, FORMAT, what="p2p-eval pix2pix checkpoint",
        fix=f"train the run first (`p2p-eval train ... --out {path.parent.parent}`), or delete a corrupt file and retrain.",
    )


def restore(blob: dict[str, Any], state: TrainState, config: TrainConfig, path: Path) -> None:
    """Load a checkpoint into `state` for resuming.

    Raises
    ------
    InputError
        If the checkpoint was made with another configuration; the message
        names both and the fix.
    """
    try:
        saved = TrainConfig.from_dict(blob["config"])
    except InputError as err:
        raise InputError(f"{path}: {err}") from None
    if saved != config:
        diff = {k: (v, getattr(config, k)) for k, v in vars(saved).items() if v != getattr(config, k)}
        raise InputError(
            f"{path}: the checkpoint was trained with another configuration "
            f"(saved vs requested: {diff}). Resume with the same options, or pass a new --out."
        )
    unwrap(state.generator).load_state_dict(blob["generator"])
    state.opt_g.load_state_dict(blob["opt_g"])
    state.sched_g.load_state_dict(blob["sched_g"])
    if state.discriminator is not None:
        unwrap(state.discriminator).load_state_dict(blob["discriminator"])
        state.opt_d.load_state_dict(blob["opt_d"])
        state.sched_d.load_state_dict(blob["sched_d"])
    set_rng_state(blob["rng"])
    state.step = blob["step"]
