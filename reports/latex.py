"""LaTeX tables in the paper's layouts, built with ``DataFrame.style.to_latex``.

Each table is a ``table`` float with booktabs rules, the paper's caption and
header, a ``\\label``, the best run per column in bold, the paper's published
rows (``--paper``) in italics below a rule, and a footnote line saying what
the marks mean and what was measured. Needs ``\\usepackage{booktabs}``.
"""

from reports.display import TableOptions, table_view
from reports.tables import ReportTable

_BOLD = "textbf:--rwrap;"
_ITALIC = "textit:--rwrap;"

PREAMBLE = r"""\documentclass{article}
\usepackage[utf8]{inputenc}
\usepackage{booktabs}
\usepackage{multirow}
\usepackage[margin=2.5cm]{geometry}
\begin{document}
"""


def latex_table(table: ReportTable, *, label: str, options: TableOptions = TableOptions()) -> str:
    """One results table as a LaTeX ``table`` float.

    Parameters
    ----------
    table : ReportTable
    label : str
        The ``\\label`` (e.g. ``"tab:losses"``).
    options : TableOptions, optional

    Returns
    -------
    latex : str
    """
    view = table_view(table, options, latex=True)
    styler = view.styler(bold=_BOLD, italic=_ITALIC)
    latex = styler.to_latex(
        hrules=True,
        caption=table.caption,
        label=label,
        position="t",
        position_float="centering",
        column_format="l" + "c" * len(table.columns),
    )
    if table.has("paper"):
        latex = _rule_before_row(latex, view.paper_rows.index(True))
    footnote = "\\par\\smallskip\n{\\footnotesize " + " ".join(view.notes) + "\\par}\n"
    return latex.replace("\\end{table}", footnote + "\\end{table}")


def _rule_before_row(latex: str, row: int) -> str:
    """Insert ``\\midrule`` before body row `row` (0-based) of a booktabs tabular."""
    lines = latex.split("\n")
    body_start = lines.index("\\midrule") + 1  # the rule between header and body
    lines.insert(body_start + row, "\\midrule")
    return "\n".join(lines)


def latex_document(tables: list[str]) -> str:
    """A complete document holding `tables` (``--standalone``)."""
    return PREAMBLE + "\n".join(tables) + "\\end{document}\n"
