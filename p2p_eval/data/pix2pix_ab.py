"""Importing the side-by-side (AB) format pix2pix datasets ship in.

::

    <src>/{train,val,test}/<name>.{jpg,png}     A | B side by side, each half square

The pix2pix Cityscapes download puts the photo in A and the colour label map
in B, so labels->photo is ``--direction BtoA`` there, as in pix2pix's own
training commands. The label half is a *colour* image that was resized and
JPEG-compressed, so its colours are no longer exact: each pixel is decoded to
the trainId of the nearest Cityscapes label colour (Euclidean RGB), and the
number of pixels farther than a tolerance from every label colour is counted
and reported.
"""

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from p2p_eval.classes import IGNORE, LABELS, colorize
from p2p_eval.data.files import read_rgb
from p2p_eval.data.preparing import FrameArrays, FrameJob, prepare_frames, resize_rgb
from p2p_eval.errors import InputError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
SUFFIXES = (".jpg", ".jpeg", ".png")
DIRECTIONS = ("AtoB", "BtoA")
COLOR_SOURCES = ("original", "decoded")


def _decode_table() -> tuple[np.ndarray, np.ndarray]:
    """Every Cityscapes label colour and the trainId it decodes to.

    Colours shared by several labels (car and license plate, pole and pole
    group) decode to the evaluated class, which is how ``*_gtFine_color.png``
    draws them.
    """
    by_color: dict[tuple[int, int, int], int] = {}
    for label in LABELS:
        if by_color.get(label.color, IGNORE) == IGNORE:
            by_color[label.color] = label.train_id
    colors = np.array(list(by_color), np.float32)
    return colors, np.array(list(by_color.values()), np.uint8)


DECODE_COLORS, DECODE_TRAIN_IDS = _decode_table()


FAR_DISTANCE = 30.0
"""RGB distance beyond which a decoded pixel counts as far from every Cityscapes
label colour (still decoded to the nearest; counted and reported)."""

FAR_REFUSE = 0.25
"""Share of far label pixels above which an import is refused unless forced: the
half taken for the label map is then most likely the photo (wrong --direction).
A JPEG-compressed Cityscapes label half has well under 1%."""

CHECK_IMAGES = 8
"""Images, spread over the dataset, decoded both ways before the import starts."""


def decode_colors(rgb: np.ndarray, tolerance: float) -> tuple[np.ndarray, int]:
    """Map a colour label image to trainIds by nearest Cityscapes label colour.

    Parameters
    ----------
    rgb : (H, W, 3) uint8 ndarray
        Colour label map (pix2pix's label half).
    tolerance : float
        RGB distance beyond which a pixel counts as far from every label colour.

    Returns
    -------
    train_ids : (H, W) uint8 ndarray
        trainIds of the nearest colours (255 for non-train labels such as black).
    n_far : int
        Pixels farther than `tolerance` from every label colour.

    Notes
    -----
    Distances are computed once per distinct colour of the image, not per
    pixel, so the cost is a sort of the pixels plus (colours x 30).

    Examples
    --------
    >>> ids, far = decode_colors(np.array([[[128, 64, 128], [0, 0, 140]], [[0, 0, 0], [255, 255, 255]]], np.uint8), 20)
    >>> ids.tolist(), far
    ([[0, 13], [255, 255]], 1)
    """
    packed = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    distinct, inverse, counts = np.unique(packed.ravel(), return_inverse=True, return_counts=True)
    colors = np.stack([(distinct >> 16) & 255, (distinct >> 8) & 255, distinct & 255], axis=1).astype(np.float32)
    distance = np.linalg.norm(colors[:, None, :] - DECODE_COLORS[None, :, :], axis=2)
    nearest = distance.argmin(axis=1)
    far = distance[np.arange(len(distinct)), nearest] > tolerance
    train_ids = DECODE_TRAIN_IDS[nearest][inverse].reshape(rgb.shape[:2])
    return train_ids, int(counts[far].sum())


@dataclass(frozen=True)
class AbConfig:
    """What `p2p-eval prepare pix2pix-ab` makes.

    Attributes
    ----------
    direction : {"AtoB", "BtoA"}
        pix2pix's meaning: the input (here: the label map) is A for AtoB, B for BtoA.
    size : int or None
        Generation size; None keeps the size of the halves (which must be square).
    tolerance : float
        RGB distance counted as "far from every label colour".
    color : {"original", "decoded"}
        Colour map written: the label half as shipped (what pix2pix trained on)
        or the decoded trainIds drawn in exact palette colours.
    force : bool
        Import even when more than `FAR_REFUSE` of the label pixels are far
        from every label colour (recorded in ``decode.forced``).
    """

    direction: str
    size: int | None = None
    tolerance: float = FAR_DISTANCE
    color: str = "original"
    force: bool = False

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"Expected `direction` in {DIRECTIONS}, got {self.direction!r}.")
        if self.size is not None and self.size < 16:
            raise ValueError(f"Expected `size` >= 16 or None, got {self.size}.")
        if not self.tolerance >= 0:
            raise ValueError(f"Expected `tolerance` >= 0, got {self.tolerance}.")
        if self.color not in COLOR_SOURCES:
            raise ValueError(f"Expected `color` in {COLOR_SOURCES}, got {self.color!r}.")


def find_ab_images(src: str | Path) -> dict[str, list[Path]]:
    """The AB images of each split folder present in `src`, sorted by name.

    Raises
    ------
    InputError
        If `src` has no split folder with images, or two files share a name stem.
    """
    src = Path(src)
    if not src.is_dir():
        raise InputError(f"{src}: no such folder. Pass --src the folder holding train/ and val/ (or test/).")
    found = {}
    for split in SPLITS:
        files = sorted(p for p in (src / split).glob("*") if p.suffix.lower() in SUFFIXES) if (src / split).is_dir() else []
        stems = [p.stem for p in files]
        if len(set(stems)) < len(stems):
            twins = sorted({s for s in stems if stems.count(s) > 1})
            raise InputError(f"{src / split}: several files named {twins[:3]} (different suffixes); keep one of each.")
        if files:
            found[split] = files
    if not found:
        raise InputError(f"{src}: no train/, val/ or test/ folder with .jpg or .png images; is this a pix2pix AB dataset?")
    return found


def _ab_frame(job: FrameJob) -> FrameArrays:
    path, direction, size, squash, tolerance, color_source = job.args
    ab = read_rgb(path)
    height, width = ab.shape[:2]
    if width % 2 or not squash and (width // 2, height) != (size, size):
        raise InputError(
            f"{path}: {width}x{height} is not two {size}x{size} halves side by side like the first image; "
            "pass --size to squash every image to one size, or check that this is an AB image."
        )
    a, b = np.ascontiguousarray(ab[:, : width // 2]), np.ascontiguousarray(ab[:, width // 2 :])
    labels_rgb, photo = (a, b) if direction == "AtoB" else (b, a)
    train_ids, n_far = decode_colors(labels_rgb, tolerance)
    color = labels_rgb if color_source == "original" else colorize(train_ids)
    return FrameArrays(photo=resize_rgb(photo, size, "bicubic"), color=resize_rgb(color, size, "nearest"),
                       train_ids=train_ids, stats={"far": n_far, "pixels": int(train_ids.size)})


def _far_fractions(paths: list[Path], tolerance: float) -> dict[str, float]:
    """Share of far label pixels in `paths` for each direction (the label map taken from A or from B)."""
    far, pixels = {"AtoB": 0, "BtoA": 0}, 0
    for path in paths:
        ab = read_rgb(path)
        half = ab.shape[1] // 2
        far["AtoB"] += decode_colors(np.ascontiguousarray(ab[:, :half]), tolerance)[1]
        far["BtoA"] += decode_colors(np.ascontiguousarray(ab[:, half : 2 * half]), tolerance)[1]
        pixels += ab.shape[0] * half
    return {direction: n / pixels for direction, n in far.items()}


def _refusal(where: str, fractions: dict[str, float], direction: str, tolerance: float) -> str:
    other = DIRECTIONS[1 - DIRECTIONS.index(direction)]
    share = f"{100 * fractions[direction]:.0f}% of the label pixels of {where} are farther than {tolerance:g} from every " \
            f"Cityscapes label colour with --direction {direction} (label map in {direction[0]})"
    if other in fractions and fractions[other] <= FAR_REFUSE:
        return (f"{share}; with --direction {other} it is {100 * fractions[other]:.1f}%. The label map is probably "
                f"the other half: pass --direction {other} (or --force to import as asked).")
    return (f"{share}. This does not look like a Cityscapes label map; check the dataset, or pass --force to "
            "import it anyway.")


def check_direction(images: dict[str, list[Path]], config: AbConfig) -> None:
    """Refuse, before importing, a direction whose label half is mostly far from every label colour.

    Decodes `CHECK_IMAGES` images spread over the dataset both ways.

    Raises
    ------
    InputError
        If more than `FAR_REFUSE` of the sampled label pixels are far and
        ``config.force`` is not set; the message names the other direction
        when that one fits.
    """
    paths = [path for split in images for path in images[split]]
    sample = [paths[i] for i in sorted({round(k * (len(paths) - 1) / max(CHECK_IMAGES - 1, 1)) for k in range(CHECK_IMAGES)})]
    fractions = _far_fractions(sample, config.tolerance)
    if fractions[config.direction] <= FAR_REFUSE:
        return
    where = f"{len(sample)} images spread over {sample[0].parent.parent}"
    if not config.force:
        raise InputError(_refusal(where, fractions, config.direction, config.tolerance))
    log.warning("--force: %s", _refusal(where, fractions, config.direction, config.tolerance))


REFUSED_MARK = ".refused-far-labels"
"""Left in the output folder when an import was refused after its frames were written,
so that a plain re-run (which would find every frame done) refuses too."""


def _decode_report(config: AbConfig, out: Path):
    def report(stats: dict[tuple[str, str], dict]) -> dict[str, Any]:
        far = sum(s["far"] for s in stats.values())
        pixels = sum(s["pixels"] for s in stats.values())
        worst = sorted(((s["far"], f"{split}/{frame}") for (split, frame), s in stats.items()), reverse=True)[:5]
        if pixels and far / pixels > FAR_REFUSE and not config.force:  # the sample passed, the whole did not
            message = _refusal(f"the {len(stats)} images imported", {config.direction: far / pixels},
                               config.direction, config.tolerance)
            (out / REFUSED_MARK).write_text(message + "\n", encoding="utf-8")
            raise InputError(message + f" The frames are in {out}, but no dataset.json.")
        if far:
            log.warning("%d of %d label pixels (%.2f%%) are farther than %g from every Cityscapes label colour; "
                        "each was given the nearest one's trainId.", far, pixels, 100 * far / pixels, config.tolerance)
        return {"decode": {"method": "nearest Cityscapes label colour (RGB Euclidean)", "tolerance": config.tolerance,
                           "frames_counted": len(stats), "pixels": pixels, "far_pixels": far,
                           "far_fraction": far / pixels if pixels else None, "forced": config.force,
                           "worst_frames": [{"frame": name, "far_pixels": n} for n, name in worst if n]}}

    return report


def prepare_pix2pix_ab(src: str | Path, out: str | Path, config: AbConfig, *, workers: int = 1,
                       progress: bool = True) -> dict[str, Any]:
    """Import a pix2pix AB dataset into `out` (resumable); return its ``dataset.json``.

    ``decode`` in ``dataset.json`` reports the far pixels of the frames
    decoded by this run (``frames_counted``; a resumed run counts only the rest).
    """
    src, out = Path(src).resolve(), Path(out)
    images = find_ab_images(src)
    check_direction(images, config)
    refused = out / REFUSED_MARK
    if refused.is_file():
        if not config.force:
            raise InputError(f"{refused}: an earlier run refused this import: {refused.read_text().strip()}")
        refused.unlink()
    size = config.size or read_rgb(next(iter(images.values()))[0]).shape[0]
    args = (config.direction, size, config.size is not None, config.tolerance, config.color)
    jobs = [FrameJob(split, path.stem, (str(path), *args)) for split, paths in images.items() for path in paths]
    meta = {
        "name": src.name,
        "resample": {"photo": "bicubic" if config.size else "none", "color": f"nearest ({config.color} label half)",
                     "trainids": "none (decoded at the label half's resolution)"},
        "source": {"kind": "pix2pix-ab", "src": str(src), "direction": config.direction, "size": config.size,
                   "tolerance": config.tolerance, "color": config.color},
    }
    return prepare_frames(out, jobs, _ab_frame, meta=meta, image_size=size, label_size=None, workers=workers,
                          progress=progress, report=_decode_report(config, out))
