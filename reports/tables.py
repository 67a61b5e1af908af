"""Results documents as tables: pure functions from JSON documents to pandas DataFrames.

One `ReportTable` per results document. A document whose runs' variants match
a paper table (`p2p_eval.paper.table_of`) takes that table's caption, header
and row labels; any other document still renders, as a generic table of its
kind. Renderers (`latex`, `markdown`, `html`) only format what is here.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from p2p_eval.measures import entry_type
from p2p_eval.paper import GROUND_TRUTH, PAPER_ERRORS, PaperTable, table_of
from reports.entries import document_facts, interval, ordered_entries, p_value, score

SIGNIFICANCE = 0.05
"""A run's score is marked as different from the baseline when the bootstrap test's p is below this."""

ROW_SOURCES = ("run", "real", "paper", "missing")
"""Where a row comes from: a run, the real photos (ceiling), the paper, or a run
named by ``--order`` that this document does not hold."""


@dataclass(frozen=True)
class Column:
    key: str  # the field of a run entry holding the score
    header: str  # column header, LaTeX
    percent: bool = False  # a fraction shown as a percentage
    higher_is_better: bool = True
    group: str = ""  # header spanning a group of columns (summary tables), LaTeX
    decimals: int | None = None  # the score's own default (`p2p_eval.results.Score.decimals`)

    @property
    def default_decimals(self) -> int:
        """The score's own decimals if it declares them, else 2 for fractions and 1 for
        percentages, as the paper prints them."""
        if self.decimals is not None:
            return self.decimals
        return 1 if self.percent else 2


def kind_columns(kind: str) -> tuple[Column, ...]:
    """The score columns of a results kind, in the paper's order: the scores its entry type
    declares (`p2p_eval.results.Score`)."""
    return tuple(Column(s.key, s.title, s.percent, s.higher_is_better, decimals=s.decimals)
                 for s in entry_type(kind).SCORES)


@dataclass(frozen=True)
class Row:
    name: str  # the run's name; for paper rows, the paper's label (LaTeX)
    label: str | None  # the paper's label for the run's variant (LaTeX), if any
    source: str  # one of ROW_SOURCES


@dataclass(frozen=True, eq=False)
class ReportTable:
    """One results document as a table.

    Attributes
    ----------
    key : str
        The paper table's key (``"losses"``), or the kind for a generic table.
    kind : str
    caption : str
        LaTeX.
    row_header : str
        Header of the row-label column, LaTeX.
    columns : tuple of Column
    rows : tuple of Row
    values : (n_rows, n_columns) float DataFrame
        Scores as fractions; NaN where a score is null or the run is missing.
    low, high, error : (n_rows, n_columns) float DataFrame
        Interval bounds and standard errors; NaN where none.
    paper : PaperTable or None
    facts : tuple of str
        What was measured on and how, plain text (dataset, split, frames, segmenter).
    absent : (n_rows, n_columns) bool DataFrame or None
        True where the row's run is not in the results file the column comes
        from (summary tables); None: only whole ``"missing"`` rows are absent.
    p_values : (n_rows, n_columns) float DataFrame or None
        p-value of each run's test against the baseline run (``baseline_test``);
        NaN where no test was made.
    baselines : tuple of str
        The baseline runs those tests compared against.
    """

    key: str
    kind: str
    caption: str
    row_header: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    values: pd.DataFrame
    low: pd.DataFrame
    high: pd.DataFrame
    error: pd.DataFrame
    paper: PaperTable | None
    facts: tuple[str, ...]
    absent: pd.DataFrame | None = None
    p_values: pd.DataFrame | None = None
    baselines: tuple[str, ...] = ()

    def is_significant(self, row: int, key: str) -> bool:
        """Whether the run differs from the baseline in this score (p < `SIGNIFICANCE`)."""
        return bool(self.p_values is not None and self.p_values.loc[row, key] < SIGNIFICANCE)

    def has(self, source: str) -> bool:
        return any(r.source == source for r in self.rows)

    def is_absent(self, row: int, key: str) -> bool:
        """Whether cell (`row`, `key`) belongs to a run the results file does not hold."""
        if self.rows[row].source == "missing":
            return True
        return bool(self.absent is not None and self.absent.loc[row, key])

    def any_absent(self) -> bool:
        return self.has("missing") or bool(self.absent is not None and self.absent.to_numpy().any())


def document_table(
    document: dict[str, Any],
    *,
    order: tuple[str, ...] = (),
    paper: bool = False,
    layout: PaperTable | None = None,
) -> ReportTable:
    """The table of one results document.

    Parameters
    ----------
    document : dict
        A results document, read by `reports.documents.load_documents` (entries checked).
    order : tuple of str, optional
        Run names to put first, in this order (``--order``).
    paper : bool, optional
        Append the paper's published rows when the document matches a paper table.
    layout : PaperTable or None, optional
        The paper table to use (``--paper-table``) instead of the one the
        runs' variants match; it must be of the document's kind.

    Returns
    -------
    table : ReportTable
    """
    kind = document["kind"]
    columns = kind_columns(kind)
    runs = document["runs"]
    matched = layout or table_of(kind, [r.get("variant") for r in runs if r.get("variant") and not r.get("is_real")])
    if matched is not None and (matched.kind != kind or len(matched.columns) != len(columns)):
        raise ValueError(
            f"Expected a paper table of {kind} results with {len(columns)} column(s), got {matched.key!r} "
            f"({matched.kind}, columns {list(matched.columns)})."
        )
    nan = [np.nan] * len(columns)
    rows: list[Row] = []
    cells: list[tuple[list[float], ...]] = []  # per row: values, low, high, error, p-value
    for entry in ordered_entries(runs, order):
        if isinstance(entry, str):
            rows.append(Row(entry, None, "missing"))
            cells.append((nan, nan, nan, nan, nan))
            continue
        is_real, variant = bool(entry.get("is_real")), entry.get("variant")
        # label_of(None) would find the paper's ground-truth row: a run without a variant keeps its name.
        label = GROUND_TRUTH if is_real else (matched.label_of(variant) if matched and variant else None)
        rows.append(Row(entry["name"], label, "real" if is_real else "run"))
        bounds = [interval(entry, c.key) for c in columns]
        cells.append((
            [score(entry, c.key) for c in columns],
            [b[0] for b in bounds],
            [b[1] for b in bounds],
            [score(entry, "se") if c.key == "fool_rate" else np.nan for c in columns],
            [p_value(entry, c.key) for c in columns],
        ))
    _drop_ambiguous_labels(rows)
    if paper and matched is not None:
        scale = 100.0 if any(c.percent for c in columns) else 1.0  # the paper prints percentages
        errors = PAPER_ERRORS.get(matched.key, {})
        for paper_row in matched.rows:
            rows.append(Row(paper_row.label, paper_row.label, "paper"))
            error = [e / scale for e in errors[paper_row.label]] if paper_row.label in errors else nan
            cells.append(([n / scale for n in paper_row.numbers], nan, nan, error, nan))
    frames = [
        pd.DataFrame(np.array([c[i] for c in cells], dtype=float).reshape(len(rows), len(columns)),
                     columns=[c.key for c in columns])
        for i in range(5)
    ]
    baselines = {(e.get("baseline_test") or {}).get("baseline") for e in runs} - {None}
    return ReportTable(
        key=matched.key if matched else kind,
        kind=kind,
        caption=matched.caption if matched else entry_type(kind).CAPTION,
        row_header=matched.row_header if matched else ("Algorithm" if kind == "study" else "Run"),
        columns=columns,
        rows=tuple(rows),
        values=frames[0],
        low=frames[1],
        high=frames[2],
        error=frames[3],
        paper=matched,
        facts=document_facts(document),
        p_values=frames[4],
        baselines=tuple(sorted(baselines)),
    )


def _drop_ambiguous_labels(rows: list[Row]) -> None:
    """Label by run name where two rows would share a paper label (seeds of one variant)."""
    labels = [r.label for r in rows if r.label]
    for i, row in enumerate(rows):
        if row.label and labels.count(row.label) > 1:
            rows[i] = Row(row.name, None, row.source)


def best_mask(table: ReportTable, decimals: int | None = None) -> pd.DataFrame:
    """Cells holding the best score of their column, as displayed.

    Only the runs compete: the real-photo ceiling, the paper's rows and missing
    runs are never best. Scores are compared after rounding to `decimals`
    (percent columns after scaling), so every cell that prints the best value
    is marked. `decimals` None: each column's `Column.default_decimals`.

    Returns
    -------
    best : (n_rows, n_columns) bool DataFrame
    """
    competing = np.array([r.source == "run" for r in table.rows])
    best = pd.DataFrame(False, index=table.values.index, columns=table.values.columns)
    for column in table.columns:
        places = column.default_decimals if decimals is None else decimals
        shown = (table.values[column.key] * (100 if column.percent else 1)).round(places)
        if not column.higher_is_better:
            shown = -shown
        candidates = shown.where(competing)
        if candidates.notna().any():
            best[column.key] = candidates == candidates.max()
    return best
