"""From per-frame confusions to results entries, the printed table and CSV.

Pure functions of the per-frame states: nothing here reads an image again.
"""

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from p2p_eval.classes import CLASS_NAMES, NUM_CLASSES
from p2p_eval.metrics.confusion import SCORES, AbsentRule, fcn_scores, per_class_scores
from p2p_eval.stats import bootstrap_scores, paired_bootstrap_test

SCORE_TITLES = {"pixel_acc": "Per-pixel acc.", "class_acc": "Per-class acc.", "class_iou": "Class IOU"}
"""Column titles as the paper prints them."""


@dataclass(frozen=True)
class ScoredRun:
    """One row of a scoring: a run (or the real photos) and its per-frame states.

    Attributes
    ----------
    name, variant, preset : str, str or None, str or None
    is_real : bool
        The ground-truth row (real photos or the dataset's own label maps).
    frames : tuple of str
        Frame ids, aligned with `confusions`.
    confusions : (N, 19, 20) int64 ndarray
    far_pixels : (N,) int64 ndarray or None
        Label-score only: pixels far from every label colour, per frame.
    """

    name: str
    variant: str | None
    preset: str | None
    is_real: bool
    frames: tuple[str, ...]
    confusions: np.ndarray
    far_pixels: np.ndarray | None = None


@dataclass(frozen=True)
class Bootstrap:
    """Bootstrap settings, recorded in every results file."""

    resamples: int = 1000
    seed: int = 0
    confidence: float = 0.95

    def __post_init__(self):
        if self.resamples < 1:
            raise ValueError(f"Expected `resamples` >= 1, got {self.resamples}.")
        if not 0 < self.confidence < 1:
            raise ValueError(f"Expected `confidence` in (0, 1), got {self.confidence}.")


def run_entry(run: ScoredRun, absent: AbsentRule, boot: Bootstrap, baseline: ScoredRun | None = None) -> dict:
    """The results entry of one run (fields listed in the README, "Results files").

    Parameters
    ----------
    run : ScoredRun
    absent : {"nan", "zero"}
        Absent-class rule (`p2p_eval.metrics.confusion.per_class_scores`).
    boot : Bootstrap
    baseline : ScoredRun, optional
        Paired bootstrap test of `run` against it, over the frames both have.
    """

    def scorer(states: np.ndarray) -> dict[str, np.ndarray]:
        return fcn_scores(states, absent)

    intervals = bootstrap_scores(run.confusions, scorer, n_resamples=boot.resamples, seed=boot.seed,
                                 confidence=boot.confidence)
    total = run.confusions.sum(axis=0)
    acc, iou = per_class_scores(total, absent)
    entry = {
        "name": run.name,
        "variant": run.variant,
        "preset": run.preset,
        "is_real": run.is_real,
        "n_images": len(run.frames),
        **{score: intervals[score].value for score in SCORES},
        "intervals": {score: intervals[score].as_list() for score in SCORES},
        "baseline_test": None,
        "per_class": [{"name": name, "acc": float(a), "iou": float(i)} for name, a, i in zip(CLASS_NAMES, acc, iou)],
        "confusion": total[:, :NUM_CLASSES].tolist(),
        "confusion_other": total[:, NUM_CLASSES].tolist(),
    }
    if baseline is not None and baseline.name != run.name:
        entry["baseline_test"] = _paired_test(run, baseline, scorer, boot)
    if run.far_pixels is not None:
        entry["far_pixels"] = int(run.far_pixels.sum())
    return entry


def _paired_test(run: ScoredRun, baseline: ScoredRun, scorer, boot: Bootstrap) -> dict:
    position = {frame: i for i, frame in enumerate(baseline.frames)}
    shared = [(i, position[f]) for i, f in enumerate(run.frames) if f in position]
    if not shared:
        return {"baseline": baseline.name, "n_images": 0}
    mine, theirs = zip(*shared)
    tests = paired_bootstrap_test(run.confusions[list(mine)], baseline.confusions[list(theirs)], scorer,
                                  n_resamples=boot.resamples, seed=boot.seed, confidence=boot.confidence)
    return {"baseline": baseline.name, "n_images": len(shared), **{s: tests[s].as_dict() for s in SCORES}}


def absent_classes(runs: Sequence[ScoredRun]) -> dict[tuple[str, ...], list[str]]:
    """Classes with no ground-truth pixel, per distinct scored frame set."""
    found: dict[tuple[str, ...], list[str]] = {}
    for run in runs:
        rows = run.confusions.sum(axis=(0, 2))
        if run.frames not in found:
            found[run.frames] = [CLASS_NAMES[c] for c in np.flatnonzero(rows == 0)]
    return {frames: names for frames, names in found.items() if names}


def format_table(entries: Sequence[dict]) -> str:
    """Plain-text table: one row per run, best generated run per column marked ``*``.

    Examples
    --------
    >>> row = {"name": "a", "is_real": False, "n_images": 2, "pixel_acc": 0.5, "class_acc": 0.25,
    ...        "class_iou": 0.125, "intervals": {s: [0.0, 1.0] for s in SCORES}, "baseline_test": None}
    >>> print(format_table([row]))
    run  n  Per-pixel acc.         Per-class acc.         Class IOU
    a    2  0.500* [0.000, 1.000]  0.250* [0.000, 1.000]  0.125* [0.000, 1.000]
    """
    best = {}
    for score in SCORES:
        values = [e[score] for e in entries if not e["is_real"] and _finite(e[score])]
        best[score] = max(values) if values else None
    rows = [["run", "n", *(SCORE_TITLES[s] for s in SCORES)]]
    for e in entries:
        cells = []
        for score in SCORES:
            mark = "*" if not e["is_real"] and best[score] is not None and e[score] == best[score] else " "
            low, high = e["intervals"][score]
            cells.append(f"{_num(e[score])}{mark} [{_num(low)}, {_num(high)}]")
        rows.append([e["name"] + (" (real)" if e["is_real"] else ""), str(e["n_images"]), *cells])
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    tests = [e for e in entries if e["baseline_test"] and e["baseline_test"].get("n_images")]
    for e in tests:
        t = e["baseline_test"]
        parts = [f"{s} {t[s]['difference']:+.3f} (p={t[s]['p_value']:.3g})" for s in SCORES]
        lines.append(f"{e['name']} vs {t['baseline']} ({t['n_images']} frames): " + ", ".join(parts))
    return "\n".join(lines)


def to_csv(entries: Sequence[dict]) -> str:
    """One row per run: scores with intervals, baseline differences and p, per-class acc and IoU."""
    columns = ["name", "variant", "preset", "is_real", "n_images"]
    for score in SCORES:
        columns += [score, f"{score}_low", f"{score}_high", f"{score}_diff", f"{score}_p"]
    columns += [f"acc_{n}" for n in CLASS_NAMES] + [f"iou_{n}" for n in CLASS_NAMES]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for e in entries:
        row = {k: e[k] for k in columns[:5]}
        test = e["baseline_test"] or {}
        for score in SCORES:
            row[score] = e[score]
            row[f"{score}_low"], row[f"{score}_high"] = e["intervals"][score]
            row[f"{score}_diff"] = test.get(score, {}).get("difference")
            row[f"{score}_p"] = test.get(score, {}).get("p_value")
        for c in e["per_class"]:
            row[f"acc_{c['name']}"], row[f"iou_{c['name']}"] = c["acc"], c["iou"]
        writer.writerow({k: _csv_value(v) for k, v in row.items()})
    return out.getvalue()


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def _num(value) -> str:
    return f"{value:.3f}" if _finite(value) else "n/a"


def _csv_value(value):
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return "" if value is None else value
