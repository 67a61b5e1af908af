"""Weights files of the real architectures with random values, made by the tests.

The published weights cannot be downloaded here; a file of the right names and
shapes with random values exercises every layer the same way, and lets the
tests load one file into p2p-eval and into the reference library alike.
"""

from pathlib import Path

import torch

from p2p_eval.features.weights import ARCHITECTURES


def random_state_dict(architecture: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """He-scaled random weights, BatchNorm statistics near identity, so activations stay O(1)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.device("meta"):
        shapes = {name: t for name, t in ARCHITECTURES[architecture]().state_dict().items()}
    state = {}
    for name, meta in shapes.items():
        shape = tuple(meta.shape)
        if name.endswith("num_batches_tracked"):
            state[name] = torch.zeros((), dtype=torch.long)
        elif name.endswith("running_var") or (name.endswith("weight") and len(shape) == 1):
            state[name] = 0.5 + torch.rand(shape, generator=generator)
        elif name.endswith(("running_mean", "bias")):
            state[name] = 0.05 * torch.randn(shape, generator=generator)
        else:
            fan_in = max(1, int(torch.tensor(shape[1:]).prod()))
            state[name] = torch.randn(shape, generator=generator) * (2.0 / fan_in) ** 0.5
    return state


def write_random_weights(path: Path, architecture: str, seed: int = 0, *, drop_step_counters: bool = False) -> Path:
    """Save `random_state_dict` as a plain ``torch.save`` file (optionally without BatchNorm step counters)."""
    state = random_state_dict(architecture, seed)
    if drop_step_counters:
        state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


class NetworkBlocked(AssertionError):
    """Raised by any attempt to open a network connection while `block_network` is active."""


def block_network(monkeypatch) -> None:
    """Make every socket connection and name lookup fail, as on a machine without internet."""
    import socket

    def refuse(*args, **kwargs):
        raise NetworkBlocked(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
