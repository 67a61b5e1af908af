"""Results documents: one versioned JSON file per measurement.

Every measure (`fcn-score`, `label-score`, `colorfulness`, `study`, and the
HYPE analyses `hype-inf`, `hype-time`) writes one
document; reports are rendered from these files alone. Common envelope::

    {
      "schema": "p2p-eval/results", "version": 1, "kind": "fcn-score",
      "created": "2026-11-22T10:00:00+00:00",
      "provenance": {"p2p_eval": "...", "torch": "...", "python": "...",
                     "platform": "...", "command": ["p2p-eval", ...]},
      "protocol": {...},   # how it was measured (resize kernel, bins, B, seed ...)
      "data": {...},       # what it was measured on (dataset, split, frames)
      "runs": [{"name": ..., ...}, ...],  # one entry per run / algorithm
      "comparisons": {...}  # optional: tests across runs (HYPE's ANOVA, Tukey HSD)
    }

The per-run fields of each kind are listed in the README ("Results files").
"""

import datetime as _dt
import os
import platform
import sys
from pathlib import Path
from typing import Any

from p2p_eval import __version__
from p2p_eval.data.files import read_json, write_json
from p2p_eval.errors import InputError

SCHEMA = "p2p-eval/results"
VERSION = 1
KINDS = ("fcn-score", "label-score", "colorfulness", "study", "hype-inf", "hype-time")


def provenance() -> dict[str, Any]:
    """Versions and command line that produced a result."""
    info = {
        "p2p_eval": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "command": list(sys.argv),
    }
    if "torch" in sys.modules:
        info["torch"] = sys.modules["torch"].__version__
    return info


def results_document(
    kind: str, runs: list[dict[str, Any]], *, protocol: dict[str, Any], data: dict[str, Any],
    comparisons: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Wrap per-run results in the common envelope.

    `comparisons`, when given, holds tests across all runs (HYPE's ANOVA and
    Tukey HSD) and is stored as the document's ``"comparisons"``.
    """
    if kind not in KINDS:
        raise ValueError(f"Expected `kind` to be one of {KINDS}, got {kind!r}.")
    document = {
        "schema": SCHEMA,
        "version": VERSION,
        "kind": kind,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "provenance": provenance(),
        "protocol": protocol,
        "data": data,
        "runs": runs,
    }
    if comparisons is not None:
        document["comparisons"] = comparisons
    return document


def write_results(path: str | os.PathLike, document: dict[str, Any]) -> None:
    """Write a results document atomically (NaN scores become null)."""
    write_json(path, document)


def load_results(path: str | os.PathLike, *, kinds: tuple[str, ...] = KINDS) -> dict[str, Any]:
    """Read and check a results document.

    Raises
    ------
    InputError
        If the file is not a p2p-eval results document, is of a kind not in
        `kinds`, or was written by a newer schema version.
    """
    path = Path(path)
    document = read_json(path)
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise InputError(f"{path}: not a p2p-eval results document (no \"schema\": {SCHEMA!r}).")
    if document.get("version", 0) > VERSION:
        raise InputError(
            f"{path}: results schema version {document['version']} is newer than this p2p-eval "
            f"reads ({VERSION}); upgrade p2p-eval."
        )
    if document.get("kind") not in kinds:
        raise InputError(f"{path}: results of kind {document.get('kind')!r}; expected one of {kinds}.")
    if not isinstance(document.get("runs"), list):
        raise InputError(f"{path}: \"runs\" must be a list.")
    return document
