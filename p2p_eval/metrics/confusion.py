"""Confusion matrices and the FCN-scores computed from them.

State is a ``(C, C + 1)`` matrix of pixel counts: row = ground-truth trainId,
column = predicted trainId, and a last column for predictions that are no
train class (a segmenter's extra "void" output, or anything >= C). Those
pixels count as errors; they never vanish from the totals. Ground-truth
pixels labelled `ignore_index` are left out, as in the official evaluation.

Staged as torchmetrics' classification metrics: `_check_labels` validates
the ground truth, `confusion_matrices` is the update (each item's increment,
on the tensors' device, no host round trip), and `fcn_scores` /
`per_class_scores` compute, as pure functions of summed state (one matrix, or
a stack of bootstrap replicates).
"""

from typing import TYPE_CHECKING, Literal

import numpy as np

from p2p_eval.classes import IGNORE, NUM_CLASSES

if TYPE_CHECKING:  # torch is imported where tensors are counted: reading scores needs none
    import torch

AbsentRule = Literal["nan", "zero"]
ABSENT_RULES = ("nan", "zero")
SCORES = ("pixel_acc", "class_acc", "class_iou")


def _check_labels(target: "torch.Tensor", num_classes: int, ignore_index: int) -> None:
    bad = (target >= num_classes) & (target != ignore_index)
    if bad.any():
        values = target[bad].unique().cpu().tolist()
        raise ValueError(f"Expected trainIds in [0, {num_classes}) or {ignore_index}, got {values[:5]}.")


def confusion_matrices(
    pred: "torch.Tensor", target: "torch.Tensor", num_classes: int = NUM_CLASSES, ignore_index: int = IGNORE,
    *, validate: bool = True,
) -> "torch.Tensor":
    """Confusion counts of each item of a batch of label maps.

    Parameters
    ----------
    pred : (N, ...) integer tensor
        Predicted trainIds; values outside [0, `num_classes`) land in the last column.
    target : (N, ...) integer tensor
        Ground-truth trainIds, same shape; `ignore_index` pixels are skipped.
    num_classes, ignore_index : int, optional
    validate : bool, optional
        Check that `target` holds only trainIds and `ignore_index` (off in the
        scoring loop, whose label files were checked when read).

    Returns
    -------
    counts : (N, num_classes, num_classes + 1) int64 tensor
        Item i's counts; summed over items they are the batch's matrix.

    Raises
    ------
    ValueError
        If the shapes differ, or (`validate`) `target` holds another value.

    Examples
    --------
    >>> import torch
    >>> pred, target = torch.tensor([[0, 1, 1, 7]]), torch.tensor([[0, 1, 0, 255]])
    >>> confusion_matrices(pred, target, num_classes=2)[0].tolist()
    [[1, 1, 0], [0, 1, 0]]
    """
    if pred.shape != target.shape or pred.dim() < 1:
        raise ValueError(f"Expected `pred` and `target` of the same (N, ...) shape, got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}.")
    import torch

    if validate:
        _check_labels(target, num_classes, ignore_index)
    target = target.long()
    pred = pred.long()
    keep = target != ignore_index
    p = torch.where((pred >= 0) & (pred < num_classes), pred, num_classes)
    cells = num_classes * (num_classes + 1)
    idx = target * (num_classes + 1) + p
    n = pred.shape[0]
    offsets = torch.arange(n, device=idx.device).view(n, *([1] * (idx.dim() - 1))) * cells
    # Ignored pixels go to one spare bin instead of being masked out: a boolean
    # index would compact the tensor (and wait for the GPU) on every batch.
    flat = torch.where(keep, idx + offsets, n * cells).reshape(-1)
    counts = torch.bincount(flat, minlength=n * cells + 1)[: n * cells]
    return counts.reshape(n, num_classes, num_classes + 1)


def per_class_scores(counts: np.ndarray, absent_rule: AbsentRule = "nan") -> tuple[np.ndarray, np.ndarray]:
    """Per-class accuracy and IoU of confusion counts.

    Parameters
    ----------
    counts : (..., C, C + 1) ndarray
        One or a stack of confusion states.
    absent_rule : {"nan", "zero"}
        For a class absent from the ground truth: "nan" (cityscapesScripts)
        gives accuracy NaN, and IoU 0 if it was predicted, else NaN; "zero"
        (the official pix2pix script, whose ``+ 1e-12`` makes 0/0 = 0) gives 0
        for both.

    Returns
    -------
    acc, iou : (..., C) float64 ndarrays
    """
    if absent_rule not in ABSENT_RULES:
        raise ValueError(f"Expected `absent_rule` in {ABSENT_RULES}, got {absent_rule!r}.")
    counts = np.asarray(counts, dtype=np.float64)
    c = counts.shape[-2]
    tp = np.diagonal(counts[..., :c], axis1=-2, axis2=-1)
    rows = counts.sum(-1)
    cols = counts[..., :c].sum(-2)
    union = rows + cols - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = tp / rows
        iou = tp / union
    if absent_rule == "zero":
        acc = np.nan_to_num(acc, nan=0.0)
        iou = np.nan_to_num(iou, nan=0.0)
    return acc, iou


def fcn_scores(counts: np.ndarray, absent_rule: AbsentRule = "nan") -> dict[str, np.ndarray]:
    """Per-pixel accuracy, mean per-class accuracy and mean class IoU.

    The official formulas (pix2pix ``scripts/eval_cityscapes/util.py``):
    pixel acc = trace / total, class acc = mean over classes of diag / row
    sum, class IoU = mean of diag / (row + column - diag). NaN classes are left
    out of the means (see `per_class_scores` for which are NaN).

    Parameters
    ----------
    counts : (..., C, C + 1) ndarray
    absent_rule : {"nan", "zero"}, optional
        See `per_class_scores`.

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
    acc, iou = per_class_scores(counts, absent_rule)
    total = counts.sum((-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        pixel_acc = np.diagonal(counts[..., :c], axis1=-2, axis2=-1).sum(-1) / total
    return {"pixel_acc": pixel_acc, "class_acc": _nanmean(acc), "class_iou": _nanmean(iou)}


def _nanmean(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis ignoring NaN; NaN (no warning) when all are NaN."""
    present = ~np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(present, values, 0).sum(-1) / present.sum(-1)
