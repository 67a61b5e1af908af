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
from p2p_eval.results.scores import Spread
from p2p_eval.stats import DEFAULT_CONFIDENCE
from reports.coverage import coverage, ranked_rows
from reports.entries import confidence, document_facts, interval, ordered_entries, p_value, score
from reports.formatting import escape_latex, format_number

SIGNIFICANCE = 0.05
"""A run's score is marked as different from the baseline when the bootstrap test's p is below this."""

ROW_SOURCES = ("run", "real", "paper", "missing")
"""Where a row comes from: a run, the real photos (ceiling), the paper, or a run
named by ``--order`` that this document does not hold."""


COLUMN_SHOWS = ("value", "sd", "interval")
"""What a column shows of its score: the score (with any ``--intervals``), its
spread alone, or its interval alone (HYPE's "Std." and "95% CI" columns)."""


@dataclass(frozen=True)
class Column:
    key: str  # the column's name in the table's frames; by default also the run entry's score field
    header: str  # column header, LaTeX
    percent: bool = False  # a fraction shown as a percentage
    higher_is_better: bool = True
    group: str = ""  # header spanning a group of columns (summary tables), LaTeX
    score: str | None = None  # the run entry's score field, when not `key`
    shows: str = "value"  # one of COLUMN_SHOWS
    compared: bool = True  # competes for bold (not: a real-image error rate, an SD, an interval)
    decimals: int | None = None  # the score's own (`p2p_eval.results.Score.decimals`: HYPE-time's ms 1, KID 4)
    spread: Spread | None = None  # the score's spread, stored in an entry field of its own (a bootstrap SD)

    @property
    def default_decimals(self) -> int:
        """2 decimals for fractions, 1 for percentages, as the paper prints them."""
        if self.decimals is not None:
            return self.decimals
        return 1 if self.percent else 2

    @property
    def field(self) -> str:
        return self.score or self.key

    @property
    def ranks(self) -> bool:
        """Whether the column's cells compete for bold."""
        return self.compared and self.shows == "value"


def kind_columns(kind: str) -> tuple[Column, ...]:
    """The score columns of a results kind, in the paper's order: the scores its entry type
    declares (`p2p_eval.results.Score`), then, for a score whose `Spread` has columns of its
    own, HYPE's "Std." and "95% CI"."""
    scores = entry_type(kind).SCORES
    columns = [Column(s.key, s.title, s.percent, s.higher_is_better, compared=s.compared, decimals=s.decimals,
                      spread=s.spread) for s in scores]
    for s in (s for s in scores if s.spread and s.spread.columns):
        columns += [Column(f"{s.key}:{suffix}", header, s.percent, score=s.key, shows=shows, decimals=s.decimals,
                           spread=s.spread)
                    for suffix, shows, header in (("sd", "sd", "Std."), ("ci", "interval", r"95\% CI"))]
    return tuple(columns)


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
        Interval bounds and the "±" (a score's `Spread`: a study's bootstrap SD); NaN where none.
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
    frames : (n_rows, n_columns) float DataFrame or None
        Frames the cell's entry was scored on (NaN: unknown, or no entry); only
        the runs scored on the most frames compete for best (`reports.coverage`).
    partial : (n_rows, n_columns) str DataFrame or None
        "n of N" where the cell's run had frames of the split left out
        (``--allow-missing``), else "".
    confidence : float or None
        Confidence level of the intervals (the document's ``protocol.bootstrap``);
        None for a summary of files recorded at different levels (each file's facts give its own).
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
    frames: pd.DataFrame | None = None
    partial: pd.DataFrame | None = None
    confidence: float | None = DEFAULT_CONFIDENCE

    def is_significant(self, row: int, key: str) -> bool:
        """Whether the run differs from the baseline in this score (p < `SIGNIFICANCE`).

        Runs only: the ground-truth row is a reference, not a contender, even
        when its file holds a test of it.
        """
        return bool(self.rows[row].source == "run" and self.p_values is not None
                    and self.p_values.loc[row, key] < SIGNIFICANCE)

    def is_partial(self, row: int, key: str) -> bool:
        """Whether cell (`row`, `key`) comes from a run with frames of the split left out."""
        return bool(self.partial is not None and self.partial.loc[row, key])

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
    data = document.get("data") or {}
    rows: list[Row] = []
    cells: list[tuple[list[float], ...]] = []  # per row: values, low, high, error, p-value, frames
    partial: list[str] = []  # per row: "n of N" for a run with frames left out
    for entry in real_rows_last(ordered_entries(runs, order), order):
        if isinstance(entry, str):
            rows.append(Row(entry, None, "missing"))
            cells.append((nan, nan, nan, nan, nan, nan))
            partial.append("")
            continue
        is_real, variant = bool(entry.get("is_real")), entry.get("variant")
        # label_of(None) would find the paper's ground-truth row: a run without a variant keeps its name.
        label = GROUND_TRUTH if is_real else (matched.label_of(variant) if matched and variant else None)
        rows.append(Row(entry["name"], label, "real" if is_real else "run"))
        values, low, high, error = zip(*(entry_cells(entry, c) for c in columns))
        scored, count = coverage(entry, data)
        cells.append((list(values), list(low), list(high), list(error), [p_value(entry, c.field) for c in columns],
                      [scored] * len(columns)))
        partial.append(count)
    _drop_ambiguous_labels(rows)
    if paper and matched is not None:
        scale = 100.0 if any(c.percent for c in columns) else 1.0  # the paper prints percentages
        errors = PAPER_ERRORS.get(matched.key, {})
        for paper_row in matched.rows:
            rows.append(Row(paper_row.label, paper_row.label, "paper"))
            error = [e / scale for e in errors[paper_row.label]] if paper_row.label in errors else nan
            cells.append(([n / scale for n in paper_row.numbers], nan, nan, error, nan, nan))
            partial.append("")
    frames = [
        pd.DataFrame(np.array([c[i] for c in cells], dtype=float).reshape(len(rows), len(columns)),
                     columns=[c.key for c in columns])
        for i in range(6)
    ]
    baselines = {(e.get("baseline_test") or {}).get("baseline") for e in runs} - {None}
    dataset = data.get("dataset_name")
    return ReportTable(
        key=matched.key if matched else kind,
        kind=kind,
        caption=matched.caption_on(escape_latex(dataset) if dataset else None) if matched else entry_type(kind).CAPTION,
        row_header=matched.row_header if matched else entry_type(kind).ROW_HEADER,
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
        frames=frames[5],
        partial=pd.DataFrame({c.key: partial for c in columns}),
        confidence=confidence(document),
    )


def real_rows_last(entries: list, order: tuple[str, ...] = ()) -> list:
    """The ground-truth rows after the runs, in every table (unless ``--order`` places them).

    Examples
    --------
    >>> [e["name"] for e in real_rows_last([{"name": "gt", "is_real": True}, {"name": "a"}])]
    ['a', 'gt']
    """
    def is_real(entry) -> bool:
        return isinstance(entry, dict) and bool(entry.get("is_real")) and entry.get("name") not in order

    return [e for e in entries if not is_real(e)] + [e for e in entries if is_real(e)]


def entry_cells(entry: dict[str, Any], column: Column) -> tuple[float, float, float, float]:
    """What a run entry puts in a column: value, interval bounds and the "±" (NaN where none).

    The "±" is the score's declared `Spread` (a study's fool rate, a HYPE
    score: ``bootstrap_sd``); none for other scores. An ``"sd"`` column shows
    that spread as its value.
    """
    value = score(entry, column.field)
    low, high = interval(entry, column.field)
    error = score(entry, column.spread.key) if column.spread else np.nan
    if column.shows == "sd":
        return error, np.nan, np.nan, np.nan
    return value, low, high, error


def _drop_ambiguous_labels(rows: list[Row]) -> None:
    """Label by run name where two rows would share a paper label (seeds of one variant)."""
    labels = [r.label for r in rows if r.label]
    for i, row in enumerate(rows):
        if row.label and labels.count(row.label) > 1:
            rows[i] = Row(row.name, None, row.source)


def best_mask(table: ReportTable, decimals: int | None = None) -> pd.DataFrame:
    """Cells holding the best score of their column, as displayed.

    Only the runs compete, and among them only those scored on the most frames
    (`reports.coverage`): the real-photo ceiling, the paper's rows, missing
    runs and runs with frames left out are never best. Scores are compared as
    printed (`reports.formatting.format_number`), so every cell that prints the
    best value is marked, and only those. `decimals` None: each column's `Column.default_decimals`.

    Returns
    -------
    best : (n_rows, n_columns) bool DataFrame
    """
    runs = np.array([r.source == "run" for r in table.rows])
    best = pd.DataFrame(False, index=table.values.index, columns=table.values.columns)
    for column in (c for c in table.columns if c.ranks):
        places = column.default_decimals if decimals is None else decimals
        # The printed text's value: Series.round rounds the binary value scaled (4.35 -> 4.4), the
        # printed cell the binary value itself (4.3499... -> "4.3").
        shown = table.values[column.key].map(lambda v: float(format_number(v, decimals=places, percent=column.percent)))
        if not column.higher_is_better:
            shown = -shown
        competing = runs if table.frames is None else ranked_rows(table.frames[column.key].to_numpy(), runs)
        candidates = shown.where(competing)
        if candidates.notna().any():
            best[column.key] = candidates == candidates.max()
    return best
