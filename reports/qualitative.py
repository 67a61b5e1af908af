"""The qualitative grid: the same frames across runs, like the paper's figures.

Each row is one frame: the input label map, every run's output, the real
photo, thumbnailed into the report folder so it can be zipped and shared.
"""

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from p2p_eval.data.files import read_rgb, write_png
from p2p_eval.data.matching import match_frames
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.data.runs import Run
from p2p_eval.errors import InputError

log = logging.getLogger(__name__)

THUMBNAIL_HEIGHT = 160


@dataclass(frozen=True)
class GridRow:
    frame: str
    images: tuple[str | None, ...]  # paths relative to the report folder; None: the run lacks the frame


def choose_frames(frames: tuple[str, ...], n_frames: int) -> list[str]:
    """`n_frames` frames spread evenly over the sorted split (deterministic).

    Examples
    --------
    >>> choose_frames(("a", "b", "c", "d", "e"), 3)
    ['a', 'c', 'e']
    """
    if n_frames >= len(frames):
        return list(frames)
    positions = np.linspace(0, len(frames) - 1, n_frames).round().astype(int)
    return [frames[p] for p in dict.fromkeys(positions.tolist())]


def thumbnail(rgb: np.ndarray, height: int = THUMBNAIL_HEIGHT) -> np.ndarray:
    """Resize to `height` rows, keeping the aspect ratio (Lanczos).

    Parameters
    ----------
    rgb : (H, W, 3) uint8 ndarray

    Returns
    -------
    small : (height, round(W * height / H), 3) uint8 ndarray
    """
    h, w = rgb.shape[:2]
    size = (max(1, round(w * height / h)), height)
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


def _run_images(run: Run, dataset: PreparedDataset, split: str) -> dict[str, Path]:
    """The run's images of the split's frames; a run without them gets an empty grid column and a warning."""
    try:
        return dict(match_frames(run, dataset.frames(split), split, allow_missing=True, dataset=dataset))
    except InputError as err:
        log.warning("qualitative grid: %s", err)
        return {}


def write_grid(
    out: str | os.PathLike, dataset: PreparedDataset, runs: list[Run], *, split: str, n_frames: int
) -> list[GridRow]:
    """Write the grid's thumbnails under ``<out>/frames/`` and return its rows.

    Columns: input labels, each run in order, real photo.

    Raises
    ------
    InputError
        If the split is unknown or its files are missing.
    """
    out = Path(out)
    dataset.check_files(split)
    frames = choose_frames(dataset.frames(split), n_frames)
    # Matched against the whole split, so the frames left out of the grid are not reported missing.
    run_images = [_run_images(run, dataset, split) for run in runs]
    rows = []
    for frame in frames:
        sources = [dataset.path(split, frame, "color")]
        sources += [images.get(frame) for images in run_images]
        sources.append(dataset.path(split, frame, "photo"))
        relative = []
        for column, source in enumerate(sources):
            if source is None:
                relative.append(None)
                continue
            target = Path("frames") / frame / f"{column:02d}.png"
            write_png(out / target, thumbnail(read_rgb(source)))
            relative.append(target.as_posix())
        rows.append(GridRow(frame, tuple(relative)))
    return rows
