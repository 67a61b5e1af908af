"""Looking at a prepared dataset: a picture grid and the share of each class."""

import logging

import numpy as np

from p2p_eval.classes import CLASS_NAMES, IGNORE, NUM_CLASSES, colorize
from p2p_eval.data.files import read_label_png, read_rgb
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.data.preparing import resize_labels
from p2p_eval.errors import InputError

log = logging.getLogger(__name__)

GAP = 4
"""White pixels between the tiles of the grid."""


def pick_frames(dataset: PreparedDataset, split: str, count: int) -> list[str]:
    """`count` frames spread evenly over the sorted frames of `split` (all if fewer)."""
    frames = dataset.frames(split)
    if count >= len(frames):
        return list(frames)
    return [frames[i] for i in np.linspace(0, len(frames) - 1, count).round().astype(int)]


def frame_grid(dataset: PreparedDataset, split: str, frames: list[str]) -> np.ndarray:
    """One row per frame: photo | colour label map | trainIds drawn in colour.

    The third tile is the evaluation labels squashed (nearest) to the photo
    size, to check that photo, input and ground truth line up.

    Returns
    -------
    grid : (n * (S + GAP) - GAP, 3 * S + 2 * GAP, 3) uint8 ndarray
    """
    rows = []
    for frame in frames:
        photo = read_rgb(dataset.path(split, frame, "photo"))
        color = read_rgb(dataset.path(split, frame, "color"))
        size = photo.shape[0]
        truth = colorize(resize_labels(read_label_png(dataset.path(split, frame, "trainids")), size))
        gap = np.full((size, GAP, 3), 255, np.uint8)
        rows.append(np.concatenate([photo, gap, color, gap, truth], axis=1))
        rows.append(np.full((GAP, rows[-1].shape[1], 3), 255, np.uint8))
    return np.concatenate(rows[:-1], axis=0)


def class_shares(dataset: PreparedDataset, split: str, *, progress: bool = True) -> dict[str, float]:
    """Fraction of the labelled pixels of `split` in each train class, plus the ignored fraction.

    Returns
    -------
    shares : dict
        ``{class name: fraction of non-ignored pixels}`` for the 19 classes and
        ``"(ignored)"``: fraction of all pixels that are 255.

    Raises
    ------
    InputError
        If a trainIds file is unreadable, not single-channel 8-bit, or holds
        values that are no trainId (named with the file).
    """
    from tqdm import tqdm

    counts = np.zeros(256, np.int64)
    for frame in tqdm(dataset.frames(split), desc=f"count {split}", unit="frame", disable=not progress):
        path = dataset.path(split, frame, "trainids")
        frame_counts = np.bincount(read_label_png(path).ravel(), minlength=256)
        invalid = np.flatnonzero(frame_counts[NUM_CLASSES:IGNORE]) + NUM_CLASSES
        if invalid.size:
            raise InputError(
                f"{path}: values {invalid[:5].tolist()} are no trainIds (0-{NUM_CLASSES - 1}, {IGNORE} = ignore); "
                "re-run the `p2p-eval prepare` command that made this dataset."
            )
        counts += frame_counts
    labelled = counts[:NUM_CLASSES].sum()
    shares = {name: counts[i] / labelled if labelled else 0.0 for i, name in enumerate(CLASS_NAMES)}
    shares["(ignored)"] = counts[IGNORE] / counts.sum() if counts.sum() else 0.0
    return shares
