"""Numbers and names as table text: LaTeX escaping, LaTeX-to-plain, cells with intervals.

The paper's captions, column headers and row labels in `p2p_eval.paper` are
LaTeX source; run names are plain text. LaTeX output escapes run names;
Markdown and HTML output turn the paper's LaTeX into plain Unicode text.
"""

import math
import re

INTERVAL_STYLES = ("none", "pm", "brackets")
"""How a score's uncertainty is shown: not at all, ``0.66 ± 0.02``, ``0.66 [0.64, 0.68]``."""

NULL_MARK = "--"
"""Cell text of a score that does not exist (null or NaN in the results)."""

MISSING_MARK = "n/a"
"""Cell text of a run that is not in a results document."""

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    # pdflatex's default font encoding (OT1) draws these three as ¡, ¿ and an em dash
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
_LATEX_SPECIAL_RE = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIALS))

# The LaTeX used by p2p_eval.paper's captions and labels, and its plain-text reading.
_LATEX_TO_PLAIN = (
    (r"$\to$", "→"),
    (r"$\downarrow$", "↓"),
    (r"$\leftrightarrow$", "↔"),
    (r"$\times$", "×"),
    (r"$\pm$", "±"),
    (r"$_\infty$", "∞"),
    (r"$_\mathrm{time}$", "_time"),
    (r"$^\dagger$", "†"),
    (r"$^\ddagger$", "‡"),
    ("-{}-", "--"),
    (r"$<$", "<"),
    ("``", "“"),
    ("''", "”"),
    # what escape_latex makes of a name (dataset, run, baseline) in a caption or note
    *((escaped, char) for char, escaped in _LATEX_SPECIALS.items()),
)
_LATEX_TO_PLAIN_RE = re.compile("|".join(re.escape(s) for s, _ in sorted(_LATEX_TO_PLAIN, key=lambda p: -len(p[0]))))
_PLAIN = dict(_LATEX_TO_PLAIN)


def escape_latex(text: str) -> str:
    r"""Escape the characters LaTeX treats specially, so `text` prints as written.

    Examples
    --------
    >>> escape_latex("run_a&b 50%")
    'run\\_a\\&b 50\\%'
    """
    return _LATEX_SPECIAL_RE.sub(lambda m: _LATEX_SPECIALS[m.group()], text)


def plain_text(latex: str) -> str:
    """Plain Unicode reading of the small LaTeX vocabulary used in `p2p_eval.paper` and of `escape_latex`.

    Examples
    --------
    >>> plain_text(r"Cityscapes labels$\\to$photos (\\% real)")
    'Cityscapes labels→photos (% real)'
    """
    # One pass, longest match first: text that one replacement produced is never read as LaTeX again.
    return _LATEX_TO_PLAIN_RE.sub(lambda m: _PLAIN[m.group()], latex)


def is_null(value: float | None) -> bool:
    """True for a score that does not exist (None or NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_number(value: float, *, decimals: int, percent: bool = False) -> str:
    """A score as fixed-point text; fractions become percentages when `percent`.

    Examples
    --------
    >>> format_number(0.6649, decimals=2), format_number(0.189, decimals=1, percent=True)
    ('0.66', '18.9')
    """
    return f"{value * (100 if percent else 1):.{decimals}f}"


def format_cell(
    value: float | None,
    *,
    low: float | None = None,
    high: float | None = None,
    error: float | None = None,
    style: str = "none",
    decimals: int = 2,
    percent: bool = False,
    pm: str = "±",
    mark: str = "",
) -> str:
    """One table cell: a score and, optionally, its uncertainty.

    Parameters
    ----------
    value : float or None
        The score (a fraction); None or NaN gives `NULL_MARK`.
    low, high : float or None, optional
        Interval bounds (fractions).
    error : float or None, optional
        The "±" (fraction; a study's bootstrap SD). ``"pm"`` shows it when given, else half
        the interval's width.
    style : {"none", "pm", "brackets"}, optional
    decimals : int, optional
    percent : bool, optional
        Show fractions as percentages.
    pm : str, optional
        The plus-minus sign (``"$\\pm$"`` for LaTeX).
    mark : str, optional
        Written right after the score, before its uncertainty (a significance dagger).

    Returns
    -------
    text : str

    Examples
    --------
    >>> format_cell(0.66, low=0.64, high=0.69, style="brackets")
    '0.66 [0.64, 0.69]'
    >>> format_cell(0.189, error=0.025, style="pm", decimals=1, percent=True)
    '18.9 ± 2.5'
    >>> format_cell(None, style="pm")
    '--'
    """
    if style not in INTERVAL_STYLES:
        raise ValueError(f"Expected `style` to be one of {INTERVAL_STYLES}, got {style!r}.")
    if is_null(value):
        return NULL_MARK
    text = format_number(value, decimals=decimals, percent=percent) + mark
    have_interval = not (is_null(low) or is_null(high))
    if style == "pm":
        half = error if not is_null(error) else ((high - low) / 2 if have_interval else None)
        if half is not None:
            text += f" {pm} {format_number(half, decimals=decimals, percent=percent)}"
    elif style == "brackets" and have_interval:
        bounds = ", ".join(format_number(b, decimals=decimals, percent=percent) for b in (low, high))
        text += f" [{bounds}]"
    return text


def format_range(low: float | None, high: float | None, *, decimals: int = 2, percent: bool = False) -> str:
    """An interval alone, as HYPE's "95% CI" column prints it; `NULL_MARK` when a bound is missing.

    Examples
    --------
    >>> format_range(0.482, 0.531, decimals=1, percent=True)
    '48.2–53.1'
    """
    if is_null(low) or is_null(high):
        return NULL_MARK
    return "–".join(format_number(b, decimals=decimals, percent=percent) for b in (low, high))
