"""Per-image Lab histograms of image files: the state colorfulness keeps of each frame.

The one place colorfulness reads images. `image_histogram` runs in the
session's decoding threads (Pillow and numpy release the GIL); the session
caches its result per image (keyed by content) and commits every
`_CACHE_BATCH` images, so re-runs and interrupted runs compute only images
not seen before.
"""

from pathlib import Path

import numpy as np
from PIL import Image

from p2p_eval.data.files import decode_rgb
from p2p_eval.metrics.colorfulness import Binning, lab_histograms

_CACHE_BATCH = 32  # images per cache transaction: an interrupt loses at most this many


def image_histogram(path: Path, binning: Binning, size: tuple[int, int] | None = None) -> tuple[np.ndarray, str]:
    """Lab histogram of one image file: the per-image state the cache stores.

    Parameters
    ----------
    path : Path
        An sRGB image; other modes are converted to 8-bit RGB as
        `p2p_eval.data.modes.CONVERSIONS` says (the session counts them in one warning).
    binning : Binning
    size : (H, W) or None
        Resize to this size (Pillow bilinear) when the image differs; None
        keeps the image as it is.

    Returns
    -------
    counts : (binning.total,) int64 ndarray
    mode : str
        The file's Pillow mode before conversion.
    """
    rgb, mode = decode_rgb(path)
    if size is not None and rgb.shape[:2] != tuple(size):
        rgb = np.asarray(Image.fromarray(rgb).resize((size[1], size[0]), Image.Resampling.BILINEAR))
    return lab_histograms([rgb], binning), mode
