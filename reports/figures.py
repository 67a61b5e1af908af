"""Figures drawn from results documents: colour marginals (paper Figure 6) and per-class IoU.

Figures are drawn with matplotlib's Agg backend into arrays and written with
`p2p_eval.data.files.write_png`, so a report folder never holds half a file.
"""

import os
from typing import Any

import numpy as np

from p2p_eval.classes import CLASS_NAMES, PALETTE
from p2p_eval.data.files import write_png

CHANNELS = ("L", "a", "b")


def _save(figure: Any, path: str | os.PathLike) -> None:
    import matplotlib.pyplot as plt

    figure.canvas.draw()
    rgb = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
    plt.close(figure)
    write_png(path, rgb)


def _bin_centres(binning: dict[str, Any], channel: str, n_bins: int) -> tuple[np.ndarray, str]:
    """Bin centres in Lab units from ``protocol.binning[channel]["range"]``, else bin numbers."""
    spec = binning.get(channel) if isinstance(binning, dict) else None
    bounds = spec.get("range") if isinstance(spec, dict) else None
    if bounds and len(bounds) == 2:
        edges = np.linspace(float(bounds[0]), float(bounds[1]), n_bins + 1)
        return (edges[:-1] + edges[1:]) / 2, f"{channel}*"
    return np.arange(n_bins), f"{channel}* (bin)"


def _log_probability(counts: list[int]) -> np.ndarray:
    """log of each bin's share of all pixels; empty bins are not drawn."""
    counts = np.asarray(counts, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(counts > 0, np.log(counts / max(counts.sum(), 1.0)), np.nan)


def colorfulness_figure(document: dict[str, Any], path: str | os.PathLike) -> None:
    """Log-probability marginals of L, a, b per run, the real photos dotted (paper Figure 6).

    Parameters
    ----------
    document : dict
        A ``colorfulness`` results document; runs' ``histograms`` and
        ``data.reference`` hold per-bin pixel counts of each channel.
    path : path-like
        PNG to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reference = (document.get("data") or {}).get("reference") or {}
    binning = (document.get("protocol") or {}).get("binning") or {}
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.4), dpi=100)
    for axis, channel in zip(axes, CHANNELS):
        for entry in document["runs"]:
            counts = (entry.get("histograms") or {}).get(channel)
            if counts:
                x, xlabel = _bin_centres(binning, channel, len(counts))
                axis.plot(x, _log_probability(counts), label=entry["name"], linewidth=1.4)
        if reference.get(channel):
            x, xlabel = _bin_centres(binning, channel, len(reference[channel]))
            axis.plot(x, _log_probability(reference[channel]), "k:", label="Ground truth", linewidth=2)
        else:
            xlabel = channel
        axis.set_xlabel(xlabel)
        axis.set_ylabel("log P")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    _save(figure, path)


def per_class_iou_figure(document: dict[str, Any], path: str | os.PathLike) -> bool:
    """Grouped bars of each run's IoU per class (fcn-score or label-score documents).

    Returns
    -------
    drawn : bool
        False (and nothing written) when no run has ``per_class`` detail.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = [e for e in document["runs"] if e.get("per_class")]
    if not entries:
        return False
    y = np.arange(len(CLASS_NAMES))
    height = 0.8 / len(entries)
    figure, axis = plt.subplots(figsize=(7, 1.0 + 0.32 * len(CLASS_NAMES)), dpi=100)
    for i, entry in enumerate(entries):
        iou = [np.nan if c.get("iou") is None else c["iou"] for c in entry["per_class"]]
        axis.barh(y + i * height - 0.4 + height / 2, iou, height=height, label=entry["name"],
                  hatch="//" if entry.get("is_real") else None)
    axis.set_yticks(y, CLASS_NAMES)
    for tick, colour in zip(axis.get_yticklabels(), PALETTE):
        tick.set_bbox({"facecolor": colour / 255, "alpha": 0.35, "edgecolor": "none", "pad": 1})
    axis.invert_yaxis()
    axis.set_xlim(0, 1)
    axis.set_xlabel("IoU (no bar: class absent, IoU undefined)")
    axis.legend(fontsize=8, loc="lower right")
    axis.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    _save(figure, path)
    return True
