"""Reading the official Cityscapes layout and preparing it for p2p-eval.

::

    <root>/leftImg8bit/<split>/<city>/<frame>_leftImg8bit.png      photo, 2048x1024 RGB
    <root>/gtFine/<split>/<city>/<frame>_gtFine_labelIds.png       labelIds, 8-bit single channel

with ``<frame> = <city>_<seq>_<frame>``. Preparing maps labelIds to trainIds
with the lookup table of `p2p_eval.classes` and keeps them at full
resolution (evaluation labels are never resized); the photo is squashed to
the generation size with bicubic resampling, which is what the PyTorch
pix2pix preparation gets from Pillow's default ``resize``; the colour label
map is drawn from the trainIds and squashed with nearest neighbour (or
bicubic, to match that preparation, which resizes ``*_gtFine_color.png``).
"""

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from p2p_eval.classes import colorize, label_ids_to_train_ids
from p2p_eval.data.files import read_label_png, read_rgb
from p2p_eval.data.preparing import (RESAMPLE_FILTERS, FrameArrays, FrameJob, prepare_frames, resize_labels,
                                     resize_rgb)
from p2p_eval.errors import InputError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
PHOTO_DIR, LABEL_DIR = "leftImg8bit", "gtFine"
PHOTO_SUFFIX, LABEL_SUFFIX = "_leftImg8bit.png", "_gtFine_labelIds.png"


@dataclass(frozen=True)
class CityscapesConfig:
    """What `p2p-eval prepare cityscapes` makes.

    Attributes
    ----------
    size : int
        Generation size S (photos and colour maps are S x S).
    splits : tuple of str
        Splits to prepare, from `SPLITS`.
    photo_resample, color_resample : {"nearest", "bicubic"}
        Filters for squashing photos and colour label maps.
    """

    size: int = 256
    splits: tuple[str, ...] = ("train", "val")
    photo_resample: str = "bicubic"
    color_resample: str = "nearest"

    def __post_init__(self) -> None:
        if self.size < 16:
            raise ValueError(f"Expected `size` >= 16, got {self.size}.")
        if not self.splits or any(s not in SPLITS for s in self.splits) or len(set(self.splits)) < len(self.splits):
            raise ValueError(f"Expected `splits` to be distinct names from {SPLITS}, got {self.splits}.")
        for name in ("photo_resample", "color_resample"):
            if getattr(self, name) not in RESAMPLE_FILTERS:
                raise ValueError(f"Expected `{name}` in {tuple(RESAMPLE_FILTERS)}, got {getattr(self, name)!r}.")


def _frames_in(folder: Path, suffix: str) -> dict[str, Path]:
    return {path.name[: -len(suffix)]: path for path in sorted(folder.glob(f"*/*{suffix}"))}


def _listing(paths: list[Path], limit: int = 5) -> str:
    shown = "\n  ".join(str(p) for p in paths[:limit])
    more = f"\n  ... and {len(paths) - limit} more" if len(paths) > limit else ""
    return f"\n  {shown}{more}\n"


def find_frames(root: str | Path, split: str) -> list[tuple[str, Path, Path]]:
    """Pair the photos and labelIds of one split.

    Returns
    -------
    frames : list of (frame_id, photo_path, label_path), sorted by frame id

    Raises
    ------
    InputError
        If a split folder is missing, holds no frames, or a photo lacks its
        labels or labels lack their photo (each named).
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder. Pass --root the folder holding leftImg8bit/ and gtFine/.")
    folders = {kind: root / kind / split for kind in (PHOTO_DIR, LABEL_DIR)}
    for kind, folder in folders.items():
        if not folder.is_dir():
            archive = "leftImg8bit_trainvaltest.zip" if kind == PHOTO_DIR else "gtFine_trainvaltest.zip"
            raise InputError(
                f"{folder}: missing. Cityscapes' official layout has {kind}/{split}/<city>/ below --root; "
                f"unzip {archive} into {root}, or leave out split {split!r} with --splits."
            )
    photos = _frames_in(folders[PHOTO_DIR], PHOTO_SUFFIX)
    labels = _frames_in(folders[LABEL_DIR], LABEL_SUFFIX)
    if not photos and not labels:
        raise InputError(f"{folders[PHOTO_DIR]}: no <city>/*{PHOTO_SUFFIX} files; is this the right --root?")
    unlabelled = [photos[f] for f in sorted(photos.keys() - labels.keys())]
    if unlabelled:
        raise InputError(
            f"{len(unlabelled)} photo(s) have no *{LABEL_SUFFIX} in {folders[LABEL_DIR]}:{_listing(unlabelled)}"
            "Restore the missing label files (gtFine_trainvaltest.zip) or remove those photos."
        )
    orphans = [labels[f] for f in sorted(labels.keys() - photos.keys())]
    if orphans:
        raise InputError(
            f"{len(orphans)} label file(s) have no *{PHOTO_SUFFIX} in {folders[PHOTO_DIR]}:{_listing(orphans)}"
            "Restore the missing photos (leftImg8bit_trainvaltest.zip) or remove those label files."
        )
    return [(frame, photos[frame], labels[frame]) for frame in sorted(photos)]


def read_train_ids(path: str | Path) -> np.ndarray:
    """Read a ``*_gtFine_labelIds.png`` and map it to trainIds.

    Returns
    -------
    train_ids : (H, W) uint8 ndarray

    Raises
    ------
    InputError
        If the file is unreadable, not single-channel 8-bit, or holds a value
        that is no Cityscapes labelId.
    """
    label_ids = read_label_png(path)
    try:
        return label_ids_to_train_ids(label_ids)
    except ValueError as err:
        raise InputError(
            f"{path}: {err} This is not an official labelIds image; regenerate it with cityscapesScripts' "
            "json2labelImg (labelIds, not trainIds or instanceIds)."
        ) from None


def _cityscapes_frame(job: FrameJob) -> FrameArrays:
    photo_path, label_path, size, photo_resample, color_resample = job.args
    photo = read_rgb(photo_path)
    train_ids = read_train_ids(label_path)
    if photo.shape[:2] != train_ids.shape:
        raise InputError(
            f"{photo_path}: {photo.shape[1]}x{photo.shape[0]} photo, but its labels {label_path} are "
            f"{train_ids.shape[1]}x{train_ids.shape[0]}; the pair must come from the same Cityscapes release."
        )
    if color_resample == "nearest":
        color = colorize(resize_labels(train_ids, size))  # same pixels as nearest-resizing the colour map
    else:
        color = resize_rgb(colorize(train_ids), size, color_resample)
    return FrameArrays(photo=resize_rgb(photo, size, photo_resample), color=color, train_ids=train_ids)


def prepare_cityscapes(root: str | Path, out: str | Path, config: CityscapesConfig, *, workers: int = 1,
                       progress: bool = True) -> dict[str, Any]:
    """Prepare the Cityscapes splits of `config` into `out` (resumable); return its ``dataset.json``.

    Every split is paired and checked before any frame is written.
    """
    root = Path(root).resolve()
    pairs = {split: find_frames(root, split) for split in config.splits}
    args = (config.size, config.photo_resample, config.color_resample)
    jobs = [FrameJob(split, frame, (str(photo), str(labels), *args))
            for split, frames in pairs.items() for frame, photo, labels in frames]
    meta = {
        "name": "cityscapes",
        "resample": {
            "photo": config.photo_resample,
            "color": f"{config.color_resample} (colour map drawn from trainIds: 19 train colours, ignored pixels black)",
            "trainids": "none (full resolution, labelIds mapped with the official table)",
        },
        "source": {"kind": "cityscapes", "root": str(root), "splits": list(config.splits), "size": config.size,
                   "photo_resample": config.photo_resample, "color_resample": config.color_resample},
    }
    return prepare_frames(out, jobs, _cityscapes_frame, meta=meta, image_size=config.size, label_size=None,
                          workers=workers, progress=progress)
