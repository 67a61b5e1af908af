"""FCN-score of one set of images, for code that holds a segmenter (trainers, benchmarks, notebooks).

The subcommand goes through the shared session (`p2p_eval.session`); these
functions run the same per-frame computation (`p2p_eval.session.engine`) on
(frame, image) pairs the caller chose.
"""

import os
from collections.abc import Sequence

import numpy as np
import torch

from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.distributed import SINGLE, Distributed
from p2p_eval.measures.base import Frame
from p2p_eval.measures.fcn_score.measure import FcnScore
from p2p_eval.segmenters.checkpoint import Segmenter
from p2p_eval.session.engine import compute_states

Pairs = Sequence[tuple[str, str | os.PathLike]]


def score_images(
    segmenter: Segmenter,
    dataset: PreparedDataset,
    split: str,
    pairs: Pairs,
    *,
    batch_size: int | None = None,
    workers: int = 2,
    device: torch.device | str | None = None,
    cache: str | os.PathLike | None = None,
    progress: bool = True,
    distributed: Distributed = SINGLE,
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
        Frames per forward pass (frames of different label size never share one); default: fcn-score's
        on the device (1 on a CPU, 4 on CUDA).
    workers : int, optional
        Decoding threads (0 decodes each batch when it is needed).
    device : torch.device or str, optional
        Where the segmenter runs (moved there); default: where it already is.
    cache : path-like, optional
        SQLite cache file (`p2p_eval.cache.cache_path_for`); states are keyed by
        image and label content under the segmenter's namespace.
    progress : bool, optional
        tqdm bar on stderr (rank 0 only).
    distributed : Distributed, optional
        Shard the frames over torchrun processes (each returns the whole array).

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
    measure = FcnScore(segmenter, dataset, device=None if device is None else torch.device(device))
    states = compute_states(measure, pairs, [Frame(dataset, split, f) for f, _ in pairs],
                            batch_size=batch_size or measure.default_batch_size,
                            workers=workers, cache=cache, distributed=distributed, progress=progress,
                            desc="fcn-score")
    return np.ascontiguousarray(states["confusion"])


def real_pairs(dataset: PreparedDataset, split: str, kind: str = "photo") -> list[tuple[str, os.PathLike]]:
    """The ground-truth row's input: every frame of `split` with its real photo
    (``kind="photo"``, for `score_images`) or colour label map (``"color"``,
    for `p2p_eval.measures.label_score.pipeline.score_label_maps`), both at generation size."""
    return [(frame, dataset.path(split, frame, kind)) for frame in dataset.frames(split)]
