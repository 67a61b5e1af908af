"""The paper's colorfulness figure (v3 Figure 7(a-c), CVPR Figure 6) from a results document.

One panel per Lab channel: the log probability of each bin of every run's
marginal histogram, the real photos' marginal dotted, one legend for all
panels. Drawn from the results file alone, so reports can redraw it.
"""

import os
from pathlib import Path
from typing import Any

import numpy as np

from p2p_eval.data.outputs import atomic_output
from p2p_eval.metrics.colorfulness import CHANNELS
from p2p_eval.paper import GROUND_TRUTH, TABLES

FIGSIZE = (12.0, 3.6)  # inches; with DPI the PNG is 1800 x 540 pixels
DPI = 150
_AXIS_LABELS = {"L": "L*", "a": "a*", "b": "b*"}


def _bin_centres(binning: dict[str, Any], channel: str) -> np.ndarray:
    low, high = binning[channel]["range"]
    edges = np.linspace(low, high, binning[channel]["bins"] + 1)
    return (edges[:-1] + edges[1:]) / 2


def _log_probability(counts: list[int]) -> np.ndarray:
    """Natural log of each bin's share of the pixels; empty bins are NaN."""
    counts = np.asarray(counts, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = np.log(counts / counts.sum())
    logp[~np.isfinite(logp)] = np.nan
    return logp


def literal(text: str) -> str:
    """`text` as matplotlib draws it letter for letter: its ``$`` escaped, since a pair starts mathtext
    (a run named ``bad $\\foo$`` stopped the drawing with a parse error)."""
    return text.replace("$", r"\$")


def _legend_label(entry: dict[str, Any]) -> str:
    paper_label = TABLES["colorfulness"].label_of(entry.get("variant") or "")
    name = entry["name"]
    return literal(f"{name} ({paper_label})" if paper_label and paper_label != name else name)


def plot_colorfulness(document: dict[str, Any], path: str | os.PathLike) -> list[Path]:
    """Draw the marginals of a colorfulness results document to PNG and PDF.

    Parameters
    ----------
    document : dict
        A results document of kind ``"colorfulness"``.
    path : path-like
        The PNG to write (``FIGSIZE`` x ``DPI`` pixels); the PDF goes beside
        it with the suffix ``.pdf``.

    Returns
    -------
    written : list of Path
        The PNG and the PDF, each written atomically.
    """
    path = Path(path)
    figure = colorfulness_figure(document)
    written = []
    for target in (path, path.with_suffix(".pdf")):
        with atomic_output(target) as f:  # a temporary name of its own: two commands may plot at once
            figure.savefig(f, format=target.suffix[1:] or "png", dpi=DPI)
        written.append(target)
    return written


def colorfulness_figure(document: dict[str, Any]) -> Any:
    """The marginals figure (a matplotlib Figure) of a colorfulness results document."""
    from matplotlib.figure import Figure

    binning = document["protocol"]["binning"]
    figure = Figure(figsize=FIGSIZE, dpi=DPI)
    axes = figure.subplots(1, 3)
    runs = [r for r in document["runs"] if not r.get("is_real")]
    curves = {c: [_log_probability(r["histograms"][c]) for r in runs] for c in CHANNELS}
    reference = {c: _log_probability(document["data"]["reference"][c]) for c in CHANNELS}
    # Empty bins are drawn at a floor below every curve, so a run whose pixels fall
    # in a few isolated bins (an L1 run's flat colours) shows as spikes, not nothing.
    finite = [v[np.isfinite(v)] for c in CHANNELS for v in (*curves[c], reference[c])]
    floor = float(min((v.min() for v in finite if v.size), default=-1.0)) - 1.0
    handles = []
    for ax, channel in zip(axes, CHANNELS):
        x = _bin_centres(binning, channel)
        lines = [ax.plot(x, np.nan_to_num(logp, nan=floor), color=f"C{index}", lw=1.2)[0]
                 for index, logp in enumerate(curves[channel])]
        lines += ax.plot(x, np.nan_to_num(reference[channel], nan=floor), "k:", lw=1.6)
        handles = handles or lines  # the first panel's lines stand for all three
        ax.set_ylim(bottom=floor)
        drawn = np.flatnonzero(np.isfinite(np.stack([*curves[channel], reference[channel]])).any(axis=0))
        if drawn.size:  # zoom to the occupied bins, one bin of margin
            ax.set_xlim(x[max(drawn[0] - 1, 0)], x[min(drawn[-1] + 1, len(x) - 1)])
        ax.set_xlabel(_AXIS_LABELS[channel])
        ax.set_title(f"({'abc'[CHANNELS.index(channel)]}) {_AXIS_LABELS[channel]}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("log probability")
    # Labels given with their handles: taken from the axes, a label starting with "_" is left out.
    labels = [*map(_legend_label, runs), f"{GROUND_TRUTH} (real photos)"]
    figure.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), frameon=False)
    figure.subplots_adjust(left=0.06, right=0.99, top=0.9, bottom=0.24, wspace=0.25)
    return figure
