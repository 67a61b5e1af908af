"""A freshly trained segmenter's own scores: real photos of a split, scored like generated ones.

This is the "ground truth" row of the paper's FCN-score tables, stored in the
checkpoint so every later score can be read against it.
"""

from typing import Any

import numpy as np
import torch

from p2p_eval.classes import TRAIN_CLASSES
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.measures.fcn_score.pipeline import real_pairs, score_images
from p2p_eval.metrics.confusion import fcn_scores, per_class_scores
from p2p_eval.segmenters import Segmenter


def evaluate_real(
    segmenter: Segmenter, dataset: PreparedDataset, split: str, *, batch_size: int, workers: int,
    device: torch.device, progress: bool = True,
) -> dict[str, Any]:
    """Score the real photos of `split` with the suite's scoring pipeline.

    Returns
    -------
    scores : dict
        ``split``, ``n_images``, ``pixel_acc``, ``class_acc``, ``class_iou``,
        ``per_class`` (19 x {name, acc, iou}; None for a class absent from the
        split), ``confusion`` (19 x 19 counts, ground truth rows),
        ``confusion_other`` (19 counts predicted as no train class) and
        ``protocol``, as in an fcn-score results file.
    """
    pairs = real_pairs(dataset, split)
    confusions = score_images(
        segmenter, dataset, split, pairs, batch_size=batch_size, workers=workers, device=device, progress=progress
    )
    counts = confusions.sum(0)
    scores = fcn_scores(counts)
    acc, iou = per_class_scores(counts)
    return {
        "split": split,
        "n_images": len(pairs),
        **{name: _number(value) for name, value in scores.items()},
        "per_class": [
            {"name": c.name, "acc": _number(a), "iou": _number(i)} for c, a, i in zip(TRAIN_CLASSES, acc, iou)
        ],
        "confusion": counts[:, :-1].tolist(),
        "confusion_other": counts[:, -1].tolist(),
        "protocol": {
            "images": "real photos at generation size",
            "resize": "Pillow bilinear on uint8 to label resolution",
            "absent_classes": "nan",
        },
    }


def _number(value: np.ndarray | float) -> float | None:
    value = float(value)
    return None if np.isnan(value) else value
