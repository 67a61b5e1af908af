"""label-score of one set of label maps, for code that calls the library directly."""

import os

import numpy as np

from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.distributed import SINGLE, Distributed
from p2p_eval.measures.base import Frame
from p2p_eval.measures.fcn_score.pipeline import Pairs
from p2p_eval.measures.label_score.measure import LabelScore
from p2p_eval.session.engine import compute_states


def score_label_maps(
    dataset: PreparedDataset,
    split: str,
    pairs: Pairs,
    *,
    batch_size: int = 8,
    workers: int = 2,
    cache: str | os.PathLike | None = None,
    progress: bool = True,
    distributed: Distributed = SINGLE,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame confusions of generated colour label maps (photo->labels).

    Each map is decoded by nearest Cityscapes label colour at its own size
    (`p2p_eval.data.pix2pix_ab.decode_colors`), then upsampled (nearest) to the
    trainIds size. Parameters as in `p2p_eval.measures.fcn_score.pipeline.score_images`.

    Returns
    -------
    confusions : (N, 19, 20) int64 ndarray
    far_pixels : (N,) int64 ndarray
        Per frame, pixels further than `p2p_eval.data.pix2pix_ab.FAR_DISTANCE`
        from every label colour.
    """
    states = compute_states(LabelScore(dataset), pairs, [Frame(dataset, split, f) for f, _ in pairs],
                            batch_size=batch_size, workers=workers, cache=cache, distributed=distributed,
                            progress=progress, desc="label-score")
    return np.ascontiguousarray(states["confusion"]), np.ascontiguousarray(states["far_pixels"])
