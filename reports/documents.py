"""Reading results documents for reports: every entry checked through its typed reader, once.

`p2p_eval.results.load_results` checks the envelope (schema, kind, version)
and reads every run entry through its kind's typed entry (fields, types,
ranges), so a malformed file stops with a message naming the file, the run
and the field instead of a KeyError deep inside a renderer. This module adds
what a table needs of the document as a whole: at least one run.
"""

import os
from collections.abc import Sequence
from typing import Any

from p2p_eval.errors import InputError
from p2p_eval.results import load_results


def check_document(path: str | os.PathLike, document: dict[str, Any]) -> dict[str, Any]:
    """Check that a loaded results document has runs to report.

    Returns
    -------
    document : dict
        The same document.

    Raises
    ------
    InputError
        If "runs" is empty.
    """
    if not document["runs"]:
        raise InputError(f"{path}: \"runs\" is empty; there is nothing to report.")
    return document


def load_documents(paths: Sequence[str | os.PathLike]) -> list[dict[str, Any]]:
    """Load and check results documents, in the order given.

    Raises
    ------
    InputError
        If a file is missing, not a results document, of an unknown kind, of a
        newer schema version, or has a malformed run entry
        (`p2p_eval.results.load_results`), or has no runs (`check_document`).
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

