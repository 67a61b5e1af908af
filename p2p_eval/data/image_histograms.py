"""Per-image Lab histograms of image files, cached per run folder.

The one place colorfulness reads images: `image_histogram` is the per-image
state, `cached_histograms` wraps it with `p2p_eval.cache`, so re-runs and
interrupted runs compute only images not seen before (keyed by content).
"""

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from p2p_eval.cache import ItemCache, file_digest
from p2p_eval.data.files import read_rgb
from p2p_eval.metrics.colorfulness import Binning, lab_histograms

log = logging.getLogger(__name__)

_CACHE_BATCH = 32  # images per cache transaction: an interrupt loses at most this many


def image_histogram(path: Path, binning: Binning, size: tuple[int, int] | None = None) -> np.ndarray:
    """Lab histogram of one image file: the per-image state the cache stores.

    Parameters
    ----------
    path : Path
        An sRGB image; greyscale, palette and RGBA images are converted to RGB
        with a warning (`p2p_eval.data.files.read_rgb`).
    binning : Binning
    size : (H, W) or None
        Resize to this size (Pillow bilinear) when the image differs; None
        keeps the image as it is.

    Returns
    -------
    counts : (binning.total,) int64 ndarray
    """
    rgb = read_rgb(path)
    if size is not None and rgb.shape[:2] != tuple(size):
        rgb = np.asarray(Image.fromarray(rgb).resize((size[1], size[0]), Image.Resampling.BILINEAR))
    return lab_histograms([rgb], binning)


def cached_histograms(
    paths: Sequence[Path],
    cache: ItemCache,
    binning: Binning,
    size: tuple[int, int] | None,
    *,
    workers: int = 1,
    desc: str = "colorfulness",
    progress: bool = True,
) -> np.ndarray:
    """Per-image histograms, computing only the images the cache lacks.

    Returns
    -------
    counts : (len(paths), binning.total) int64 ndarray
        In the order of `paths`.
    """
    digests = [file_digest(p) for p in paths]
    found = cache.get_many(digests)
    todo = sorted({d: i for i, d in enumerate(digests) if d not in found}.values())
    if todo:
        log.debug("%s: %d of %d image(s) cached, computing %d.", desc, len(paths) - len(todo), len(paths), len(todo))
    with tqdm(total=len(todo), desc=desc, unit="img", disable=not (todo and progress)) as bar, ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(todo), _CACHE_BATCH):
            batch = todo[start : start + _CACHE_BATCH]
            computed = dict(zip(
                (digests[i] for i in batch),
                pool.map(lambda i: image_histogram(paths[i], binning, size), batch),
            ))
            cache.put_many(computed)
            found.update(computed)
            bar.update(len(batch))
    return np.stack([found[d] for d in digests]).astype(np.int64)


def resized_images(paths: Sequence[Path], size: tuple[int, int]) -> list[Path]:
    """The images whose size differs from `size` (read from the headers only)."""
    different = []
    for path in paths:
        try:
            with Image.open(path) as image:
                shape = (image.height, image.width)
        except (OSError, ValueError, SyntaxError):
            read_rgb(path)  # raises InputError naming the file and the fix
            raise
        if shape != tuple(size):
            different.append(path)
    return different
