"""The HTML report: one self-contained folder with tables, figures and a qualitative grid.

::

    <out>/index.html                 the page (relative links only)
    <out>/results/<name>.json        copies of the results files it was rendered from
    <out>/figures/*.png              colour marginals, per-class IoU
    <out>/frames/<frame>/NN.png      thumbnails of the qualitative grid

Everything the page shows lies inside the folder, so it can be zipped and shared.
"""

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from p2p_eval import __version__
from p2p_eval.data.files import write_json, write_text
from reports.display import TableOptions, table_view
from reports.figures import per_class_iou_figure
from reports.formatting import plain_text
from reports.qualitative import THUMBNAIL_HEIGHT, write_grid
from reports.tables import ReportTable

log = logging.getLogger(__name__)

_BOLD = "font-weight: bold;"
_ITALIC = "font-style: italic; color: #555;"
_RULE = "border-top: 1px solid #000;"  # above the first paper row, as the LaTeX \\midrule


@dataclass(frozen=True)
class QualitativeSpec:
    runs: tuple[str, ...]  # run folders or folders of runs (``--runs``)
    data: str  # the prepared dataset (``--data``)
    split: str = "val"
    n_frames: int = 4


def html_table(table: ReportTable, options: TableOptions) -> tuple[str, str]:
    """One results table as an HTML ``<table>`` (pandas Styler), and its notes as plain text."""
    view = table_view(table, options, latex=False)
    styler = (
        view.styler(bold=_BOLD, italic=_ITALIC, paper_rule=_RULE)
        .format(escape="html")
        .format_index(escape="html", axis=1)
        .set_caption(plain_text(table.caption))
        .set_table_attributes('class="scores"')
    )
    return styler.to_html(), plain_text(" ".join(view.notes))


def _has_histograms(document: dict[str, Any]) -> bool:
    """Whether a colorfulness document holds what its plot needs (bins, every run's and the real counts)."""
    binning = (document.get("protocol") or {}).get("binning") or {}
    reference = (document.get("data") or {}).get("reference") or {}
    return all(isinstance(binning.get(c), dict) and reference.get(c) for c in "Lab") and all(
        r.get("histograms") for r in document["runs"] if not r.get("is_real"))


def _figures(out: Path, index: int, document: dict[str, Any]) -> list[dict[str, str]]:
    from p2p_eval.measures.colorfulness.plot import plot_colorfulness

    figures = []
    if document["kind"] == "colorfulness":
        src = f"figures/colorfulness-{index}.png"
        if _has_histograms(document):
            plot_colorfulness(document, out / src)  # also writes a PDF beside it, for papers
            figures.append({"src": src, "alt": "Marginal log-probability of L, a, b (ground truth dotted)"})
        else:
            log.warning("colorfulness results #%d hold no histograms (or no binning); plot left out.", index + 1)
    if document["kind"] in ("fcn-score", "label-score"):
        src = f"figures/per-class-iou-{index}.png"
        if per_class_iou_figure(document, out / src):
            figures.append({"src": src, "alt": "IoU per class"})
    return figures


def _grid(out: Path, spec: QualitativeSpec, documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    from p2p_eval.data.prepared import PreparedDataset
    from p2p_eval.data.runs import discover_runs
    from reports.documents import run_names

    dataset = PreparedDataset.load(spec.data)
    runs = discover_runs(spec.runs)
    reported = {name: i for i, name in enumerate(run_names(documents))}
    runs.sort(key=lambda r: reported.get(r.name, len(reported)))  # the tables' order first
    rows = write_grid(out, dataset, runs, split=spec.split, n_frames=spec.n_frames)
    return {"split": spec.split, "headers": ["Input labels", *(r.name for r in runs), "Real photo"], "rows": rows}


def write_html_report(
    out: str | os.PathLike,
    paths: Sequence[str | os.PathLike],
    documents: Sequence[dict[str, Any]],
    tables: Sequence[ReportTable],
    options: TableOptions,
    grid: QualitativeSpec | None = None,
    summary: ReportTable | None = None,
) -> Path:
    """Write the report folder; returns the path of ``index.html``.

    Parameters
    ----------
    out : path-like
        The report folder (created; files in it are replaced).
    paths, documents, tables : sequences of equal length
        The results files, as loaded and as tables.
    options : TableOptions
    grid : QualitativeSpec or None, optional
        The runs and dataset of the qualitative grid; None leaves it out.
    summary : ReportTable or None, optional
        The side-by-side table (`reports.summary.summary_table`), shown first.
    """
    import jinja2

    out = Path(out)
    sources, sections = [], []
    if summary is not None:
        table_html, notes = html_table(summary, options)
        sections.append({"title": "Summary", "table_html": table_html, "notes": notes, "figures": []})
    for index, (path, document, table) in enumerate(zip(paths, documents, tables)):
        href = f"results/{index:02d}-{Path(path).name}"
        write_json(out / href, document)
        sources.append({"href": href, "name": Path(path).name, "kind": document["kind"]})
        table_html, notes = html_table(table, options)
        title = f"{table.paper.v3}: {table.key}" if table.paper else f"{document['kind']} ({Path(path).name})"
        sections.append({"title": title, "table_html": table_html, "notes": notes,
                         "figures": _figures(out, index, document)})
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True
    )
    page = environment.get_template("report.html").render(
        sources=sources, sections=sections, version=__version__, thumb_height=THUMBNAIL_HEIGHT,
        grid=_grid(out, grid, documents) if grid else None,
    )
    write_text(out / "index.html", page)
    return out / "index.html"
