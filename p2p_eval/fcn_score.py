"""The scoring pipeline: per-frame confusion matrices of generated images.

`score_images` (labels->photos, FCN-score) segments each generated photo at
the resolution of its frame's trainIds, as the official pix2pix evaluation
does; `score_label_maps` (photos->labels) decodes generated colour label maps
and compares them with the trainIds directly. Both return one ``(19, 20)``
confusion state per frame (`p2p_eval.metrics.confusion`), which add up to the
scored set's matrix and feed the bootstrap.

Decoding and resizing run in threads (`p2p_eval.scoring.loader`) while the
segmenter runs; every frame is segmented in a batch of the same size
(the last batch is padded), so a frame's result does not depend on frame
order, worker count or process count. Under ``torchrun`` (an initialised
`torch.distributed` group) each process scores every WORLD_SIZE-th frame and
the per-frame states are summed across processes, so every process returns
the full array. With a cache, frames already scored under the same protocol
are read back instead of recomputed, and each batch is committed as it
finishes, so an interrupted run resumes where it stopped.
"""

import contextlib
import itertools
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from p2p_eval.cache import ItemCache
from p2p_eval.classes import NUM_CLASSES
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.errors import InputError
from p2p_eval.metrics.confusion import confusion_delta_torch
from p2p_eval.scoring.keys import fcn_namespace, item_keys, label_namespace
from p2p_eval.scoring.loader import (
    Batch, ScoringItems, iterate_batches, label_map_input, label_size, photo_input, size_batches,
)
from p2p_eval.segmenters.checkpoint import Segmenter

log = logging.getLogger(__name__)

STATE_SHAPE = (NUM_CLASSES, NUM_CLASSES + 1)
Pairs = Sequence[tuple[str, str | os.PathLike]]


def score_images(
    segmenter: Segmenter,
    dataset: PreparedDataset,
    split: str,
    pairs: Pairs,
    *,
    batch_size: int = 8,
    workers: int = 2,
    device: torch.device | str | None = None,
    cache: str | os.PathLike | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Per-frame confusions of generated photos segmented at label resolution.

    Parameters
    ----------
    segmenter : Segmenter
        From `p2p_eval.segmenters.load_segmenter`; its checkpoint's preprocessing is used.
    dataset : PreparedDataset
        Holds ``<split>/<frame>_trainids.png``, the ground truth.
    split : str
    pairs : sequence of (frame, image path)
        Order is kept in the result. Each image is resized (Pillow bilinear on
        uint8, the official ``scipy.misc.imresize`` kernel) to its frame's
        trainIds size and segmented there.
    batch_size : int, optional
        Frames per forward pass (frames of different label size never share one).
    workers : int, optional
        Decoding threads (0 decodes each batch when it is needed).
    device : torch.device or str, optional
        Where the segmenter runs (moved there); default: where it already is.
    cache : path-like, optional
        SQLite cache file (`p2p_eval.cache.cache_path_for`); states are keyed by
        image and label content under `fcn_namespace`.
    progress : bool, optional
        tqdm bar on stderr (rank 0 only).

    Returns
    -------
    confusions : (N, 19, 20) int64 ndarray
        Per frame: ground-truth rows, predicted columns, last column = predicted
        no train class.

    Raises
    ------
    InputError
        Naming the first unreadable images or label maps and their count, after
        every readable frame was scored (and cached).
    """
    device = torch.device(device) if device is not None else _model_device(segmenter.model)
    segmenter.model.to(device)
    was_training = segmenter.model.training  # a trainer may score mid-training
    segmenter.model.eval()  # running BatchNorm statistics: a frame never depends on its batch
    try:
        with _exact_fp32():
            states = _per_frame_states(
                dataset, split, pairs, decode=photo_input, predict=segmenter.predict, device=device,
                batch_size=batch_size, workers=workers, cache=cache, space=fcn_namespace(segmenter),
                progress=progress, desc="fcn-score",
            )
    finally:
        segmenter.model.train(was_training)
    return states[:, :-1].reshape(-1, *STATE_SHAPE)


def real_pairs(dataset: PreparedDataset, split: str, kind: str = "photo") -> list[tuple[str, os.PathLike]]:
    """The ground-truth row's input: every frame of `split` with its real photo
    (``kind="photo"``, for `score_images`) or colour label map (``"color"``,
    for `score_label_maps`), both at generation size."""
    return [(frame, dataset.path(split, frame, kind)) for frame in dataset.frames(split)]


def score_label_maps(
    dataset: PreparedDataset,
    split: str,
    pairs: Pairs,
    *,
    batch_size: int = 8,
    workers: int = 2,
    cache: str | os.PathLike | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame confusions of generated colour label maps (photo->labels).

    Each map is decoded by nearest Cityscapes label colour at its own size
    (`p2p_eval.data.pix2pix_ab.decode_colors`), then upsampled (nearest) to the trainIds size.
    Parameters as in `score_images`.

    Returns
    -------
    confusions : (N, 19, 20) int64 ndarray
    far_pixels : (N,) int64 ndarray
        Per frame, pixels further than `p2p_eval.scoring.loader.FAR_DISTANCE` from every
        label colour.
    """
    states = _per_frame_states(
        dataset, split, pairs, decode=label_map_input, predict=None, device=torch.device("cpu"),
        batch_size=batch_size, workers=workers, cache=cache, space=label_namespace(),
        progress=progress, desc="label-score",
    )
    return states[:, :-1].reshape(-1, *STATE_SHAPE), states[:, -1].copy()


def _per_frame_states(
    dataset: PreparedDataset,
    split: str,
    pairs: Pairs,
    *,
    decode: Callable,
    predict: Callable[[torch.Tensor], torch.Tensor] | None,
    device: torch.device,
    batch_size: int,
    workers: int,
    cache: str | os.PathLike | None,
    space: str,
    progress: bool,
    desc: str,
) -> np.ndarray:
    """(N, 19 * 20 + 1) int64: flattened confusion and far-pixel count per frame."""
    if batch_size < 1 or workers < 0:
        raise ValueError(f"Expected `batch_size` >= 1 and `workers` >= 0, got {batch_size} and {workers}.")
    images = [Path(path) for _, path in pairs]
    labels = [dataset.path(split, frame, "trainids") for frame, _ in pairs]
    rank, world = _rank_and_world()
    states = np.zeros((len(pairs), int(np.prod(STATE_SHAPE)) + 1), dtype=np.int64)
    mine = list(range(rank, len(pairs), world))
    store, keys = (ItemCache(cache, space), item_keys(images, labels, mine)) if cache is not None else (None, {})
    errors: list[tuple[int, str]] = []
    modes: list[tuple[int, str]] = []
    try:
        found = store.get_many(keys.values()) if store else {}
        todo = [i for i in mine if keys.get(i) not in found]
        for i in set(mine) - set(todo):
            states[i] = found[keys[i]]
        batches = _size_batches(todo, labels, batch_size, errors)
        padded_size = min(batch_size, len(pairs))  # every forward pass the same size (module docstring)
        with tqdm(total=len(mine), initial=len(mine) - len(todo), desc=desc, unit="img", file=sys.stderr,
                  disable=not progress or rank != 0, dynamic_ncols=True) as bar:
            loader = iterate_batches(ScoringItems(images, labels, decode), batches, workers=workers,
                                     pin_memory=device.type == "cuda")
            for batch in loader:
                errors += batch.errors
                modes += batch.modes
                if batch.indices:
                    counts = _batch_confusions(batch, predict, device, padded_size)
                    states[batch.indices, :-1] = counts.reshape(len(batch.indices), -1)
                    states[batch.indices, -1] = batch.far
                    if store:
                        store.put_many({keys[i]: states[i] for i in batch.indices if i in keys})
                bar.update(len(batch.indices) + len(batch.errors))
    finally:
        if store:
            store.close()
    if modes:
        log.warning("%d image(s) were not RGB and were converted to RGB, e.g. %s (%s).",
                    len(modes), images[modes[0][0]], modes[0][1])
    if world > 1:
        states, errors = _sum_across_processes(states, errors, device)
    if errors:
        shown = "\n  ".join(message for _, message in sorted(errors)[:5])
        raise InputError(
            f"{len(errors)} of {len(pairs)} frame(s) could not be scored:\n  {shown}\n"
            "Fix or regenerate these files and re-run"
            + (": the other frames are cached and not recomputed." if cache is not None else ".")
        )
    return states


def _size_batches(todo: list[int], labels: list[Path], batch_size: int, errors: list) -> list[list[int]]:
    """Batches of the items to compute, grouped by label size; unreadable label maps go to `errors`."""
    sizes = {}
    for i in todo:
        try:
            sizes[i] = label_size(labels[i])
        except InputError as err:
            errors.append((i, str(err)))
    order = list(sizes)
    return [[order[k] for k in batch] for batch in size_batches(list(sizes.values()), batch_size)]


def _batch_confusions(
    batch: Batch, predict: Callable[[torch.Tensor], torch.Tensor] | None, device: torch.device, padded_size: int
) -> np.ndarray:
    """(B, 19, 20) confusions of one batch, computed on `device`."""
    inputs = batch.inputs.to(device, non_blocking=True)
    labels = batch.labels.to(device, non_blocking=True)
    n = len(batch.indices)
    if predict is None:
        predicted = inputs
    else:
        if n < padded_size:
            inputs = torch.cat([inputs, inputs.new_zeros((padded_size - n, *inputs.shape[1:]))])
        predicted = predict(inputs)[:n]
    return confusion_delta_torch(predicted, labels, per_item=True).cpu().numpy()


@contextlib.contextmanager
def _exact_fp32():
    """TF32 off while scoring: cuDNN would otherwise run float32 convolutions
    with 10-bit mantissas on Ampere and later GPUs, and predictions would
    depend on the GPU model (the CPU and the official Caffe run full fp32)."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _model_device(model: torch.nn.Module) -> torch.device:
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _rank_and_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _sum_across_processes(
    states: np.ndarray, errors: list[tuple[int, str]], device: torch.device
) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """All-reduce the per-frame states (each process filled only its frames) and gather errors."""
    dist = torch.distributed
    on = device if dist.get_backend() == "nccl" else torch.device("cpu")
    total = torch.from_numpy(states).to(on)
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    gathered: list = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, errors)
    return total.cpu().numpy(), [e for part in gathered for e in part]
