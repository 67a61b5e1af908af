"""The summary table: one row per run, the scores of every results file side by side.

A run that one file lacks gets marked ``n/a`` cells in that file's columns,
so runs missing from some documents are visible, never dropped. Runs are
joined by name: files of different datasets or splits are said in the
caption and warned about, since one row then holds scores of different frames.
"""

import logging

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from p2p_eval.measures import entry_type
from reports.entries import confidence, document_facts
from reports.formatting import escape_latex
from reports.coverage import coverage
from reports.tables import Column, ReportTable, Row, entry_cells, kind_columns, real_rows_last


def _groups(documents: Sequence[dict[str, Any]]) -> list[str]:
    """Group titles (each kind's ``TITLE``, LaTeX), numbered when two files are of one kind."""
    kinds = [d["kind"] for d in documents]
    seen: dict[str, int] = {}
    titles = []
    for kind in kinds:
        seen[kind] = seen.get(kind, 0) + 1
        titles.append(entry_type(kind).TITLE + (f" ({seen[kind]})" if kinds.count(kind) > 1 else ""))
    return titles


log = logging.getLogger(__name__)


def _data_mismatch(paths: Sequence[str], documents: Sequence[dict[str, Any]]) -> str | None:
    """Plain text naming each file's dataset/split when the files measured different data, else None.

    Files that record neither (a study's raters) are left out of the comparison.
    """
    measured = {}
    for path, document in zip(paths, documents):
        data = document.get("data") or {}
        dataset, split = data.get("dataset_name") or data.get("dataset"), data.get("split")
        if dataset is not None or split is not None:
            measured[Path(path).name] = f"{dataset or '?'}/{split or '?'}"
    if len(set(measured.values())) < 2:
        return None
    return ("the files measure different data (" + "; ".join(f"{name}: {on}" for name, on in measured.items())
            + "): runs are joined by name, so a row holds scores of different frames")


def summary_table(
    paths: Sequence[str], documents: Sequence[dict[str, Any]], *, order: tuple[str, ...] = ()
) -> ReportTable:
    """Every run of every document in one table.

    Parameters
    ----------
    paths : sequence of str
        The results files, for the notes.
    documents : sequence of dict
        Checked results documents (`reports.documents.load_documents`).
    order : tuple of str, optional
        Run names to put first (each must be in some document).

    Returns
    -------
    table : ReportTable
        Columns ``"<file index>:<score>"`` grouped per file; `absent` marks
        the cells of runs a file lacks. Rows are labelled by run name.
    """
    groups = _groups(documents)
    columns: list[Column] = []
    sources: list[tuple[int, Column]] = []  # (document index, column of its kind)
    for index, (document, group) in enumerate(zip(documents, groups)):
        for column in kind_columns(document["kind"]):
            columns.append(replace(column, key=f"{index}:{column.key}", score=column.field, group=group))
            sources.append((index, column))
    entries = [{e["name"]: e for e in d["runs"]} for d in documents]
    firsts = {}  # each name's first entry: what decides whether it is a ground-truth row
    for by_name in entries:
        for name, entry in by_name.items():
            firsts.setdefault(name, entry)
    names = [e if isinstance(e, str) else e["name"]
             for e in real_rows_last([firsts.get(n, n) for n in dict.fromkeys([*order, *firsts])], order)]
    shape = (len(names), len(columns))
    blocks = {key: np.full(shape, np.nan) for key in ("values", "low", "high", "error", "frames")}
    absent = np.zeros(shape, dtype=bool)
    partial = np.full(shape, "", dtype=object)
    rows = []
    for i, name in enumerate(names):
        is_real = any(by_name.get(name, {}).get("is_real") for by_name in entries)
        rows.append(Row(name, None, "real" if is_real else "run"))
        for j, (index, column) in enumerate(sources):
            entry = entries[index].get(name)
            if entry is None:
                absent[i, j] = True
                continue
            cells = entry_cells(entry, column)
            for block, value in zip(("values", "low", "high", "error"), cells):
                blocks[block][i, j] = value
            blocks["frames"][i, j], partial[i, j] = coverage(entry, documents[index].get("data") or {})
    keys = [c.key for c in columns]
    frames = {k: pd.DataFrame(v, columns=keys) for k, v in blocks.items()}
    facts = tuple(  # plain text, escaped by each renderer: so the kind, not the (LaTeX) group title
        f"{d['kind']}: {Path(path).name}" + (f", {'; '.join(document_facts(d))}" if document_facts(d) else "")
        for path, d in zip(paths, documents)
    )
    levels = {confidence(d) for d in documents}
    caption = f"All results side by side ({len(documents)} results files, one row per run)."
    mismatch = _data_mismatch(paths, documents)
    if mismatch:
        log.warning("summary table: %s; compare such rows knowing it, or summarise files of one split.", mismatch)
        caption += f" Warning: {escape_latex(mismatch)}."
    return ReportTable(
        key="summary",
        kind="summary",
        caption=caption,
        row_header="Run",
        columns=tuple(columns),
        rows=tuple(rows),
        paper=None,
        facts=facts,
        absent=pd.DataFrame(absent, columns=keys),
        partial=pd.DataFrame(partial, columns=keys),
        confidence=levels.pop() if len(levels) == 1 else None,
        **frames,
    )
