"""How many frames each row was scored on: runs with frames left out are shown, marked and not ranked.

A run scored with ``--allow-missing`` covers fewer frames than the split has
(``data.left_out``); its scores are not comparable with those of complete
runs. Tables carry each cell's frame count (`coverage`): the best run of a
column is chosen only among the runs scored on the most frames, and every
cell of a run with frames left out is marked with `PARTIAL_MARK` and its
count, "8 of 16", listed in the notes.
"""

from typing import Any

import numpy as np

PARTIAL_MARK = "‡"
PARTIAL_MARK_LATEX = "$^\\ddagger$"


def coverage(entry: dict[str, Any], data: dict[str, Any]) -> tuple[float, str]:
    """(frames the entry was scored on, "n of N" when frames of the split were left out, else "").

    NaN frames: the entry does not say (a study's algorithms, files older than ``n_images``).

    Examples
    --------
    >>> coverage({"name": "a", "n_images": 8}, {"left_out": {"a": 8}})
    (8.0, '8 of 16')
    >>> coverage({"name": "b", "n_images": 16}, {"left_out": {"b": 0}})
    (16.0, '')
    """
    n = entry.get("n_images")
    if not isinstance(n, int):
        return np.nan, ""
    left = 0 if entry.get("is_real") else (data.get("left_out") or {}).get(entry.get("name"), 0)
    return float(n), (f"{n} of {n + left}" if isinstance(left, int) and left > 0 else "")


def ranked_rows(frames: np.ndarray, competing: np.ndarray) -> np.ndarray:
    """Which competing rows are ranked: those scored on the most frames (or of unknown count).

    Examples
    --------
    >>> ranked_rows(np.array([16.0, 8.0, np.nan, 16.0]), np.array([True, True, True, False])).tolist()
    [True, False, True, False]
    """
    known = frames[competing & ~np.isnan(frames)]
    if not known.size:
        return competing.copy()
    return competing & (np.isnan(frames) | (frames == known.max()))


def partial_note(labels: list[tuple[str, str]], *, latex: bool) -> str | None:
    """The note explaining `PARTIAL_MARK` for (row label, "n of N") pairs; None when there are none."""
    if not labels:
        return None
    mark = PARTIAL_MARK_LATEX if latex else PARTIAL_MARK
    listed = ", ".join(f"{label} {count}" for label, count in dict.fromkeys(labels))
    option = "-{}-allow-missing" if latex else "--allow-missing"  # LaTeX would set "--" as a dash
    return (f"{mark}: scored on fewer frames than the split has ({option}): {listed} frames; "
            "not ranked against runs scored on more.")
