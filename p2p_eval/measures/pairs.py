"""A generated image and its frame's real photo, pixel-aligned: what LPIPS, PSNR and SSIM compare."""

from pathlib import Path

import numpy as np

from p2p_eval.data.files import decode_rgb, read_rgb
from p2p_eval.errors import InputError
from p2p_eval.measures.base import Frame


def read_pair(image: Path, frame: Frame, *, min_side: int, reader: str) -> tuple[np.ndarray, np.ndarray, str]:
    """The generated image and the real photo of its frame, of one size, at least `min_side` pixels a side.

    Parameters
    ----------
    image : Path
        The generated image.
    frame : Frame
    min_side : int
        The smallest height and width the measure reads (SSIM's window, LPIPS's backbone).
    reader : str
        What needs `min_side`, for the message ("SSIM's 11x11 Gaussian window").

    Returns
    -------
    generated, real : (H, W, 3) uint8 ndarray
    mode : str
        The generated image's Pillow mode before conversion to RGB.

    Raises
    ------
    InputError
        If either file is unreadable, the sizes differ (these measures compare
        pixels, and a resize would change every number, so none is made), or a
        side is under `min_side` (else a traceback mid-run).
    """
    generated, mode = decode_rgb(image)
    real = read_rgb(frame.path("photo"))
    if generated.shape != real.shape:
        (h, w), (rh, rw) = generated.shape[:2], real.shape[:2]
        raise InputError(
            f"{image}: {w}x{h} pixels, but its real photo {frame.path('photo')} is {rw}x{rh}. LPIPS, PSNR and SSIM "
            "compare pixel-aligned images, so p2p-eval does not resize for them: generate the images at the "
            "dataset's size (PyTorch pix2pix: test.py --load_size 256 --crop_size 256).")
    if min(real.shape[:2]) < min_side:
        raise InputError(f"{image}: {real.shape[1]}x{real.shape[0]} pixels, smaller than {reader} reads: at least "
                         f"{min_side} pixels on each side.")
    return generated, real, mode
