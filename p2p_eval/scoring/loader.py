"""The input side of scoring: decode, bring to label resolution, group and batch.

It runs in decoding threads (`iterate_batches`), so decoding and resizing
overlap the segmenter. Frames are grouped by label size (no padding, no cropping) and
batched in their given order within each group. A bad file never raises in
a worker: the item comes back with its error, so the caller can score the
rest, cache it, and then name every bad file at once.
"""

import collections
import itertools
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from p2p_eval.classes import IGNORE, NUM_CLASSES
from p2p_eval.data.files import decode_rgb, read_label_png
from p2p_eval.data.pix2pix_ab import FAR_DISTANCE, decode_colors
from p2p_eval.errors import InputError

RESIZE_KERNEL = "pillow-bilinear-uint8"
"""Generated images are resized with Pillow's BILINEAR filter on uint8 RGB: what
``scipy.misc.imresize(im, (H, W))`` did (its default interp, via
``Image.resize``) in the official pix2pix evaluation. Different kernels give
different FCN-scores (pytorch-CycleGAN-and-pix2pix PR #1190)."""

LABEL_MAP_RESIZE = "decode-then-pillow-nearest"
"""Generated colour label maps are decoded at their own size, then the trainIds
are upsampled with Pillow's NEAREST filter (no colours are invented)."""



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


def upsample_nearest(ids: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) uint8 ids -> (H, W) with Pillow's NEAREST filter."""
    if ids.shape == tuple(size):
        return ids
    return np.asarray(Image.fromarray(ids).resize((size[1], size[0]), Image.Resampling.NEAREST))


def photo_input(path: Path, size: tuple[int, int]) -> tuple[np.ndarray, str, int]:
    """A generated photo at label size: ((3, H, W) uint8 RGB, source mode, 0)."""
    rgb, mode = decode_rgb(path)
    return np.ascontiguousarray(resize_bilinear(rgb, size).transpose(2, 0, 1)), mode, 0


def label_map_input(path: Path, size: tuple[int, int]) -> tuple[np.ndarray, str, int]:
    """A generated colour label map as trainIds at label size: ((H, W) uint8, mode, far pixels)."""
    rgb, mode = decode_rgb(path)
    ids, n_far = decode_colors(rgb, FAR_DISTANCE)
    return upsample_nearest(ids, size), mode, n_far


Decoder = Callable[[Path, tuple[int, int]], tuple[np.ndarray, str, int]]


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


def label_size(path: Path) -> tuple[int, int]:
    """(H, W) of a label PNG from its header, without decoding it."""
    try:
        with Image.open(path) as image:
            return image.size[1], image.size[0]
    except FileNotFoundError:
        raise InputError(f"{path}: label map not found; re-run `p2p-eval prepare` (it resumes).") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise InputError(f"{path}: cannot read the label map ({err}); re-run `p2p-eval prepare`.") from None


@dataclass
class Batch:
    """What the loader yields: the good items of one batch and the bad ones.

    Attributes
    ----------
    indices : list of int
        Positions (in the item list) of the decoded items, in batch order.
    inputs : (B, 3, H, W) or (B, H, W) uint8 tensor, or None if every item failed
    labels : (B, H, W) uint8 tensor, or None
    modes : list of (int, str)
        Items whose image was not RGB, with its mode (converted).
    far : list of int
        Per decoded item, pixels far from every palette colour (label maps).
    errors : list of (int, str)
        Items that could not be read, with the message naming the file.
    """

    indices: list[int]
    inputs: torch.Tensor | None
    labels: torch.Tensor | None
    modes: list[tuple[int, str]] = field(default_factory=list)
    far: list[int] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)

    def pin_memory(self) -> "Batch":
        if self.inputs is not None:
            self.inputs, self.labels = self.inputs.pin_memory(), self.labels.pin_memory()
        return self


class ScoringItems:
    """(generated image, label map) items decoded at the label map's size.

    Parameters
    ----------
    images, labels : sequences of Path
        Item i is ``images[i]`` scored against ``labels[i]``.
    decode : callable
        `photo_input` or `label_map_input`.
    """

    def __init__(self, images: Sequence[Path], labels: Sequence[Path], decode: Decoder):
        if len(images) != len(labels):
            raise ValueError(f"Expected as many images as labels, got {len(images)} and {len(labels)}.")
        self.images, self.labels, self.decode = list(images), list(labels), decode

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        try:
            labels = read_train_ids(self.labels[index])
            array, mode, n_far = self.decode(self.images[index], labels.shape)
        except InputError as err:
            return {"index": index, "error": str(err)}
        return {"index": index, "input": array, "labels": labels, "mode": mode, "far": n_far}


def collate(items: list[dict]) -> Batch:
    """Stack the decoded items of one batch; keep the failed ones aside."""
    good = [item for item in items if "error" not in item]
    return Batch(
        indices=[item["index"] for item in good],
        inputs=torch.from_numpy(np.stack([item["input"] for item in good])) if good else None,
        labels=torch.from_numpy(np.stack([item["labels"] for item in good])) if good else None,
        modes=[(item["index"], item["mode"]) for item in good if item["mode"] != "RGB"],
        far=[item["far"] for item in good],
        errors=[(item["index"], item["error"]) for item in items if "error" in item],
    )


def size_batches(sizes: Sequence[tuple[int, int]], batch_size: int) -> list[list[int]]:
    """Batches of item positions: equal sizes together, given order kept within a size.

    Examples
    --------
    >>> size_batches([(2, 4), (8, 8), (2, 4), (2, 4)], 2)
    [[0, 2], [3], [1]]
    """
    groups: dict[tuple[int, int], list[int]] = {}
    for index, size in enumerate(sizes):
        groups.setdefault(tuple(size), []).append(index)
    return [group[k : k + batch_size] for group in groups.values() for k in range(0, len(group), batch_size)]


def iterate_batches(items: "ScoringItems", batches: list[list[int]], *, workers: int,
                    pin_memory: bool) -> Iterator[Batch]:
    """The batches, in order, decoded by `workers` threads ahead of the consumer.

    Threads rather than worker processes: Pillow's decoders and resizes and
    numpy's loops release the GIL, so threads decode in parallel while the
    segmenter runs, without forking the process (on a 2-core machine, starting
    and feeding worker processes cost more than all the decoding they hid).
    Up to ``2 * workers`` batches are decoded ahead; ``workers=0`` decodes
    each batch when it is needed.

    Parameters
    ----------
    items : ScoringItems
    batches : list of list of int
        Item positions per batch (`size_batches`).
    workers : int
    pin_memory : bool
        Pin each batch in page-locked memory (for asynchronous copies to a GPU).
    """

    def finish(results: list[dict]) -> Batch:
        batch = collate(results)
        return batch.pin_memory() if pin_memory else batch

    if workers == 0:
        for indices in batches:
            yield finish([items[i] for i in indices])
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="p2p-eval-decode")
    pending: collections.deque = collections.deque()
    upcoming = iter(batches)
    try:
        for indices in itertools.islice(upcoming, 2 * workers):
            pending.append([pool.submit(items.__getitem__, i) for i in indices])
        while pending:
            batch = finish([future.result() for future in pending.popleft()])
            indices = next(upcoming, None)
            if indices is not None:
                pending.append([pool.submit(items.__getitem__, i) for i in indices])
            yield batch
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
