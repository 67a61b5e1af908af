"""Reading the official Cityscapes layout and preparing it for p2p-eval.

::

    <root>/leftImg8bit/<split>/<city>/<frame>_leftImg8bit.png      photo, 2048x1024 RGB
    <root>/gtFine/<split>/<city>/<frame>_gtFine_labelIds.png       labelIds, 8-bit single channel
    <root>/gtFine/<split>/<city>/<frame>_gtFine_color.png          every label id coloured (RGBA)

with ``<frame> = <city>_<seq>_<frame>``. Preparing maps labelIds to trainIds
with the lookup table of `p2p_eval.classes` and keeps them at full
resolution (evaluation labels are never resized). The photo and the colour
label map (the generator's input) are made in one of two ways (`LIKE`):

``pytorch-pix2pix`` (default)
    byte for byte what PyTorch pix2pix's ``datasets/prepare_cityscapes_dataset.py``
    gives its trainer: ``*_gtFine_color.png`` (29 distinct label colours) and
    the photo, each ``Image.open(path).convert('RGB').resize((256, 256))``
    (Pillow's default filter: bicubic), pasted side by side, saved as JPEG
    ``subsampling=0, quality=100`` and decoded again; stored losslessly.
``clean``
    the photo squashed bicubic (no JPEG); the colour map drawn from the
    trainIds (19 train colours, every other label black), squashed nearest
    (or bicubic with ``color_resample``).
"""

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import PIL
from PIL import Image

from p2p_eval.classes import LABELS, colorize, label_ids_to_train_ids
from p2p_eval.data.files import decode_rgb, read_label_png, read_rgb
from p2p_eval.data.preparing import (RESAMPLE_FILTERS, FrameArrays, FrameJob, prepare_frames, resize_labels,
                                     resize_rgb)
from p2p_eval import __version__
from p2p_eval.errors import InputError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
PHOTO_DIR, LABEL_DIR = "leftImg8bit", "gtFine"
PHOTO_SUFFIX, LABEL_SUFFIX, COLOR_SUFFIX = "_leftImg8bit.png", "_gtFine_labelIds.png", "_gtFine_color.png"
LIKE = ("pytorch-pix2pix", "clean")
"""How photos and colour label maps are made (module docstring); trainIds are the same in both."""

PYTORCH_JPEG = {"format": "JPEG", "subsampling": 0, "quality": 100}
"""prepare_cityscapes_dataset.py: ``sidebyside.save(savepath, format='JPEG', subsampling=0, quality=100)``."""
PYTORCH_PHASE = {"train": "train", "val": "test"}
"""The script's output folders: ``save_phase = 'test' if phase == 'val' else 'train'`` (no test split)."""

LABEL_ID_COLORS = np.zeros((256, 3), np.uint8)
"""``*_gtFine_color.png`` colour of each labelId (cityscapesScripts json2labelImg draws both from one table)."""
LABEL_ID_COLORS[[c.id for c in LABELS if c.id >= 0]] = [c.color for c in LABELS if c.id >= 0]


@dataclass(frozen=True)
class CityscapesConfig:
    """What `p2p-eval prepare cityscapes` makes.

    Attributes
    ----------
    size : int
        Generation size S (photos and colour maps are S x S).
    splits : tuple of str
        Splits to prepare, from `SPLITS`.
    like : {"pytorch-pix2pix", "clean"}
        How photos and colour maps are made (module docstring).
    color_resample : {"nearest", "bicubic"} or None
        ``clean`` only: the filter squashing the colour map (None: nearest).
    """

    size: int = 256
    splits: tuple[str, ...] = ("train", "val")
    like: str = "pytorch-pix2pix"
    color_resample: str | None = None

    def __post_init__(self) -> None:
        if self.size < 16:
            raise ValueError(f"Expected `size` >= 16, got {self.size}.")
        if not self.splits or any(s not in SPLITS for s in self.splits) or len(set(self.splits)) < len(self.splits):
            raise ValueError(f"Expected `splits` to be distinct names from {SPLITS}, got {self.splits}.")
        if self.like not in LIKE:
            raise ValueError(f"Expected `like` in {LIKE}, got {self.like!r}.")
        if self.color_resample is not None and self.like != "clean":
            raise ValueError(f"Expected no `color_resample` with like={self.like!r}: the colour maps are made as the "
                             "PyTorch preparation makes them; it applies to like='clean'.")
        if self.color_resample not in (None, *RESAMPLE_FILTERS):
            raise ValueError(f"Expected `color_resample` in {tuple(RESAMPLE_FILTERS)}, got {self.color_resample!r}.")


class CityscapesFrame(NamedTuple):
    """The files of one frame: photo, labelIds and (when asked for) the colour map."""

    frame: str
    photo: Path
    labels: Path
    color: Path | None


def _frames_in(folder: Path, suffix: str) -> dict[str, Path]:
    return {path.name[: -len(suffix)]: path for path in sorted(folder.glob(f"*/*{suffix}"))}


def _listing(paths: list[Path], limit: int = 5) -> str:
    shown = "\n  ".join(str(p) for p in paths[:limit])
    more = f"\n  ... and {len(paths) - limit} more" if len(paths) > limit else ""
    return f"\n  {shown}{more}\n"


def find_frames(root: str | Path, split: str, *, colors: bool = False) -> list[CityscapesFrame]:
    """Pair the photos and labelIds (and with `colors` the colour maps) of one split.

    Returns
    -------
    frames : list of CityscapesFrame, sorted by frame id

    Raises
    ------
    InputError
        If a split folder is missing, holds no frames, or a photo lacks its
        labels (or colour map) or labels lack their photo (each named).
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
    colored = _frames_in(folders[LABEL_DIR], COLOR_SUFFIX) if colors else {}
    uncolored = [labels[f].with_name(f + COLOR_SUFFIX) for f in sorted(labels.keys() - colored.keys())] if colors else []
    if uncolored:
        raise InputError(
            f"{len(uncolored)} colour label map(s) missing beside their *{LABEL_SUFFIX}:{_listing(uncolored)}"
            "--like pytorch-pix2pix makes the generator's input from those colour maps, as the PyTorch "
            "preparation does; restore them (gtFine_trainvaltest.zip has them) or pass --like clean."
        )
    return [CityscapesFrame(frame, photos[frame], labels[frame], colored.get(frame)) for frame in sorted(photos)]


def pytorch_numbering(frames: list[CityscapesFrame]) -> list[str]:
    """Frame ids in the order prepare_cityscapes_dataset.py numbers them from 0 (``"%d.jpg" % i``).

    The script numbers ``sorted(glob.glob(os.path.join(gtFine_dir, phase) + "/*/*_color.png"))``:
    sorted by ``<city>/<frame>_gtFine_color.png``.
    """
    return [f.frame for f in sorted(frames, key=lambda f: f"{f.labels.parent.name}/{f.frame}{COLOR_SUFFIX}")]


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
    return _train_ids(read_label_png(path), path)


def _train_ids(label_ids: np.ndarray, path: str | Path) -> np.ndarray:
    try:
        return label_ids_to_train_ids(label_ids)
    except ValueError as err:
        raise InputError(
            f"{path}: {err} This is not an official labelIds image; regenerate it with cityscapesScripts' "
            "json2labelImg (labelIds, not trainIds or instanceIds)."
        ) from None


def _check_sizes(photo_path: Path, shape: tuple[int, ...], label_path: Path, labels: np.ndarray) -> None:
    if shape[:2] != labels.shape:
        raise InputError(
            f"{photo_path}: {shape[1]}x{shape[0]} image, but its labels {label_path} are "
            f"{labels.shape[1]}x{labels.shape[0]}; the pair must come from the same Cityscapes release."
        )


def _clean_frame(job: FrameJob) -> FrameArrays:
    photo_path, label_path, _, size, color_resample = job.args
    photo = read_rgb(photo_path)
    train_ids = read_train_ids(label_path)
    _check_sizes(photo_path, photo.shape, label_path, train_ids)
    if color_resample == "nearest":
        color = colorize(resize_labels(train_ids, size))  # same pixels as nearest-resizing the colour map
    else:
        color = resize_rgb(colorize(train_ids), size, color_resample)
    return FrameArrays(photo=resize_rgb(photo, size, "bicubic"), color=color, train_ids=train_ids)


def _pytorch_pix2pix_frame(job: FrameJob) -> FrameArrays:
    """The script's steps for one frame, then the AB image decoded as PyTorch's aligned loader reads it."""
    photo_path, label_path, color_path, size, _ = job.args
    label_ids = read_label_png(label_path)
    train_ids = _train_ids(label_ids, label_path)  # refuses values that are no labelId
    photo, _ = decode_rgb(photo_path)
    segmap, _ = decode_rgb(color_path)  # RGBA in the official files: .convert('RGB') drops alpha, as the script
    _check_sizes(photo_path, photo.shape, label_path, label_ids)
    _check_sizes(color_path, segmap.shape, label_path, label_ids)
    mismatched = int(np.any(segmap != LABEL_ID_COLORS[label_ids], axis=2).sum())
    # load_resized_img: Image.open(path).convert('RGB').resize((256, 256)) -- no filter named: Pillow's default
    photo_small, segmap_small = (Image.fromarray(rgb).resize((size, size)) for rgb in (photo, segmap))
    sidebyside = Image.new("RGB", (2 * size, size))
    sidebyside.paste(segmap_small, (size, 0))
    sidebyside.paste(photo_small, (0, 0))
    encoded = io.BytesIO()
    sidebyside.save(encoded, **PYTORCH_JPEG)
    ab = np.asarray(Image.open(encoded).convert("RGB"))  # aligned_dataset: Image.open(AB_path).convert('RGB')
    return FrameArrays(photo=np.ascontiguousarray(ab[:, :size]), color=np.ascontiguousarray(ab[:, size:]),
                       train_ids=train_ids, stats={"mismatched": mismatched, "pixels": int(label_ids.size)})


def _color_check_report(stats: dict[tuple[str, str], dict]) -> dict[str, Any]:
    """dataset.json's ``color_check``: colour-map pixels whose colour is not their labelId's."""
    mismatched = sum(s["mismatched"] for s in stats.values())
    pixels = sum(s["pixels"] for s in stats.values())
    worst = sorted(((s["mismatched"], f"{split}/{frame}") for (split, frame), s in stats.items()), reverse=True)[:5]
    if mismatched:
        log.warning("%d of %d pixels of the *%s maps do not have their labelId's colour (worst: %s); these maps are "
                    "the generator's input, so check that they belong to these labelIds.", mismatched, pixels,
                    COLOR_SUFFIX, ", ".join(name for n, name in worst if n))
    return {"color_check": {"frames_counted": len(stats), "pixels": pixels, "mismatched_pixels": mismatched,
                            "worst_frames": [{"frame": name, "mismatched_pixels": n} for n, name in worst if n]}}


def prepare_cityscapes(root: str | Path, out: str | Path, config: CityscapesConfig, *, workers: int = 1,
                       progress: bool = True) -> dict[str, Any]:
    """Prepare the Cityscapes splits of `config` into `out` (resumable); return its ``dataset.json``.

    Every split is paired and checked before any frame is written.
    ``dataset.json`` records ``pix2pix_numbering``: for train and val, the
    folder and the frame order in which PyTorch pix2pix's preparation numbers
    these frames (from 0), so that its numbered results can be matched.
    """
    root = Path(root).resolve()
    pytorch = config.like == "pytorch-pix2pix"
    pairs = {split: find_frames(root, split, colors=pytorch) for split in config.splits}
    color_resample = config.color_resample or "nearest"
    jobs = [FrameJob(split, f.frame, (str(f.photo), str(f.labels), f.color and str(f.color), config.size, color_resample))
            for split, frames in pairs.items() for f in frames]
    trainids = "none (full resolution, labelIds mapped with the official table)"
    if pytorch:
        steps = (f"Image.open(path).convert('RGB').resize(({config.size}, {config.size})) (Pillow's default filter, "
                 "bicubic), pasted photo|labels, JPEG quality 100 subsampling 0, decoded: prepare_cityscapes_dataset.py")
        resample = {"photo": steps, "color": f"*{COLOR_SUFFIX} (29 label colours): {steps}", "trainids": trainids}
        source = {"like": config.like}
    else:
        resample = {"photo": "bicubic",
                    "color": f"{color_resample} (colour map drawn from trainIds: 19 train colours, ignored pixels black)",
                    "trainids": trainids}
        source = {"like": config.like, "photo_resample": "bicubic", "color_resample": color_resample}
    meta = {
        "name": "cityscapes",
        "resample": resample,
        "source": {"kind": "cityscapes", "root": str(root), "splits": list(config.splits), "size": config.size, **source},
        "pix2pix_numbering": {split: {"folder": PYTORCH_PHASE[split], "first": 0, "frames": pytorch_numbering(frames)}
                              for split, frames in pairs.items() if split in PYTORCH_PHASE},
        "created_by": {"p2p_eval": __version__, "pillow": PIL.__version__},
    }
    return prepare_frames(out, jobs, _pytorch_pix2pix_frame if pytorch else _clean_frame, meta=meta,
                          image_size=config.size, label_size=None, workers=workers, progress=progress,
                          report=_color_check_report if pytorch else None)
