"""Choosing the torch device, once, at the edge."""

import torch

DEVICES = ("auto", "cpu", "cuda")


def pick_device(requested: str = "auto") -> torch.device:
    """The device to run on: CUDA when present for "auto", else what was asked.

    Raises
    ------
    ValueError
        If `requested` is unknown, or CUDA is requested but not available.
    """
    kind = requested.split(":")[0]
    if kind not in DEVICES:
        raise ValueError(f"Expected a device in {DEVICES} (or cuda:N), got {requested!r}.")
    if kind == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but torch sees no CUDA device; use --device cpu.")
    return torch.device(requested)
