"""Markdown tables (GitHub-flavoured) for READMEs and issue threads (``report md``)."""

import re

from reports.display import TableOptions, table_view
from reports.formatting import plain_text
from reports.tables import ReportTable

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>|])")


def escape_markdown(text: str) -> str:
    r"""Backslash the characters that Markdown or a pipe table would interpret.

    Examples
    --------
    >>> escape_markdown("run_a|b *x*")
    'run\\_a\\|b \\*x\\*'
    """
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


def markdown_table(table: ReportTable, options: TableOptions = TableOptions()) -> str:
    """One results table as a caption line, a pipe table and its notes.

    Best cells are bold, the paper's rows italic, as in the LaTeX output.
    """
    view = table_view(table, options, latex=False)
    header = [g + (": " if g else "") + h for g, h in zip(["", *view.groups], view.headers)]
    lines = [
        f"**{escape_markdown(plain_text(table.caption))}**",
        "",
        "| " + " | ".join(escape_markdown(h) for h in header) + " |",
        "|:--" + "|:-:" * len(table.columns) + "|",
    ]
    for i, row in enumerate(table.rows):
        cells = [escape_markdown(view.labels[i])]
        for key in view.cells.columns:
            text = escape_markdown(view.cells.loc[i, key])
            cells.append(f"**{text}**" if view.best.loc[i, key] else text)
        if row.source == "paper":
            cells = [f"*{c}*" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", escape_markdown(plain_text(" ".join(view.notes))), ""]
    return "\n".join(lines)


def markdown_report(tables: list[ReportTable], options: TableOptions = TableOptions()) -> str:
    """All tables, separated by blank lines."""
    return "\n".join(markdown_table(t, options) for t in tables)
