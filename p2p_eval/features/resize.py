"""How an image becomes the Inception's 299x299 input: the resize protocols.

Resizing is where FID numbers disagree between tools (Parmar et al., "On
Aliased Resizing and Surprising Subtleties in GAN Evaluation", CVPR 2022). Each
protocol here reproduces one tool exactly, and is named after it:

``"clean"`` (default)
    clean-fid's "clean" mode: each channel of the uint8 image, as float32, is
    resized by PIL bicubic (antialiased) and clipped to [0, 255]; no rounding.
    It follows ``cleanfid/resize.py`` (``make_resizer("PIL", False, "bicubic",
    (299, 299))``)::

        img = Image.fromarray(x_np.astype(np.float32), mode='F')
        img = img.resize(output_size, resample=name_to_filter[filter])
        return np.asarray(img).clip(0, 255).reshape(s2, s1, 1)

    then clean-fid's network input ``(x - 128) / 128``.
``"legacy-tf1"``
    torch-fidelity's (and torchmetrics') in-network resize, TensorFlow 1.x
    bilinear without antialiasing (``interpolate_bilinear_2d_like_tensorflow1x(x,
    size=(299, 299), align_corners=False)`` on uint8 values as float32), then
    ``(x - 128) / 128``: what the original TTUR FID code and torch-fidelity report.
``"legacy-pytorch-fid"``
    pytorch-fid's in-network resize: ``F.interpolate(x / 255, size=(299, 299),
    mode='bilinear', align_corners=False)`` then ``2 * x - 1``; also clean-fid's
    "legacy_pytorch" mode.

Every protocol maps each (H, W, 3) uint8 image to a (3, 299, 299) float32
tensor in the network's input range on its own, so an image's features never
depend on the other images of its batch or on their sizes.
"""

import itertools
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

from p2p_eval.features.names import DEFAULT_PROTOCOL, PROTOCOLS

INCEPTION_SIZE = 299


def clean_resize(image: np.ndarray, size: int = INCEPTION_SIZE) -> np.ndarray:
    """clean-fid's "clean" resize of one image.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
    size : int, optional
        Output height and width.

    Returns
    -------
    resized : (size, size, 3) float32 ndarray
        Values in [0, 255], not rounded.

    Raises
    ------
    ValueError
        If `image` is not (H, W, 3) uint8.

    Examples
    --------
    >>> clean_resize(np.full((8, 6, 3), 7, np.uint8)).shape
    (299, 299, 3)
    """
    _check_image(image)
    channels = []
    for c in range(3):
        plane = Image.fromarray(image[:, :, c].astype(np.float32), mode="F")
        channels.append(np.asarray(plane.resize((size, size), resample=Image.BICUBIC)).clip(0, 255))
    return np.stack(channels, axis=2).astype(np.float32)


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        described = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image)
        raise ValueError(f"Expected an (H, W, 3) uint8 RGB image, got {described}.")


def check_protocol(protocol: str) -> None:
    """Raise ValueError unless `protocol` is one of `PROTOCOLS`."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"Expected `protocol` in {PROTOCOLS}, got {protocol!r}.")


def inception_batch(
    images: Sequence[np.ndarray], protocol: str = DEFAULT_PROTOCOL, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Images as the FID Inception's input batch under a resize protocol.

    Parameters
    ----------
    images : sequence of (H, W, 3) uint8 ndarray
        RGB; sizes may differ.
    protocol : {"clean", "legacy-tf1", "legacy-pytorch-fid"}, optional
        See the module docstring.
    device : torch.device or str, optional
        Where the legacy protocols resize (the clean one resizes with PIL on the CPU).

    Returns
    -------
    x : (N, 3, 299, 299) float32 tensor on `device`, contiguous
        Ready for the network's first convolution (range about [-1, 1]). Each
        image is resized on its own (the legacy protocols batch consecutive
        images of one size: the same numbers, fewer calls).

    Raises
    ------
    ValueError
        If an image is not (H, W, 3) uint8, `images` is empty, or `protocol` is unknown.
    """
    for image in images:
        _check_image(image)
    check_protocol(protocol)
    if len(images) == 0:
        raise ValueError("Expected at least one image, got none.")
    # NCHW contiguous throughout: a channels-last view would change which
    # convolution kernels run, and the features in their last bits.
    if protocol == "clean":
        x = torch.from_numpy(np.stack([clean_resize(image) for image in images])).permute(0, 3, 1, 2)
        return (x.contiguous().to(device) - 128) / 128
    parts = []
    for _, group in itertools.groupby(images, key=lambda image: image.shape):
        x = torch.from_numpy(np.stack(list(group))).permute(0, 3, 1, 2).contiguous().to(device, torch.float32)
        if protocol == "legacy-tf1":
            x = interpolate_bilinear_2d_like_tensorflow1x(x, size=(INCEPTION_SIZE, INCEPTION_SIZE), align_corners=False)
            parts.append((x - 128) / 128)
        else:
            x = F.interpolate(x / 255, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False)
            parts.append(2 * x - 1)
    return torch.cat(parts)
