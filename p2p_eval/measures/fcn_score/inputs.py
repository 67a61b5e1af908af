"""What FCN-score and label-score read: trainIds, and images brought to label resolution.

These run in the session's decoding threads (numpy and Pillow, no torch), so
decoding and resizing overlap the segmenter.
"""

import functools
from pathlib import Path

import numpy as np
from PIL import Image

from p2p_eval.classes import IGNORE, NUM_CLASSES
from p2p_eval.data.files import decode_rgb, image_size, read_label_png
from p2p_eval.errors import InputError

RESIZE_KERNEL = "pillow-bilinear-uint8"
"""Generated images are resized with Pillow's BILINEAR filter on uint8 RGB: what
``scipy.misc.imresize(im, (H, W))`` did (its default interp, via
``Image.resize``) in the official pix2pix evaluation. Different kernels give
different FCN-scores (pytorch-CycleGAN-and-pix2pix PR #1190)."""


def resize_bilinear(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``scipy.misc.imresize(rgb, size)``: Pillow bilinear on uint8.

    Parameters
    ----------
    rgb : (h, w, 3) uint8 ndarray
    size : (H, W)

    Returns
    -------
    resized : (H, W, 3) uint8 ndarray
        `rgb` itself when it already has that size.
    """
    if rgb.shape[:2] == tuple(size):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((size[1], size[0]), Image.Resampling.BILINEAR))


def photo_input(path: Path, size: tuple[int, int]) -> tuple[np.ndarray, str]:
    """A generated photo at label size: ((3, H, W) uint8 RGB, the file's mode before conversion)."""
    rgb, mode = decode_rgb(path)
    return np.ascontiguousarray(resize_bilinear(rgb, size).transpose(2, 0, 1)), mode


def read_train_ids(path: Path) -> np.ndarray:
    """A prepared ``*_trainids.png``, checked to hold only 0..18 and 255."""
    labels = read_label_png(path)
    bad = (labels >= NUM_CLASSES) & (labels != IGNORE)
    if bad.any():
        raise InputError(
            f"{path}: holds values {np.unique(labels[bad])[:5].tolist()}, not trainIds (0..{NUM_CLASSES - 1}, "
            f"{IGNORE}); it may be a labelIds map. Re-prepare the dataset with `p2p-eval prepare`."
        )
    return labels


def labelled_pixels(path: Path) -> int:
    """Pixels of a prepared ``*_trainids.png`` that are not ignored: what its confusion must count.

    Read once per process for an unchanged file (every run is checked against the same frames).
    """
    info = path.stat() if path.is_file() else None
    return _labelled_once(path, info.st_mtime_ns if info else 0, info.st_size if info else 0)


@functools.lru_cache(maxsize=16384)
def _labelled_once(path: Path, mtime_ns: int, size: int) -> int:
    return int((read_train_ids(path) != IGNORE).sum())


def label_size(path: Path) -> tuple[int, int]:
    """(H, W) of a label PNG from its header, without decoding it."""
    if not path.is_file():
        raise InputError(f"{path}: label map not found; re-run `p2p-eval prepare` (it resumes).")
    return image_size(path)
