"""The per-class IoU chart, drawn from an fcn-score or label-score results document.

Drawn with matplotlib's Agg backend into an array and written with
`p2p_eval.data.files.write_png`, so a report folder never holds half a file.
The colour marginals (paper Figure 6) are `p2p_eval.measures.colorfulness.plot`'s.
"""

import os
from typing import Any

import numpy as np

from p2p_eval.classes import CLASS_NAMES, PALETTE
from p2p_eval.data.files import write_png
from p2p_eval.measures.colorfulness.plot import literal

def _save(figure: Any, path: str | os.PathLike) -> None:
    import matplotlib.pyplot as plt

    figure.canvas.draw()
    rgb = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
    plt.close(figure)
    write_png(path, rgb)


ABSENT_MARKER = "x"
"""Drawn at 0 for a class absent from the ground truth and never predicted: its IoU does not exist."""
ZERO_MARKER = "|"
"""Drawn at 0 for an IoU of 0 (the class was there, or predicted, and never hit): a bar of no length."""


def per_class_iou_figure(document: dict[str, Any], path: str | os.PathLike) -> bool:
    """Grouped bars of each run's IoU per class (fcn-score or label-score documents).

    Returns
    -------
    drawn : bool
        False (and nothing written) when no run has ``per_class`` detail.
    """
    figure = iou_figure(document)
    if figure is None:
        return False
    _save(figure, path)
    return True


def iou_figure(document: dict[str, Any]) -> Any:
    """The per-class IoU figure (a matplotlib Figure), or None when no run has ``per_class`` detail.

    An IoU of 0 and an IoU that does not exist (class absent, never predicted)
    both have no bar; each gets its own marker at 0 (`ZERO_MARKER`,
    `ABSENT_MARKER`), explained in the legend, so they never look alike.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = [e for e in document["runs"] if e.get("per_class")]
    if not entries:
        return None
    y = np.arange(len(CLASS_NAMES))
    height = 0.8 / len(entries)
    figure, axis = plt.subplots(figsize=(7, 1.0 + 0.32 * len(CLASS_NAMES)), dpi=100)
    handles, labels = [], []  # given to the legend as they are: from the axes, a name starting with "_" is left out
    for i, entry in enumerate(entries):
        iou = np.array([np.nan if c.get("iou") is None else c["iou"] for c in entry["per_class"]])
        at = y + i * height - 0.4 + height / 2
        bars = axis.barh(at, iou, height=height, hatch="//" if entry.get("is_real") else None)
        handles.append(bars)
        labels.append(literal(entry["name"]))
        colour = bars.patches[0].get_facecolor()
        for marker, rows in ((ZERO_MARKER, iou == 0), (ABSENT_MARKER, np.isnan(iou))):
            if rows.any():
                axis.plot(np.zeros(rows.sum()), at[rows], linestyle="none", marker=marker, color=colour,
                          markersize=6, markeredgewidth=1.5, clip_on=False)
    axis.set_yticks(y, CLASS_NAMES)
    for tick, colour in zip(axis.get_yticklabels(), PALETTE):
        tick.set_bbox({"facecolor": colour / 255, "alpha": 0.35, "edgecolor": "none", "pad": 1})
    axis.invert_yaxis()
    axis.set_xlim(0, 1)
    axis.set_xlabel("IoU")
    for marker, meaning in ((ZERO_MARKER, "IoU 0"), (ABSENT_MARKER, "class absent: no IoU")):
        handles.append(plt.Line2D([], [], linestyle="none", marker=marker, color="0.3", markeredgewidth=1.5))
        labels.append(meaning)
    axis.legend(handles, labels, fontsize=8, loc="lower right")
    axis.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return figure
