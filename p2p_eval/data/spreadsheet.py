"""CSV text that spreadsheets open as data, never as formulas: every CSV p2p-eval writes goes through `csv_text`.

A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is a formula to Excel, LibreOffice and Google Sheets ("CSV injection"):
a run named ``=HYPERLINK(...)`` after its folder, or a rater id typed into the
study site, would run when a colleague opens the CSV. OWASP's recommendation
(owasp.org/www-community/attacks/CSV_Injection): "prepend each cell field with
a single quote" when it starts with one of those characters, which
spreadsheets show as text. Numbers are written as numbers, untouched (a
negative difference stays ``-0.25``).
"""

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP)."""


def neutralised(value: Any) -> Any:
    """A cell as written: text that would start a formula gets a leading ``'``; a float is its ``repr``
    ("" when it is NaN or infinite: results files hold no such number); None is "".

    Examples
    --------
    >>> [neutralised(v) for v in ("=1+1", "-run", "@SUM(A1)", "unet", -0.25, None, float("nan"), 3, True)]
    ["'=1+1", "'-run", "'@SUM(A1)", 'unet', '-0.25', '', '', 3, True]
    """
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return "" if value is None else value


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]], *, extra_keys: str = "raise") -> str:
    """Rows as CSV text, a header of `columns` first, every cell `neutralised`.

    Parameters
    ----------
    columns : sequence of str
    rows : iterable of mapping
        One per line; keys not in `columns` raise unless ``extra_keys="ignore"``
        (`csv.DictWriter`'s ``extrasaction``).
    """
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction=extra_keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: neutralised(value) for key, value in row.items()} for row in rows)
    return out.getvalue()
