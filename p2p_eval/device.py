"""Choosing the torch device, once, at the edge."""

import contextlib
from collections.abc import Iterator

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


@contextlib.contextmanager
def exact_fp32() -> Iterator[None]:
    """TF32 off inside: cuDNN and cuBLAS would otherwise run float32 convolutions and matrix
    products with 10-bit mantissas on Ampere and later GPUs, so features would depend on the
    GPU model (the CPU runs full fp32)."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
