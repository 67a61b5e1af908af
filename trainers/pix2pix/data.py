"""Paired frames from a prepared dataset: loading, checking, jitter and mirroring.

Augmentation is drawn from a generator seeded by (seed, epoch, index), not from
a worker's global RNG, so a batch is the same whatever the number of workers
and whether training was resumed.
"""

import logging
from collections.abc import Iterator

import numpy as np
import torch
from PIL import Image

from p2p_eval.data.files import read_rgb
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.errors import InputError
from trainers.pix2pix.protocol import QUANTIZE

log = logging.getLogger(__name__)

DIRECTION_KINDS = {"AtoB": ("color", "photo"), "BtoA": ("photo", "color")}
"""Direction -> (input kind, target kind) of the prepared layout."""
JITTER_RATIO = 286 / 256  # the paper resizes 256 -> 286, then crops 256
CACHE_BYTES = 1 << 30  # keep decoded images in memory up to this size per process


def jitter_size(size: int) -> int:
    """Resize target before the random crop: 286 at 256, scaled for other sizes (72 at 64)."""
    return int(round(size * JITTER_RATIO))


def check_split(data: PreparedDataset, split: str, direction: str) -> int:
    """Check that every frame of `split` has its input and target, RGB, at the dataset's size.

    Reads only image headers. Returns the number of frames.

    Raises
    ------
    InputError
        Naming the first bad files and the fix, before any training starts.
    """
    frames = data.frames(split)
    if not frames:
        raise InputError(f"{data.root}: split {split!r} has no frames; re-run `p2p-eval prepare`.")
    data.check_files(split)
    expected = tuple(data.image_size)
    bad = []
    for frame in frames:
        for kind in DIRECTION_KINDS[direction]:
            path = data.path(split, frame, kind)
            try:
                with Image.open(path) as image:
                    size, mode = (image.height, image.width), image.mode
            except OSError as err:
                bad.append(f"{path}: unreadable ({err})")
                continue
            if size != expected or mode not in ("RGB", "P"):
                bad.append(f"{path}: {size[0]}x{size[1]} {mode}, expected {expected[0]}x{expected[1]} RGB")
    if bad:
        shown = "\n  ".join(bad[:5])
        raise InputError(
            f"{data.root}: {len(bad)} image(s) of split {split!r} cannot be trained on, e.g.\n  {shown}\n"
            "Re-run the `p2p-eval prepare` command that made this dataset."
        )
    return len(frames)


def _to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [-1, 1]."""
    return torch.from_numpy(np.array(rgb)).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor, quantize: str) -> np.ndarray:
    """(N, 3, H, W) float in [-1, 1] -> (N, H, W, 3) uint8.

    Parameters
    ----------
    images : (N, 3, H, W) float tensor in [-1, 1]
    quantize : {"truncate", "round"}
        "truncate" is what the reference code writes. PyTorch pix2pix's
        ``tensor2im`` (``util/util.py``)::

            image_numpy = (np.transpose(image_numpy, (1, 2, 0)) + 1) / 2.0 * 255.0
            return image_numpy.astype(imtype)

        (the same float32 operations here, then truncation toward zero), and
        the Torch code's ``image.save`` multiplies by 255 (``a:mul(255)``) and
        casts to ``png_byte`` in C, which truncates too. On average that is
        half a grey level darker than "round", which maps to the nearest
        level; use "round" for inputs and targets, whose values are exact
        levels that truncation would lower by one for 63 of the 256 levels.

    Returns
    -------
    images : (N, H, W, 3) uint8 ndarray

    Examples
    --------
    >>> x = torch.tensor([-1.0, -0.999, 0.999, 1.0]).reshape(1, 1, 2, 2).expand(1, 3, 2, 2)
    >>> to_uint8(x, "truncate")[0, ..., 0].tolist(), to_uint8(x, "round")[0, ..., 0].tolist()
    ([[0, 0], [254, 255]], [[0, 0], [255, 255]])
    """
    if quantize not in QUANTIZE:
        raise ValueError(f"Expected `quantize` in {QUANTIZE}, got {quantize!r}.")
    images = images.detach().float().clamp(-1, 1)  # tanh outputs are in range already: a no-op for them
    if quantize == "truncate":
        scaled = (images + 1) / 2.0 * 255.0  # tensor2im's float32 arithmetic, operation for operation
    else:
        scaled = ((images + 1.0) * 127.5).round()
    return scaled.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


class PairedFrames(torch.utils.data.Dataset):
    """(input, target) pairs of one split, at `size` x `size`.

    Items are indexed by ``(epoch, index)`` (see `EpochSampler`) when training
    with augmentation, or by ``index`` for generation; an item is a pair of
    (3, size, size) float32 tensors in [-1, 1].

    Parameters
    ----------
    data : PreparedDataset
    split : str
    direction : {"AtoB", "BtoA"}
    size : int
        Side of the square images the networks see.
    jitter : bool
        Bicubic resize to `jitter_size`, then a random `size` crop (else resize to `size`).
    mirror : bool
        Random horizontal flip of input and target together.
    seed : int
    """

    def __init__(
        self, data: PreparedDataset, split: str, direction: str, size: int,
        *, jitter: bool = False, mirror: bool = False, seed: int = 0,
    ) -> None:
        self.data, self.split, self.size, self.seed = data, split, size, seed
        self.jitter, self.mirror = jitter, mirror
        self.frames = data.frames(split)
        self.kinds = DIRECTION_KINDS[direction]
        height, width = data.image_size
        self._cache_ok = len(self.frames) * 2 * height * width * 3 <= CACHE_BYTES
        self._cache: dict[tuple[int, str], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.frames)

    def _read(self, index: int, kind: str) -> np.ndarray:
        key = (index, kind)
        if key in self._cache:
            return self._cache[key]
        rgb = read_rgb(self.data.path(self.split, self.frames[index], kind))
        if self._cache_ok:
            self._cache[key] = rgb
        return rgb

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        rng = np.random.default_rng((self.seed, epoch, index))
        if self.jitter:
            load = jitter_size(self.size)
            top, left = (int(v) for v in rng.integers(0, load - self.size + 1, size=2))
            box = (left, top, left + self.size, top + self.size)
            pair = [_resize(self._read(index, kind), load).crop(box) for kind in self.kinds]
        else:
            pair = [_resize(self._read(index, kind), self.size) for kind in self.kinds]
        if self.mirror and rng.integers(0, 2):
            pair = [image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for image in pair]
        return _to_tensor(np.asarray(pair[0])), _to_tensor(np.asarray(pair[1]))


def _resize(rgb: np.ndarray, size: int) -> Image.Image:
    image = Image.fromarray(rgb)
    if image.size == (size, size):
        return image
    return image.resize((size, size), Image.Resampling.BICUBIC)  # as the PyTorch pix2pix loader


class EpochSampler(torch.utils.data.Sampler):
    """Endless ``(epoch, index)`` keys from global step `start_step` on, one shard per rank.

    Each epoch is a permutation seeded by (seed, epoch), cut to a whole number
    of global batches (``batch_size * world_size``); rank r takes every r-th
    batch slot, as DistributedSampler does. Starting mid-epoch is what lets a
    resumed run see exactly the batches the uninterrupted run would have.
    """

    def __init__(self, n: int, batch_size: int, seed: int, start_step: int = 0, rank: int = 0, world_size: int = 1):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.start_step, self.rank, self.world_size = start_step, rank, world_size
        self.steps_per_epoch = steps_per_epoch(n, batch_size, world_size)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch, step_in_epoch = divmod(self.start_step, self.steps_per_epoch)
        while True:
            order = np.random.default_rng((self.seed, epoch)).permutation(self.n)
            for step in range(step_in_epoch, self.steps_per_epoch):
                first = (step * self.world_size + self.rank) * self.batch_size
                for index in order[first : first + self.batch_size]:
                    yield epoch, int(index)
            epoch, step_in_epoch = epoch + 1, 0


def steps_per_epoch(n: int, batch_size: int, world_size: int = 1) -> int:
    """Optimiser steps per epoch (incomplete global batches are dropped).

    Raises
    ------
    InputError
        If the split holds fewer frames than one global batch.
    """
    steps = n // (batch_size * world_size)
    if steps < 1:
        raise InputError(
            f"The training split has {n} frame(s), fewer than one batch of {batch_size} "
            f"x {world_size} process(es); lower --batch-size or add frames."
        )
    return steps


def total_steps(n: int, batch_size: int, world_size: int, epochs: int) -> int:
    """Optimiser steps of a run of `epochs` epochs."""
    return steps_per_epoch(n, batch_size, world_size) * epochs
