"""What a table shows, independent of the output format: labels, cell texts, notes.

LaTeX, Markdown and HTML renderers share these, so every format prints the
same numbers, marks and explanations.
"""

from dataclasses import dataclass

import pandas as pd

from p2p_eval.measures import RESULT_KINDS
from p2p_eval.paper import PAPER_DATASET
from p2p_eval.stats import confidence_percent
from reports.formatting import (
    INTERVAL_STYLES, MISSING_MARK, NULL_MARK, escape_latex, format_cell, format_range, plain_text,
)
from reports.coverage import PARTIAL_MARK, PARTIAL_MARK_LATEX, partial_note
from reports.tables import SIGNIFICANCE, ReportTable, best_mask

PAPER_MARK = "(paper)"
DAGGER_LATEX = "$^\\dagger$"
LOWER_MARK_LATEX = "$\\downarrow$"
"""Appended to the header of a column where lower is better (FID, KID, LPIPS)."""
MAX_DECIMALS = 6


@dataclass(frozen=True)
class TableOptions:
    """How tables are shown (``--intervals``, ``--decimals``, ``--names``), checked once.

    None means the paper's choice (`default_intervals`, `reports.tables.Column.default_decimals`).
    """

    intervals: str | None = None
    decimals: int | None = None
    names: bool = False

    def __post_init__(self) -> None:
        if self.intervals is not None and self.intervals not in INTERVAL_STYLES:
            raise ValueError(f"Expected `intervals` to be one of {INTERVAL_STYLES}, got {self.intervals!r}.")
        if self.decimals is not None and not 0 <= self.decimals <= MAX_DECIMALS:
            raise ValueError(f"Expected `decimals` in 0..{MAX_DECIMALS}, got {self.decimals}.")


def default_intervals(table: ReportTable) -> str:
    """The paper's choice: "pm" for a kind whose score carries a stored "±" (a study's bootstrap SD),
    none for scores and summary tables (HYPE shows its spread in columns of its own)."""
    stored = any(c.spread and not c.spread.columns for c in table.columns)
    return "pm" if table.kind in RESULT_KINDS and stored else "none"


def row_label(table: ReportTable, index: int, *, names: bool, latex: bool) -> str:
    """A row's label: the paper's label (for its variant, or a marked paper row), or the run name.

    `latex` gives LaTeX (run names escaped), else plain text.
    """
    row = table.rows[index]
    if row.source == "paper":
        text = f"{row.name} {PAPER_MARK}"
    elif row.label and not names:
        text = row.label
    else:
        return escape_latex(row.name) if latex else row.name
    return text if latex else plain_text(text)


def cell_texts(
    table: ReportTable, *, intervals: str, decimals: int | None, pm: str, dagger: str, partial: str = PARTIAL_MARK
) -> pd.DataFrame:
    """Every score cell as text (numbers, interval, null, missing, significance and frames-left-out marks).

    Returns
    -------
    cells : (n_rows, n_columns) str DataFrame
    """
    cells = pd.DataFrame("", index=table.values.index, columns=table.values.columns, dtype=object)
    for i, row in enumerate(table.rows):
        for column in table.columns:
            if table.is_absent(i, column.key):
                cells.loc[i, column.key] = MISSING_MARK
                continue
            places = column.default_decimals if decimals is None else decimals
            if column.shows == "interval":
                cells.loc[i, column.key] = format_range(
                    table.low.loc[i, column.key], table.high.loc[i, column.key], decimals=places,
                    percent=column.percent)
                continue
            cells.loc[i, column.key] = format_cell(
                table.values.loc[i, column.key],
                low=table.low.loc[i, column.key],
                high=table.high.loc[i, column.key],
                error=table.error.loc[i, column.key],
                style=intervals if column.shows == "value" else "none",
                decimals=places,
                percent=column.percent,
                pm=pm,
                mark=(dagger if table.is_significant(i, column.key) else "")
                + (partial if table.is_partial(i, column.key) else ""),
            )
    return cells


def table_notes(table: ReportTable, *, intervals: str, cells: pd.DataFrame, names: bool = False) -> list[str]:
    """Sentences (LaTeX) saying what bold, intervals, marks and italic rows mean, and the protocol.

    Markdown and HTML show them through `reports.formatting.plain_text`.
    """
    notes = []
    if table.has("run"):
        notes.append("Bold: best run per column." if table.partial is None or not table.partial.to_numpy().any()
                     else "Bold: best run per column, among the runs scored on the most frames.")
    if not all(c.higher_is_better for c in table.columns):
        notes.append(f"{LOWER_MARK_LATEX}: lower is better.")
    # the level the file records (a summary of files at different levels: each file's facts say)
    level = None if table.confidence is None else confidence_percent(table.confidence).replace("%", "\\%")
    interval = f"{level} bootstrap interval" if level else "bootstrap interval at each file's confidence"
    values = [c for c in table.columns if c.shows == "value"]
    if intervals == "pm":
        spreads = dict.fromkeys(c.spread.note for c in values if c.spread)  # declared once, per score
        notes += [f"$\\pm$ {note}." for note in spreads]
        if any(not c.spread for c in values):
            notes.append(f"$\\pm$: half the width of the {interval}"
                         + (" (the other columns)." if spreads else "."))
    elif intervals == "brackets":
        notes.append(f"[low, high]: {interval}.")
    for note in dict.fromkeys(c.spread.note for c in table.columns if c.shows == "sd"):
        notes.append(f"Std.: {note}; {level or 'each file’s'} CI: percentile interval of the same replicates.")
    if table.p_values is not None and (table.p_values < SIGNIFICANCE).to_numpy().any():
        rows = {r.name: i for i, r in enumerate(table.rows) if r.source in ("run", "real")}
        baselines = ", ".join(
            row_label(table, rows[b], names=names, latex=True) if b in rows else escape_latex(b)
            for b in table.baselines
        )
        notes.append(f"{DAGGER_LATEX}: differs from {baselines} (paired bootstrap test, p $<$ {SIGNIFICANCE}).")
    if (cells == NULL_MARK).any().any():
        notes.append(f"{NULL_MARK}: no score (null in the results).")
    if table.any_absent():
        notes.append(f"{MISSING_MARK}: run not in the results file.")
    if table.partial is not None:
        counts = [(row_label(table, i, names=names, latex=True), table.partial.loc[i, key])
                  for i in range(len(table.rows)) for key in table.partial.columns if table.partial.loc[i, key]]
        note = partial_note(counts, latex=True)
        if note:
            notes.append(note)
    if table.has("paper"):
        notes.append(
            f"Italic rows marked {PAPER_MARK}: published numbers of Isola et al."
            + (f", measured on {PAPER_DATASET}" if PAPER_DATASET in table.paper.caption else "")
            + f" ({table.paper.citation})."
        )
    if table.facts:
        facts = escape_latex("; ".join(table.facts))
        notes.append(facts[0].upper() + facts[1:] + ".")
    return notes


@dataclass(frozen=True, eq=False)
class TableView:
    """A table ready to print: labels, cell texts, best cells, notes (notes in LaTeX)."""

    headers: list[str]  # the row-label column's, then each score column's
    groups: list[str]  # header over each score column ("" when the table has no groups)
    labels: list[str]
    cells: pd.DataFrame  # (n_rows, n_columns) str
    best: pd.DataFrame  # (n_rows, n_columns) bool
    paper_rows: list[bool]
    notes: list[str]

    def styler(self, *, bold: str, italic: str, paper_rule: str = "") -> "pd.io.formats.style.Styler":
        """The table as a pandas Styler: best cells `bold`, paper rows `italic`.

        `bold`, `italic` and `paper_rule` (added to the first paper row) are
        Styler CSS, e.g. ``"textbf:--rwrap;"`` for LaTeX or ``"font-weight: bold;"``.
        """
        display = pd.concat([pd.Series(self.labels), self.cells], axis=1)
        if any(self.groups):
            display.columns = pd.MultiIndex.from_arrays([["", *self.groups], self.headers])
        else:
            display.columns = self.headers
        styles = pd.DataFrame("", index=display.index, columns=display.columns)
        first_paper = self.paper_rows.index(True) if any(self.paper_rows) else None
        for i, is_paper in enumerate(self.paper_rows):
            if is_paper:
                styles.iloc[i, :] = italic + (paper_rule if i == first_paper else "")
            else:
                styles.iloc[i, 1:] = [bold if b else "" for b in self.best.iloc[i]]
        return display.style.apply(lambda _: styles, axis=None).hide(axis="index")


def table_view(table: ReportTable, options: TableOptions, *, latex: bool) -> TableView:
    """Everything a renderer prints for `table`; `latex` selects LaTeX or plain-text labels."""
    intervals = options.intervals or default_intervals(table)
    cells = cell_texts(table, intervals=intervals, decimals=options.decimals,
                       pm="$\\pm$" if latex else "±", dagger=DAGGER_LATEX if latex else "†",
                       partial=PARTIAL_MARK_LATEX if latex else PARTIAL_MARK)
    headers = [table.row_header, *(c.header + ("" if c.higher_is_better else " " + LOWER_MARK_LATEX)
                                   for c in table.columns)]
    groups = [c.group for c in table.columns]
    return TableView(
        headers=headers if latex else [plain_text(h) for h in headers],
        groups=groups if latex else [plain_text(g) for g in groups],
        labels=[row_label(table, i, names=options.names, latex=latex) for i in range(len(table.rows))],
        cells=cells,
        best=best_mask(table, options.decimals),
        paper_rows=[r.source == "paper" for r in table.rows],
        notes=table_notes(table, intervals=intervals, cells=cells, names=options.names),
    )
