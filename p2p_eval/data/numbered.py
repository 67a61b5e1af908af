"""PyTorch pix2pix numbered results: which frame each numeric id shows.

PyTorch pix2pix's ``test.py`` names its outputs after the AB file each came
from (``util/visualizer.py``, ``save_images``)::

    short_path = ntpath.basename(image_path[0])
    name = os.path.splitext(short_path)[0]
    ...
        image_name = '%s_%s.png' % (name, label)

for every visual of the model: ``<id>_real_A.png``, ``<id>_fake_B.png``,
``<id>_real_B.png``. Cityscapes AB files made by its
``datasets/prepare_cityscapes_dataset.py`` are numbered from 0 over sorted
colour-map paths (``segmap_paths = sorted(segmap_paths)``, then
``savepath = os.path.join(savedir, "%d.jpg" % i)``), while the pix2pix
download's Cityscapes AB set counts from 1. The number alone therefore cannot
say which frame an image shows; its siblings can: ``real_A`` and ``real_B``
are the input and the target ``test.py`` fed the model, i.e. one frame's
colour map and photo as the aligned dataset cut them from the AB file
(``A = AB.crop((0, 0, w2, h))``, ``B = AB.crop((w2, 0, w, h))``), resized by
``transforms.Resize([load_size, load_size], BICUBIC)`` and written back by
``tensor2im``, which truncates: up to one grey level below the file's pixels.

`identify_numbered` compares each sibling with every frame's photo and colour
map of the prepared split (brought to the sibling's size by the same bicubic
resize): first on an 8x8 grid of block means (a cheap shortlist that cannot
miss a match, see `_shortlist`), then pixel by pixel. An id is matched when
exactly one frame agrees with its siblings; none, several, or two ids on one
frame are refused with the ids named. Without siblings the numbering must be
given (``--numbering 0|1``).
"""

import logging
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from p2p_eval.data.files import decode_rgb
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.errors import InputError

log = logging.getLogger(__name__)

SIBLINGS = ("real_A", "real_B")
"""The visuals ``test.py`` writes beside ``<id>_fake_B.png``: the model's input and target."""
NUMBERINGS = (0, 1)
"""The number of the first frame: 0 in PyTorch pix2pix's preparation, 1 in the pix2pix download's AB set."""
SAME_IMAGE = 2.0
"""Mean absolute difference, in grey levels, under which a sibling shows a prepared image. ``tensor2im``'s
truncation moves a pixel by at most 1 (mean well under 1); a JPEG re-encode at quality 100 adds about 0.5;
two different frames differ by tens of levels."""
_GRID = 8


def _at(path: Path, size: tuple[int, int]) -> np.ndarray:
    """An image as (H, W, 3) float32 at `size` (H, W): PyTorch pix2pix's ``Resize`` (Pillow bicubic) if needed."""
    rgb, _ = decode_rgb(path)
    if rgb.shape[:2] != size:
        rgb = np.asarray(Image.fromarray(rgb).resize((size[1], size[0]), Image.Resampling.BICUBIC))
    return rgb.astype(np.float32)


def _fingerprint(rgb: np.ndarray) -> np.ndarray:
    """(8 * 8 * 3,) float block means of an (H, W, 3) image over an 8x8 grid (fewer blocks below 8 px)."""
    h, w = rgb.shape[:2]
    rows = np.linspace(0, h, min(_GRID, h) + 1).astype(int)[:-1]  # images under 8 px: one pixel per block
    cols = np.linspace(0, w, min(_GRID, w) + 1).astype(int)[:-1]
    sums = np.add.reduceat(np.add.reduceat(rgb, rows, axis=0), cols, axis=1)
    counts = np.diff(np.append(rows, h))[:, None, None] * np.diff(np.append(cols, w))[None, :, None]
    return (sums / counts).reshape(-1)


class _Index:
    """Fingerprints of every frame's photo and colour map of a split, at one image size."""

    KINDS = ("photo", "color")

    def __init__(self, dataset: PreparedDataset, split: str, frames: tuple[str, ...], size: tuple[int, int],
                 pool: ThreadPoolExecutor):
        self.dataset, self.split, self.size = dataset, split, size
        self.entries = [(frame, kind) for frame in frames for kind in self.KINDS]
        self.prints = np.stack(list(pool.map(lambda e: _fingerprint(self.image(*e)), self.entries)))

    def image(self, frame: str, kind: str) -> np.ndarray:
        return _at(self.dataset.path(self.split, frame, kind), self.size)

    def _shortlist(self, fingerprint: np.ndarray) -> list[int]:
        """Entries that may show `fingerprint`'s image.

        A block mean's difference is at most the block's mean absolute
        difference, so the mean over blocks of |fingerprint difference| is at
        most the images' mean absolute difference (blocks of equal size; the
        grid's blocks differ by at most one row or column, hence the slack):
        no image within `SAME_IMAGE` is left out.
        """
        distance = np.abs(self.prints - fingerprint).mean(axis=1)
        return np.flatnonzero(distance <= SAME_IMAGE * 1.25 + 0.5).tolist()

    def frames_showing(self, sibling: np.ndarray) -> set[str]:
        """The frames whose photo or colour map `sibling` shows (mean |difference| <= `SAME_IMAGE`)."""
        return {self.entries[k][0] for k in self._shortlist(_fingerprint(sibling))
                if np.abs(self.image(*self.entries[k]) - sibling).mean() <= SAME_IMAGE}


def numbering_order(dataset: PreparedDataset, split: str) -> tuple[tuple[str, ...], str]:
    """The split's frames in the order PyTorch pix2pix numbers them, and where that order comes from.

    ``dataset.json``'s ``pix2pix_numbering`` (written by ``prepare cityscapes``:
    the script's own order) when it lists exactly the split's frames, else
    sorted frame ids.
    """
    frames = dataset.frames(split)
    recorded = (dataset.meta.get("pix2pix_numbering") or {}).get(split, {}).get("frames")
    if recorded and sorted(recorded) == sorted(frames):
        return tuple(recorded), "dataset.json pix2pix_numbering"
    return tuple(sorted(frames)), "sorted frame ids"


def _siblings(fake: Path, number: str) -> list[Path]:
    return [p for p in (fake.with_name(f"{number}_{name}.png") for name in SIBLINGS) if p.is_file()]


def _ids(numbers: list[str]) -> str:
    shown = sorted(numbers, key=int)
    return f"{len(shown)} id(s) " + ", ".join(shown[:8]) + (", ..." if len(shown) > 8 else "")


def identify_numbered(
    images: Mapping[str, Path], dataset: PreparedDataset, split: str, *, numbering: int | None = None,
    where: str = "", workers: int = min(4, os.cpu_count() or 1),
) -> tuple[dict[str, str], dict[str, Any]]:
    """Which frame each numbered ``<id>_fake_B.png`` shows.

    Parameters
    ----------
    images : mapping of str to Path
        Numeric id -> its ``<id>_fake_B.png``.
    dataset : PreparedDataset
    split : str
    numbering : {0, 1} or None, optional
        The number of the first frame (`NUMBERINGS`), in `numbering_order`.
        Needed when the ids have no siblings; with siblings it is checked
        against them.
    where : str, optional
        The run, for messages.
    workers : int, optional
        Decoding threads.

    Returns
    -------
    frames : dict of str to str
        id -> frame. Ids a numbering puts outside the split are left out (the
        caller reports them as images that match no frame).
    record : dict
        How they were matched: ``by`` ("content" or "numbering"), ``numbering``
        (0, 1, or None when the ids follow no numbering), ``order`` and
        ``checked_by_content`` (ids whose siblings named their frame).

    Raises
    ------
    InputError
        Naming the ids: without siblings and without `numbering`; some ids
        with siblings and some without; an id no frame, or several frames,
        agree with; two ids showing one frame; a `numbering` that the
        siblings contradict.
    """
    if numbering is not None and numbering not in NUMBERINGS:
        raise ValueError(f"Expected `numbering` in {NUMBERINGS}, got {numbering!r}.")
    order, source = numbering_order(dataset, split)
    siblings = {number: _siblings(path, number) for number, path in images.items()}
    lacking = [number for number, found in siblings.items() if not found]
    if lacking and numbering is None:
        if len(lacking) < len(siblings):
            raise InputError(
                f"{where}: {_ids(lacking)} have no {'/'.join(f'<id>_{s}.png' for s in SIBLINGS)} beside their "
                "fake_B, the others do; copy test.py's whole images/ folder, or pass --numbering 0|1.")
        raise InputError(
            f"{where}: the images are numbered (<id>_fake_B.png) and no <id>_real_A.png / <id>_real_B.png lies "
            "beside them to tell which frame each number is. PyTorch pix2pix's prepare_cityscapes_dataset.py numbers "
            "frames from 0, the pix2pix download's Cityscapes AB set from 1, so the names alone cannot say. Score "
            "test.py's whole images/ folder (it writes real_A and real_B beside every fake_B), or pass "
            f"--numbering 0 or --numbering 1 for the AB set you tested on (frames in the order of {source}).")
    by_number = {} if numbering is None else {
        number: order[int(number) - numbering] for number in images if 0 <= int(number) - numbering < len(order)}
    shown = _identify(siblings, dataset, split, order, workers)
    if numbering is None:
        ambiguous = [n for n, frames in shown.items() if len(frames) > 1]
        unmatched = [n for n, frames in shown.items() if not frames]
        problems = []
        if ambiguous:
            problems.append(f"{_ids(ambiguous)} look like several frames of {split!r} (e.g. id {ambiguous[0]}: "
                            f"{sorted(shown[ambiguous[0]])[:3]}), so which one each is cannot be told")
        if unmatched:
            problems.append(f"{_ids(unmatched)} show no frame of {split!r}: their real_A/real_B match no photo or "
                            f"colour map within {SAME_IMAGE:g} grey levels")
        if problems:
            raise InputError(
                f"{where}: " + "; ".join(problems) + ". Check --data and --split; test.py must run with --load_size "
                "equal to the crop size (e.g. --load_size 256: its default 286 crops a random part); or pass "
                "--numbering 0|1 to pair by number.")
        by_number = {n: next(iter(frames)) for n, frames in shown.items()}
    else:
        wrong = [n for n, frames in shown.items() if len(frames) == 1 and n in by_number and by_number[n] not in frames]
        if wrong:
            n = wrong[0]
            raise InputError(
                f"{where}: --numbering {numbering} pairs {_ids(wrong)} with other frames than their real_A/real_B show "
                f"(id {n}: numbered {by_number[n]}, shows {next(iter(shown[n]))}); try --numbering {1 - numbering}, "
                "or leave --numbering out to pair by content.")
        unchecked = [n for n in by_number if len(shown.get(n, ())) != 1]
        if unchecked and shown:
            log.warning("%s: --numbering %d: %s could not be checked against their real_A/real_B (no single frame "
                        "matches within %g grey levels); paired by number.", where, numbering, _ids(unchecked),
                        SAME_IMAGE)
    _refuse_shared_frames(by_number, where)
    return by_number, {
        "by": "numbering" if numbering is not None else "content",
        "numbering": numbering if numbering is not None else _numbering_followed(by_number, order),
        "order": source,
        "checked_by_content": sum(len(shown.get(n, ())) == 1 for n in by_number),
    }


def _identify(siblings: dict[str, list[Path]], dataset: PreparedDataset, split: str, order: tuple[str, ...],
              workers: int) -> dict[str, set[str]]:
    """id -> the frames its siblings show (ids without siblings left out), ids checked in `workers` threads."""
    sizes = {path: _image_size(path) for paths in siblings.values() for path in paths}
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="p2p-eval-match") as pool:
        indexes = {size: _Index(dataset, split, order, size, pool) for size in sorted(set(sizes.values()))}

        def shows(paths: list[Path]) -> set[str]:
            return set().union(*(indexes[sizes[p]].frames_showing(_at(p, sizes[p])) for p in paths))

        found = dict(zip(siblings, pool.map(shows, siblings.values())))
    return {number: frames for number, frames in found.items() if siblings[number]}


def _image_size(path: Path) -> tuple[int, int]:
    """(H, W) of an image from its header."""
    try:
        with Image.open(path) as image:
            return image.size[1], image.size[0]
    except (OSError, SyntaxError, ValueError) as err:
        raise InputError(f"{path}: cannot read the image ({err}); copy test.py's images/ folder again.") from None


def _refuse_shared_frames(by_number: dict[str, str], where: str) -> None:
    owners: dict[str, list[str]] = {}
    for number, frame in by_number.items():
        owners.setdefault(frame, []).append(number)
    shared = {frame: numbers for frame, numbers in owners.items() if len(numbers) > 1}
    if shared:
        frame, numbers = next(iter(sorted(shared.items())))
        raise InputError(f"{where}: {len(shared)} frame(s) are shown by several ids (e.g. {frame}: ids "
                         f"{', '.join(sorted(numbers, key=int))}); the AB set holds a frame twice, or the results "
                         "come from two test runs. Keep one image per frame.")


def _numbering_followed(by_number: dict[str, str], order: tuple[str, ...]) -> int | None:
    """The first number of `order` under which every id names its frame, if any."""
    position = {frame: i for i, frame in enumerate(order)}
    for first in NUMBERINGS:
        if by_number and all(position[frame] + first == int(number) for number, frame in by_number.items()):
            return first
    return None


def pair_numbered(
    images: Mapping[str, Path], frames: Sequence[str], split: str, *, dataset: PreparedDataset | None,
    numbering: int | None, where: str,
) -> tuple[dict[str, Path], dict[str, Any]]:
    """Numbered images keyed by the frame each shows (``#<id>`` for ids no frame has), and how.

    By content when `dataset` is given (`identify_numbered`), else by
    `numbering` over sorted frame ids; neither is an `InputError`.
    """
    if dataset is not None:
        by_number, how = identify_numbered(images, dataset, split, numbering=numbering, where=where)
    elif numbering is not None:
        order = sorted(frames)
        by_number = {k: order[int(k) - numbering] for k in images if 0 <= int(k) - numbering < len(order)}
        how = {"by": "numbering", "numbering": numbering, "order": "sorted frame ids", "checked_by_content": 0}
    else:
        raise InputError(f"{where}: the images are numbered (<id>_fake_B.png), not named by frame; pass the "
                         "prepared dataset (or --numbering 0|1) to tell which frame each number is.")
    log.info("%s: numbered images paired with frames by %s (%s).", where, how["by"], how["order"])
    return {by_number[k]: p for k, p in images.items() if k in by_number} | {
        f"#{k}": p for k, p in images.items() if k not in by_number}, how
