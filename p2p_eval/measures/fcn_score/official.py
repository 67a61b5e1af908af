"""The numbers pix2pix's official ``scripts/eval_cityscapes/evaluate.py`` prints, quirks included.

The official loop segments each frame (``segrun``: the argmax over *all* the
network's outputs, ``net.blobs['score'].data[0].argmax(axis=0)``, 20 for the
published FCN-8s) and adds ``fast_hist(label.flatten(), out.flatten(), n_cl)``
with ``n_cl = 19`` (``util.py``)::

    k = np.where((a >= 0) & (a < n))[0]
    bc = np.bincount(n * a[k].astype(int) + b[k], minlength=n**2)
    if len(bc) != n**2:
        # ignore this example if dimension mismatch
        return 0
    return bc.reshape(n, n)

so a pixel predicted as output c >= 19 at ground truth g lands at index
19 g + c: at g < 18 and c = 19 that is cell (g + 1, road), and where the
index reaches 19² (g = 18, bicycle) the bincount grows, ``fast_hist`` returns
0 and the *whole frame* is dropped. ``get_scores`` then divides with
``+ 1e-12`` (an absent class scores 0, an empty histogram 0)::

    acc = np.diag(hist).sum() / (hist.sum() + 1e-12)
    cl_acc = np.diag(hist) / (hist.sum(1) + 1e-12)
    iu = np.diag(hist) / (hist.sum(1) + hist.sum(0) - np.diag(hist) + 1e-12)
    return acc, np.nanmean(cl_acc), np.nanmean(iu), cl_acc, iu

Per frame this module keeps the official histogram with the drop rule
applied (`OFFICIAL_HIST`, zero for a dropped frame, as the script adds 0) and
whether the frame was dropped (`FRAMES_DROPPED`): sums of both over any
resample of frames are what the script would have summed, so the bootstrap
and paired tests resample the official numbers like any other state.
"""

from typing import TYPE_CHECKING

import numpy as np

from p2p_eval.classes import NUM_CLASSES
from p2p_eval.measures.states import State

OFFICIAL_HIST = State("official_hist", (NUM_CLASSES, NUM_CLASSES))
"""The frame's ``fast_hist``: ground-truth rows, raw output channel columns, zero when dropped."""
FRAMES_DROPPED = State("official_dropped")
"""1 when ``fast_hist`` dropped the frame (an output channel pushed an index past 19²), else 0."""
STATES = (OFFICIAL_HIST, FRAMES_DROPPED)
_EPS = 1e-12  # get_scores' own

if TYPE_CHECKING:  # torch is imported where frames are counted: reading scores (results files) needs none
    import torch


def official_hists(channels: "torch.Tensor", labels: "torch.Tensor",
                   n: int = NUM_CLASSES) -> "tuple[torch.Tensor, torch.Tensor]":
    """``fast_hist(label.flatten(), out.flatten(), n)`` of each item of a batch, on its device.

    Parameters
    ----------
    channels : (N, H, W) integer tensor
        The argmax output *channel* per pixel (not mapped to trainIds: the
        official script uses the channel index as the class).
    labels : (N, H, W) uint8 tensor
        Ground-truth trainIds (255 and any value >= `n` are left out, as ``(a >= 0) & (a < n)``).
    n : int, optional

    Returns
    -------
    hists : (N, n, n) int64 tensor
        Each item's histogram, all zero where the item was dropped.
    dropped : (N,) int64 tensor
        1 where ``fast_hist`` returned 0 because its bincount grew past n².

    Examples
    --------
    >>> import torch
    >>> labels = torch.tensor([[[0, 1, 255]], [[18, 0, 0]]], dtype=torch.uint8)
    >>> hists, dropped = official_hists(torch.tensor([[[19, 1, 19]], [[19, 0, 0]]]), labels)
    >>> hists[0][1, 0].item(), hists[0][1, 1].item(), dropped.tolist()   # (0, 19) -> (1, 0); frame 2 dropped
    (1, 1, [0, 1])
    """
    import torch

    items = channels.shape[0]
    keep = labels < n
    index = labels.long() * n + channels.long()
    dropped = (keep & (index >= n * n)).flatten(1).any(1)
    offsets = torch.arange(items, device=index.device).view(items, *([1] * (index.dim() - 1))) * (n * n)
    flat = torch.where(keep & (index < n * n), index + offsets, items * n * n).reshape(-1)  # spare bin: not counted
    hists = torch.bincount(flat, minlength=items * n * n + 1)[: items * n * n].reshape(items, n, n)
    return hists * (~dropped).view(items, 1, 1), dropped.long()


def official_scores(hists: np.ndarray) -> dict[str, np.ndarray]:
    """``get_scores`` of summed official histograms: pixel, mean class accuracy and mean class IoU.

    Parameters
    ----------
    hists : (..., n, n) array
        One summed histogram, or a stack of bootstrap replicates.

    Returns
    -------
    scores : dict of str to (...) float64 ndarray
        ``pixel_acc``, ``class_acc``, ``class_iou``.
    """
    per_class = official_per_class(hists)
    hists = np.asarray(hists, dtype=np.float64)
    diag = np.diagonal(hists, axis1=-2, axis2=-1)
    return {"pixel_acc": diag.sum(-1) / (hists.sum((-2, -1)) + _EPS),
            "class_acc": np.nanmean(per_class[0], axis=-1), "class_iou": np.nanmean(per_class[1], axis=-1)}


def official_per_class(hists: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``get_scores``' per-class accuracy and IoU, (..., n) each (0 for an absent class)."""
    hists = np.asarray(hists, dtype=np.float64)
    diag = np.diagonal(hists, axis1=-2, axis2=-1)
    rows, cols = hists.sum(-1), hists.sum(-2)
    return diag / (rows + _EPS), diag / (rows + cols - diag + _EPS)
