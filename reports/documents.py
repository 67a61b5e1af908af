"""Reading results documents for reports, with every run entry checked once.

`p2p_eval.results.load_results` checks the envelope (schema, kind, version);
this module checks the per-run fields a report reads, so a malformed entry
stops with a message naming the file, the run and the field instead of a
KeyError deep inside a renderer.
"""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from p2p_eval.classes import NUM_CLASSES
from p2p_eval.errors import InputError
from p2p_eval.results import load_results

REQUIRED_SCORES = {
    "fcn-score": ("pixel_acc", "class_acc", "class_iou"),
    "label-score": ("pixel_acc", "class_acc", "class_iou"),
    "colorfulness": ("L", "a", "b"),
    "study": ("fool_rate",),
    "hype-inf": ("hype_inf", "fake_error", "real_error"),
    "hype-time": ("hype_time_ms",),
}
"""Score fields every run entry of a kind must have (null allowed: a score that does not exist)."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_entry(path: Path, index: int, entry: Any, kind: str) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        raise InputError(f"{path}: runs[{index}] has no \"name\"; every run entry needs its run's name.")
    where = f"{path}: run {entry['name']!r}"
    for key in REQUIRED_SCORES[kind]:
        if key not in entry:
            raise InputError(
                f"{where} has no {key!r} score, which {kind} results must have (null when it does not "
                "exist); regenerate the file with this p2p-eval."
            )
        value = entry[key]
        if value is not None and not _is_number(value):
            raise InputError(f"{where}: {key!r} must be a number or null, got {value!r}.")
    intervals = entry.get("intervals") or {}
    if not isinstance(intervals, dict):
        raise InputError(f"{where}: \"intervals\" must map a score to [low, high], got {intervals!r}.")
    for key, bounds in [*intervals.items(), ("interval", entry.get("interval"))]:
        if bounds is not None and not (
            isinstance(bounds, list) and len(bounds) == 2 and all(b is None or _is_number(b) for b in bounds)
        ):
            raise InputError(f"{where}: interval of {key!r} must be [low, high], got {bounds!r}.")
    test = entry.get("baseline_test")
    tests = [test.get(key) for key in REQUIRED_SCORES[kind]] if isinstance(test, dict) else []
    if test is not None and not (
        isinstance(test, dict) and isinstance(test.get("baseline"), str)
        and all(t is None or (isinstance(t, dict) and (t.get("p_value") is None or _is_number(t["p_value"])))
                for t in tests)
    ):
        raise InputError(
            f"{where}: \"baseline_test\" must be null or {{\"baseline\": name, score: {{\"p_value\": ...}}}}, "
            f"got {test!r}."
        )
    per_class = entry.get("per_class")
    if per_class is not None and (not isinstance(per_class, list) or len(per_class) != NUM_CLASSES):
        raise InputError(
            f"{where}: \"per_class\" must list the {NUM_CLASSES} train classes, got "
            f"{len(per_class) if isinstance(per_class, list) else type(per_class).__name__}."
        )


def check_document(path: str | os.PathLike, document: dict[str, Any]) -> dict[str, Any]:
    """Check the run entries of a loaded results document.

    Returns
    -------
    document : dict
        The same document.

    Raises
    ------
    InputError
        If a run entry lacks its name or a score field, has a score that is not
        a number or null, a malformed interval, or two entries share a name.
    """
    path = Path(path)
    names = []
    for index, entry in enumerate(document["runs"]):
        _check_entry(path, index, entry, document["kind"])
        names.append(entry["name"])
    if not names:
        raise InputError(f"{path}: \"runs\" is empty; there is nothing to report.")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"{path}: several run entries are named {dupes}; each run must appear once.")
    return document


def load_documents(paths: Sequence[str | os.PathLike]) -> list[dict[str, Any]]:
    """Load and check results documents, in the order given.

    Raises
    ------
    InputError
        If a file is missing, not a results document, of an unknown kind, of a
        newer schema version (`p2p_eval.results.load_results`), or has a
        malformed run entry (`check_document`).
    """
    return [check_document(p, load_results(p)) for p in paths]


def run_names(documents: Sequence[dict[str, Any]]) -> list[str]:
    """Every run name in the documents, first appearance first."""
    return list(dict.fromkeys(e["name"] for d in documents for e in d["runs"]))


def check_order(order: Sequence[str], documents: Sequence[dict[str, Any]]) -> None:
    """Refuse ``--order`` names that no document holds (a typo, not a missing run)."""
    known = set(run_names(documents))
    unknown = [name for name in order if name not in known]
    if unknown:
        raise InputError(
            f"--order names {unknown}, which no results file holds; the runs are {sorted(known)}."
        )

