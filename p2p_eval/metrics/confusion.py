"""Confusion matrices and the FCN-scores computed from them.

State is a ``(C, C + 1)`` matrix of pixel counts: row = ground-truth trainId,
column = predicted trainId, and a last column for predictions that are no
train class (a segmenter's extra "void" output, or anything >= C). Those
pixels count as errors; they never vanish from the totals. Ground-truth
pixels labelled `ignore_index` are left out, as in the official evaluation.
"""

from typing import Literal

import numpy as np
import torch

from p2p_eval.classes import IGNORE, NUM_CLASSES

AbsentRule = Literal["nan", "zero"]
ABSENT_RULES = ("nan", "zero")
SCORES = ("pixel_acc", "class_acc", "class_iou")


def _check_labels(target: np.ndarray | torch.Tensor, num_classes: int, ignore_index: int) -> None:
    bad = (target >= num_classes) & (target != ignore_index)
    if bad.any():
        values = np.unique(np.asarray(target[bad].cpu() if torch.is_tensor(target) else target[bad]))
        raise ValueError(f"Expected trainIds in [0, {num_classes}) or {ignore_index}, got {values[:5].tolist()}.")


def confusion_delta(
    pred: np.ndarray, target: np.ndarray, num_classes: int = NUM_CLASSES, ignore_index: int = IGNORE,
    *, validate: bool = True,
) -> np.ndarray:
    """Confusion counts of one batch of label maps.

    Parameters
    ----------
    pred : (...) integer ndarray
        Predicted trainIds; values outside [0, `num_classes`) land in the last column.
    target : (...) integer ndarray
        Ground-truth trainIds, same shape; `ignore_index` pixels are skipped.

    Returns
    -------
    counts : (num_classes, num_classes + 1) int64 ndarray

    Examples
    --------
    >>> confusion_delta(np.array([0, 1, 1, 7]), np.array([0, 1, 0, 255]), num_classes=2).tolist()
    [[1, 1, 0], [0, 1, 0]]
    """
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(f"Expected `pred` and `target` of the same shape, got {pred.shape} and {target.shape}.")
    if validate:
        _check_labels(target, num_classes, ignore_index)
    keep = target != ignore_index
    p = pred[keep].astype(np.int64)
    p = np.where((p >= 0) & (p < num_classes), p, num_classes)
    idx = target[keep].astype(np.int64) * (num_classes + 1) + p
    return np.bincount(idx, minlength=num_classes * (num_classes + 1)).reshape(num_classes, num_classes + 1)


def confusion_delta_torch(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int = NUM_CLASSES, ignore_index: int = IGNORE,
    *, per_item: bool = False,
) -> torch.Tensor:
    """`confusion_delta` on tensors, on their device (no host round trip).

    Parameters
    ----------
    pred, target : (N, ...) integer tensors
        As in `confusion_delta`; `target` is not validated here (hot loop).
    per_item : bool, optional
        Count each item of the leading axis separately (one bincount for the
        whole batch, offset per item) instead of summing over the batch.

    Returns
    -------
    counts : (num_classes, num_classes + 1) or (N, num_classes, num_classes + 1) int64 tensor
    """
    if pred.shape != target.shape:
        raise ValueError(f"Expected `pred` and `target` of the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}.")
    target = target.long()
    pred = pred.long()
    keep = target != ignore_index
    p = torch.where((pred >= 0) & (pred < num_classes), pred, num_classes)
    cells = num_classes * (num_classes + 1)
    idx = target * (num_classes + 1) + p
    if not per_item:
        return torch.bincount(idx[keep], minlength=cells).reshape(num_classes, num_classes + 1)
    n = pred.shape[0]
    offsets = torch.arange(n, device=idx.device).view(n, *([1] * (idx.dim() - 1))) * cells
    # Ignored pixels go to one spare bin instead of being masked out: a boolean
    # index would compact the tensor (and wait for the GPU) on every batch.
    flat = torch.where(keep, idx + offsets, n * cells).reshape(-1)
    counts = torch.bincount(flat, minlength=n * cells + 1)[: n * cells]
    return counts.reshape(n, num_classes, num_classes + 1)


def per_class_scores(counts: np.ndarray, absent_classes: AbsentRule = "nan") -> tuple[np.ndarray, np.ndarray]:
    """Per-class accuracy and IoU of confusion counts.

    Parameters
    ----------
    counts : (..., C, C + 1) ndarray
        One or a stack of confusion states.
    absent_classes : {"nan", "zero"}
        For a class absent from the ground truth: "nan" (cityscapesScripts)
        gives accuracy NaN, and IoU 0 if it was predicted, else NaN; "zero"
        (the official pix2pix script, whose ``+ 1e-12`` makes 0/0 = 0) gives 0
        for both.

    Returns
    -------
    acc, iou : (..., C) float64 ndarrays
    """
    if absent_classes not in ABSENT_RULES:
        raise ValueError(f"Expected `absent_classes` in {ABSENT_RULES}, got {absent_classes!r}.")
    counts = np.asarray(counts, dtype=np.float64)
    c = counts.shape[-2]
    tp = np.diagonal(counts[..., :c], axis1=-2, axis2=-1)
    rows = counts.sum(-1)
    cols = counts[..., :c].sum(-2)
    union = rows + cols - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = tp / rows
        iou = tp / union
    if absent_classes == "zero":
        acc = np.nan_to_num(acc, nan=0.0)
        iou = np.nan_to_num(iou, nan=0.0)
    return acc, iou


def fcn_scores(counts: np.ndarray, absent_classes: AbsentRule = "nan") -> dict[str, np.ndarray]:
    """Per-pixel accuracy, mean per-class accuracy and mean class IoU.

    The official formulas (pix2pix ``scripts/eval_cityscapes/util.py``):
    pixel acc = trace / total, class acc = mean over classes of diag / row
    sum, class IoU = mean of diag / (row + column - diag). NaN classes are left
    out of the means (see `per_class_scores` for which are NaN).

    Parameters
    ----------
    counts : (..., C, C + 1) ndarray

    Returns
    -------
    scores : dict of str to (...) float64 ndarray
        Keys `SCORES`; 0-d arrays for a single state.

    Examples
    --------
    >>> s = fcn_scores(np.array([[3, 1, 0], [0, 4, 0]]))
    >>> round(float(s["pixel_acc"]), 3), round(float(s["class_iou"]), 3)
    (0.875, 0.775)
    """
    counts = np.asarray(counts, dtype=np.float64)
    c = counts.shape[-2]
    acc, iou = per_class_scores(counts, absent_classes)
    total = counts.sum((-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        pixel_acc = np.diagonal(counts[..., :c], axis1=-2, axis2=-1).sum(-1) / total
    return {"pixel_acc": pixel_acc, "class_acc": _nanmean(acc), "class_iou": _nanmean(iou)}


def _nanmean(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis ignoring NaN; NaN (no warning) when all are NaN."""
    present = ~np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(present, values, 0).sum(-1) / present.sum(-1)


class ConfusionMatrix:
    """Accumulated confusion counts: `update` per batch, `merge` across workers, `compute` scores."""

    def __init__(self, num_classes: int = NUM_CLASSES, ignore_index: int = IGNORE, validate: bool = True):
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"Expected argument `num_classes` to be an int >= 2, got {num_classes!r}.")
        self.num_classes, self.ignore_index, self.validate = num_classes, ignore_index, validate
        self.reset()

    def reset(self) -> None:
        self.counts = np.zeros((self.num_classes, self.num_classes + 1), dtype=np.int64)

    def update(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Add one batch; returns the batch's own counts (for per-image state)."""
        delta = confusion_delta(pred, target, self.num_classes, self.ignore_index, validate=self.validate)
        self.counts += delta
        return delta

    def merge(self, other: "ConfusionMatrix") -> None:
        self.counts += other.counts

    def compute(self, absent_classes: AbsentRule = "nan") -> dict[str, float]:
        return {k: float(v) for k, v in fcn_scores(self.counts, absent_classes).items()}
