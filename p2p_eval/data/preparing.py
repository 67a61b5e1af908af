"""Writing a prepared dataset: resizing, parallel frame writing, resuming.

Every `p2p-eval prepare` source (synthetic city, Cityscapes, pix2pix AB)
describes its frames as picklable jobs and a function that turns one job into
a `FrameArrays`; `prepare_frames` runs those functions over a process pool,
writes the three files of each frame atomically, skips frames already written
by an earlier, interrupted run, and shows a progress bar. ``dataset.json`` is
written last, so a folder without it is never mistaken for a finished dataset.
"""

import contextlib
import json
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from p2p_eval.data.files import read_json, write_json, write_png
from p2p_eval.data.outputs import check_output_path
from p2p_eval.data.prepared import KINDS, write_dataset_json
from p2p_eval.errors import InputError

log = logging.getLogger(__name__)

RESAMPLE_FILTERS = {"nearest": Image.Resampling.NEAREST, "bicubic": Image.Resampling.BICUBIC}
"""Pillow filters by the name recorded in ``dataset.json``'s ``resample``."""

PARAMS_FILE = ".prepare-params.json"
"""Parameters of a prepare run in progress; a resumed run must match them."""


@dataclass(frozen=True)
class FrameJob:
    """One frame to prepare: where it goes and what the source needs to make it.

    Attributes
    ----------
    split : str
        Split folder, e.g. ``"train"``.
    frame : str
        Frame id; the files are ``<out>/<split>/<frame>_<kind>.png``.
    args : tuple
        Source-specific, picklable arguments of the frame function.
    """

    split: str
    frame: str
    args: tuple = ()


@dataclass(frozen=True)
class FrameArrays:
    """The three images of one prepared frame.

    Attributes
    ----------
    photo : (S, S, 3) uint8 ndarray
        Photo at generation size.
    color : (S, S, 3) uint8 ndarray
        Colour label map at generation size.
    train_ids : (H, W) uint8 ndarray
        trainIds at evaluation resolution, 255 = ignore.
    stats : dict
        Numbers a source reports about the frame (summed by its `report`).
    """

    photo: np.ndarray
    color: np.ndarray
    train_ids: np.ndarray
    stats: dict = field(default_factory=dict)


def resize_rgb(image: np.ndarray, size: int, resample: str) -> np.ndarray:
    """Squash an RGB image to ``size x size`` (aspect ratio not kept, as pix2pix does).

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
    size : int
        Output side length.
    resample : {"nearest", "bicubic"}
        Pillow filter; "bicubic" is what ``Image.resize`` uses by default
        (Pillow >= 7), hence what the PyTorch pix2pix Cityscapes preparation uses.

    Returns
    -------
    resized : (size, size, 3) uint8 ndarray

    Examples
    --------
    >>> resize_rgb(np.zeros((4, 8, 3), np.uint8), 2, "nearest").shape
    (2, 2, 3)
    """
    if resample not in RESAMPLE_FILTERS:
        raise ValueError(f"Expected `resample` in {tuple(RESAMPLE_FILTERS)}, got {resample!r}.")
    if image.shape[:2] == (size, size):
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), RESAMPLE_FILTERS[resample]))


def resize_labels(labels: np.ndarray, size: int) -> np.ndarray:
    """Squash a label image to ``size x size`` with nearest neighbour (labels are never interpolated).

    Colourising the result equals nearest-resizing the colour map, at a
    fraction of the cost.

    Parameters
    ----------
    labels : (H, W) uint8 ndarray
    size : int

    Returns
    -------
    resized : (size, size) uint8 ndarray

    Examples
    --------
    >>> resize_labels(np.arange(8, dtype=np.uint8).reshape(2, 4), 2).tolist()
    [[1, 3], [5, 7]]
    """
    if labels.shape == (size, size):
        return labels
    return np.asarray(Image.fromarray(labels).resize((size, size), Image.Resampling.NEAREST))


def frame_paths(out: Path, job: FrameJob) -> dict[str, Path]:
    """The three output paths of a frame, by kind."""
    return {kind: out / job.split / f"{job.frame}_{kind}.png" for kind in KINDS}


def _is_complete(paths: dict[str, Path], image_size: int, label_size: tuple[int, int] | None) -> bool:
    """True when all three files exist, are whole PNGs, and have the expected mode and size.

    Files are renamed into place only once fully written, so damage comes
    from outside; ``verify`` reads every chunk and checks its CRC (a
    truncated or corrupted file fails) without decoding the pixels.
    """
    expected = {
        "photo": ("RGB", (image_size, image_size)),
        "color": ("RGB", (image_size, image_size)),
        "trainids": ("L", None if label_size is None else (label_size[1], label_size[0])),
    }
    for kind, path in paths.items():
        if not path.is_file():
            return False
        try:
            with Image.open(path) as image:
                mode, size = image.mode, image.size
                image.verify()
        except (OSError, SyntaxError, ValueError) as err:
            log.warning("%s: damaged (%s); rewriting it.", path, err)
            return False
        want_mode, want_size = expected[kind]
        if mode != want_mode or (want_size is not None and size != want_size):
            log.warning("%s: %s %s is not the expected %s %s; rewriting it.", path, mode, size, want_mode, want_size)
            return False
    return True


def _write_frame(paths: dict[str, Path], arrays: FrameArrays, image_size: int) -> None:
    for name, array in (("photo", arrays.photo), ("color", arrays.color)):
        assert array.shape == (image_size, image_size, 3), (name, array.shape)
    write_png(paths["photo"], arrays.photo)
    write_png(paths["color"], arrays.color)
    write_png(paths["trainids"], arrays.train_ids)


@dataclass(frozen=True)
class _Worker:
    """Picklable closure run in the pool: make one frame's arrays and write them."""

    make_frame: Callable[[FrameJob], FrameArrays]
    out: Path
    image_size: int

    def __call__(self, job: FrameJob) -> tuple[str, str, dict]:
        arrays = self.make_frame(job)
        _write_frame(frame_paths(self.out, job), arrays, self.image_size)
        return job.split, job.frame, arrays.stats


def _check_params(out: Path, params: dict[str, Any]) -> None:
    """Refuse to resume into a folder prepared with other parameters."""
    for name in ("dataset.json", PARAMS_FILE):
        path = out / name
        if not path.is_file():
            continue
        document = read_json(path)
        previous = document.get("source") if name == "dataset.json" else document
        if previous != json.loads(json.dumps(params)):  # as JSON: tuples read back as lists
            raise InputError(
                f"{path}: {out} was prepared with other parameters ({previous}); this run asks for "
                f"{params}. Use another --out, or delete {out} to start over."
            )


def prepare_frames(
    out: str | os.PathLike,
    jobs: Sequence[FrameJob],
    make_frame: Callable[[FrameJob], FrameArrays],
    *,
    meta: dict[str, Any],
    image_size: int,
    label_size: tuple[int, int] | None,
    workers: int = 1,
    progress: bool = True,
    report: Callable[[dict[tuple[str, str], dict]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Write every frame of `jobs` and then ``dataset.json``; resume where a run stopped.

    Parameters
    ----------
    out : path-like
        Output folder (created).
    jobs : sequence of FrameJob
        All frames of the dataset. Frame ids must be unique within a split.
    make_frame : callable
        Picklable top-level function ``FrameJob -> FrameArrays``; it must depend
        on the job alone, so the output does not depend on `workers`.
    meta : dict
        ``dataset.json`` fields other than splits and label size (name, source,
        resample, ...). ``meta["source"]`` identifies the parameters: resuming
        with other ones raises `InputError`.
    image_size : int
        Generation size S of photos and colour maps.
    label_size : (H, W) or None
        Expected trainIds size, or None when frames may differ.
    workers : int
        Processes; 1 runs in this process.
    progress : bool
        Show a tqdm bar on stderr.
    report : callable, optional
        ``report({(split, frame): stats}) -> fields`` for ``dataset.json``,
        given the `FrameArrays.stats` of the frames made in this run.

    Returns
    -------
    meta : dict
        The ``dataset.json`` document as written.

    Raises
    ------
    InputError
        If `out` or a split folder in it cannot be written (checked before any
        frame is made), if `out` holds a dataset prepared with other parameters, or a frame's
        input is bad (raised by `make_frame`; earlier frames stay written and a
        re-run resumes after the input is fixed).
    """
    from tqdm import tqdm

    out = Path(out)
    if workers < 1:
        raise ValueError(f"Expected `workers` >= 1, got {workers}.")
    for folder in (out, *sorted({out / job.split for job in jobs})):
        check_output_path(folder, folder=True)
    _check_params(out, meta["source"])
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / PARAMS_FILE, meta["source"])
    for stale in out.glob("*/.*.tmp"):  # left by a killed run; never renamed into place
        stale.unlink()

    todo = [job for job in jobs if not _is_complete(frame_paths(out, job), image_size, label_size)]
    if len(todo) < len(jobs):
        log.info("%s: %d of %d frames already written; preparing the other %d.", out, len(jobs) - len(todo), len(jobs), len(todo))
    worker = _Worker(make_frame, out, image_size)
    bar = tqdm(total=len(todo), desc=f"prepare {meta['name']}", unit="frame", disable=not progress)
    stats = {}
    with bar, contextlib.ExitStack() as stack:
        if workers == 1 or len(todo) <= 1:
            results = map(worker, todo)
        else:
            # Not forked: this process may hold threads (a progress bar's, a test runner's, torch's), and a
            # child forked while one of them holds a lock can wait on it forever. Python 3.14 made the
            # fork server Linux's default for the same reason.
            pool = stack.enter_context(multiprocessing.get_context("forkserver").Pool(workers))
            results = pool.imap_unordered(worker, todo, chunksize=max(1, len(todo) // (8 * workers)))
        for split, frame, frame_stats in results:
            stats[split, frame] = frame_stats
            bar.update()
    splits: dict[str, list[str]] = {}
    for job in jobs:
        splits.setdefault(job.split, []).append(job.frame)
    document = dict(meta)
    document["image_size"] = [image_size, image_size]
    document["label_size"] = list(label_size) if label_size is not None else _common_size(out, jobs)
    document["splits"] = splits
    if report is not None:
        document.update(report(stats))
    if (out / "dataset.json").is_file():
        # Same parameters (checked above), so the segmenter trained on it still scores it:
        # re-running prepare must not forget what `train-segmenter` recorded.
        document["segmenter"] = read_json(out / "dataset.json").get("segmenter")
    write_dataset_json(out, document)
    (out / PARAMS_FILE).unlink(missing_ok=True)
    return document


def _common_size(out: Path, jobs: Sequence[FrameJob]) -> list[int] | None:
    """The trainIds size shared by all frames (read from the PNG headers), or None."""
    sizes = set()
    for job in jobs:
        with Image.open(frame_paths(out, job)["trainids"]) as image:
            sizes.add((image.size[1], image.size[0]))
        if len(sizes) > 1:
            return None
    return list(sizes.pop()) if sizes else None
