"""A results document as the terminal table and as CSV, for every measure alike.

Columns come from the entry type's declared scores (`p2p_eval.results.Score`),
so a new measure's table needs no code here.
"""

import math
from collections.abc import Sequence
from typing import Any

from p2p_eval.data.spreadsheet import csv_text
from p2p_eval.results.document import Results
from p2p_eval.results.entries import RunEntry
from p2p_eval.results.scores import Score
from p2p_eval.stats import confidence_percent


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


DEFAULT_DECIMALS = 3
"""Decimals of a score that declares none (`p2p_eval.results.Score.decimals`): fractions to 0.001."""


def _num(value: float | None, sign: str = "", decimals: int = DEFAULT_DECIMALS) -> str:
    return f"{value:{sign}.{decimals}f}" if _finite(value) else "n/a"


PARTIAL_MARK = "~"
"""Marks a row scored on fewer frames than the split has (``--allow-missing``)."""


def format_table(results: Results) -> str:
    """Plain-text table: one row per run, best run per column marked ``*``, baseline tests below.

    A run with frames left out (``--allow-missing``) shows ``n of N`` and
    `PARTIAL_MARK`; only the runs scored on the most frames are ranked, so a
    run is never starred against runs measured on other frames.

    Examples
    --------
    >>> from p2p_eval.measures.colorfulness.entry import ColorfulnessEntry
    >>> entry = ColorfulnessEntry(name="a", scores={"L": 0.5, "a": 0.25, "b": 0.125}, n_images=2,
    ...                           intervals={c: (0.0, 1.0) for c in "Lab"})
    >>> print(format_table(Results("colorfulness", (entry,), {}, {"dataset_name": "city", "split": "val"})))
    colorfulness on city/val; [low, high]: 95% bootstrap interval over frames
    run  n  L                      a                      b
    a    2  0.500* [0.000, 1.000]  0.250* [0.000, 1.000]  0.125* [0.000, 1.000]
    *: best run in the column
    """
    entries: Sequence[RunEntry] = results.runs
    scores = type(entries[0]).SCORES if entries else ()
    confidence = float(results.protocol.get("bootstrap", {}).get("confidence", 0.95))
    title = (f"{results.kind} on {results.data.get('dataset_name')}/{results.data.get('split')}; "
             f"[low, high]: {confidence_percent(confidence)} bootstrap interval over frames")
    left_out = results.data.get("left_out") or {}
    runs = [e for e in entries if not e.is_real]
    most = max((e.n_images or 0 for e in runs), default=0)
    ranked = [e for e in runs if (e.n_images or 0) == most]
    best, unstarred = {}, []
    for score in scores:
        values = [e.scores[score.key] for e in ranked if _finite(e.scores[score.key])]
        valueless = [e.name for e in ranked if not _finite(e.scores[score.key])]
        if values and valueless:  # a run with no value (PSNR of identical frames) may be the best: star none
            unstarred.append(f"{score.title}: {', '.join(valueless)} has no value")
            values = []
        best[score.key] = (max if score.higher_is_better else min)(values) if values else None
    rows = [["run", "n", *(s.title + ("" if s.higher_is_better else " (lower is better)") for s in scores)]]
    for e in entries:
        cells = []
        for score in scores:
            value, places = e.scores[score.key], _decimals(score)
            mark = "*" if e in ranked and best[score.key] is not None and value == best[score.key] else " "
            if score.key in e.intervals:
                low, high = e.intervals[score.key]
                cells.append(f"{_num(value, '', places)}{mark} [{_num(low, '', places)}, {_num(high, '', places)}]")
            else:  # a score with no bootstrap interval (KID: its spread is in the notes below)
                cells.append(f"{_num(value, '', places)}{mark}")
        missing = 0 if e.is_real else left_out.get(e.name, 0)
        count = f"{e.n_images} of {e.n_images + missing}" if missing and e.n_images is not None else str(e.n_images)
        name = e.name + (" (real)" if e.is_real else "") + (f" {PARTIAL_MARK}" if missing else "")
        rows.append([name, count, *cells])
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    lines = [title, *("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)]
    unranked = [e.name for e in runs if e not in ranked]
    lines.append("*: best run in the column" + (f", among the runs scored on {most} frames ({', '.join(unranked)} "
                                                 "scored on fewer, not ranked)" if unranked else ""))
    if unstarred:
        lines.append(f"no best marked in {'; '.join(unstarred)} (see below)")
    if any(left_out.get(e.name, 0) for e in runs):
        lines.append(f"{PARTIAL_MARK}: frames left out (--allow-missing): scores cover only the frames it has; "
                     "compare such runs on the frames both have with --baseline")
    if results.protocol.get("scores"):  # a measure whose scores are not the obvious ones says so
        lines.append(f"scores: {results.protocol['scores']}")
    if any(e.is_real for e in entries):
        lines.append("(real): " + str(results.protocol.get("real_row") or "the dataset's real images, scored the same way"))
    lines += [f"{e.name}: {note}" for e in entries for note in e.notes()]
    tests = [e for e in entries if e.baseline_test is not None]
    if tests:
        lines.append(f"paired bootstrap tests vs {tests[0].baseline_test.baseline} (run - baseline, on the frames "
                     "both have):")
    places = {score.key: _decimals(score) for score in scores}
    for e in tests:
        t = e.baseline_test
        parts = []
        for key, p in t.tests.items():
            d = places.get(key, DEFAULT_DECIMALS)
            parts.append(f"{key} {_num(p.difference, '+', d)} [{_num(p.low, '+', d)}, {_num(p.high, '+', d)}] "
                         + (f"p={p.p_value:.3g}" if _finite(p.p_value) else "p=n/a"))
        lines.append(f"{e.name} - {t.baseline} ({t.n_frames} frames): " + ("; ".join(parts) or "no frame in common"))
    return "\n".join(lines)


def _decimals(score: Score) -> int:
    """The decimals a score declares (KID's 0.0123: 4, as in reports and its note), else `DEFAULT_DECIMALS`."""
    return DEFAULT_DECIMALS if score.decimals is None else score.decimals


def to_csv(results: Results) -> str:
    """One row per run: scores with intervals, baseline differences and p, then the kind's own columns
    (`RunEntry.csv_fields`: per-class accuracy and IoU for FCN-scores)."""
    entries: Sequence[RunEntry] = results.runs
    keys = [s.key for s in type(entries[0]).SCORES] if entries else []
    columns = ["name", "variant", "preset", "is_real", "n_images"]
    for key in keys:
        columns += [key, f"{key}_low", f"{key}_high", f"{key}_diff", f"{key}_p"]
    columns += list(entries[0].csv_fields()) if entries else []
    rows = []
    for e in entries:
        row: dict[str, Any] = {"name": e.name, "variant": e.variant, "preset": e.preset, "is_real": e.is_real,
                               "n_images": e.n_images}
        tests = e.baseline_test.tests if e.baseline_test else {}
        for key in keys:
            row[key] = e.scores[key]
            row[f"{key}_low"], row[f"{key}_high"] = e.intervals.get(key, (None, None))
            row[f"{key}_diff"] = tests[key].difference if key in tests else None
            row[f"{key}_p"] = tests[key].p_value if key in tests else None
        row.update(e.csv_fields())
        rows.append(row)
    return csv_text(columns, rows)  # run names come from folder names: never a spreadsheet formula
