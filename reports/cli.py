"""`p2p-eval report latex|html|md`: tables and pages rendered from results files."""

import argparse
import logging
import sys
from typing import TYPE_CHECKING, Any

from p2p_eval.commands.argtypes import positive_int
from reports.formatting import INTERVAL_STYLES

if TYPE_CHECKING:  # annotations only: registration stays free of pandas
    from p2p_eval.paper import PaperTable
    from reports.display import TableOptions
    from reports.tables import ReportTable

log = logging.getLogger(__name__)

_EPILOGS = {
    "latex": """examples:
  p2p-eval report latex fcn.json colorfulness.json --out tables.tex
  p2p-eval report latex fcn.json --paper --intervals brackets --standalone --out tables.tex
  p2p-eval report latex study.json --order L1,L1+cGAN --decimals 1 --out study.tex
  p2p-eval report latex fcn.json colorfulness.json --summary --out tables.tex""",
    "html": """example:
  p2p-eval report html fcn.json colorfulness.json --runs runs/ --data data/city --out report/""",
    "md": """examples (with several files, a side-by-side summary table comes first):
  p2p-eval report md fcn.json study.json
  p2p-eval report md fcn.json --paper --out RESULTS.md""",
}


def _order(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated run names, got {text!r}")
    return names


def _decimals(text: str) -> int:
    from reports.display import MAX_DECIMALS

    if not text.isdigit() or int(text) > MAX_DECIMALS:
        raise argparse.ArgumentTypeError(f"expected a whole number 0..{MAX_DECIMALS}, got {text!r}")
    return int(text)


def _table_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", metavar="RESULTS.json", help="results files, one table each")
    parser.add_argument(
        "--intervals", choices=INTERVAL_STYLES, default=None,
        help="uncertainty shown: none, pm (± a study's bootstrap SD, or half the interval) or brackets "
        "([low, high]); default: as the paper (± bootstrap SD for studies, none for scores; HYPE tables "
        "have their own Std. and 95%% CI columns)",
    )
    parser.add_argument("--paper", action="store_true", help="add the paper's published rows, marked (paper)")
    parser.add_argument("--paper-table", metavar="KEY", default=None,
                        help="lay out the files of its kind as this paper table when their variants do not "
                        "say (e.g. amt-colorization for a study); keys: see p2p_eval/paper.py")
    parser.add_argument("--order", type=_order, default=(), metavar="A,B,...", help="run names to list first, in this order")
    parser.add_argument("--decimals", type=_decimals, default=None, metavar="N",
                        help="decimals (default: 2 for scores, 1 for percentages)")
    parser.add_argument("--names", action="store_true", help="label rows with run names, not the paper's labels")


def register(subparsers: argparse._SubParsersAction) -> None:
    report = subparsers.add_parser(
        "report",
        help="render results files as LaTeX tables, an HTML page or Markdown",
        description="Render results files (fcn-score, label-score, colorfulness, study, hype-inf, hype-time) as tables.",
        epilog="\n\n".join(_EPILOGS.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    formats = report.add_subparsers(title="formats", metavar="FORMAT", required=True)
    helps = {
        "latex": "LaTeX tables in the paper's layouts (booktabs)",
        "html": "a self-contained HTML report folder: tables, plots, qualitative grid",
        "md": "Markdown tables for READMEs and issue threads",
    }
    for name, command in (("latex", run_latex), ("html", run_html), ("md", run_markdown)):
        parser = formats.add_parser(
            name, help=helps[name], description=helps[name][0].upper() + helps[name][1:] + ".",
            epilog=_EPILOGS[name], formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _table_arguments(parser)
        if name == "latex":
            parser.add_argument("--out", required=True, metavar="FILE", help="the .tex file to write")
            parser.add_argument("--standalone", action="store_true", help="write a complete document")
            parser.add_argument("--summary", action="store_true",
                                help="also a table of every file's scores side by side, one row per run")
        elif name == "html":
            parser.add_argument("--runs", nargs="+", default=(), metavar="DIR",
                                help="run folders (or folders of runs) for the qualitative grid")
            parser.add_argument("--data", metavar="PREPARED", help="the prepared dataset the runs were generated from")
            parser.add_argument("--split", default="val", help="split of the qualitative grid (default: val)")
            parser.add_argument("--frames", type=positive_int, default=4, metavar="N", help="frames in the grid (default: 4)")
            parser.add_argument("--out", required=True, metavar="DIR", help="the report folder to write")
        else:
            parser.add_argument("--out", metavar="FILE", help="the .md file to write (default: standard output)")
        parser.set_defaults(func=command)


def _tables(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list["ReportTable"], "TableOptions"]:
    """Load the documents and build their tables; the options checked once here."""
    from reports.display import TableOptions
    from reports.documents import check_order, load_documents
    from reports.tables import document_table

    documents = load_documents(args.results)
    check_order(args.order, documents)
    layout = _paper_layout(args.paper_table, documents)
    tables = [
        document_table(d, order=args.order, paper=args.paper, layout=layout if layout and layout.kind == d["kind"] else None)
        for d in documents
    ]
    if args.paper:
        from p2p_eval.paper import TABLES

        published = {t.kind for t in TABLES.values()}
        for path, table in zip(args.results, tables):
            if not table.has("paper") and table.kind in published:  # FID, LPIPS ...: the paper has none
                log.warning("%s: its runs' variants match no paper table; no published rows added.", path)
    return documents, tables, TableOptions(intervals=args.intervals, decimals=args.decimals, names=args.names)


def _paper_layout(key: str | None, documents: list[dict[str, Any]]) -> "PaperTable | None":
    """The ``--paper-table``, checked against the paper's tables and the files' kinds."""
    from p2p_eval.errors import InputError
    from p2p_eval.paper import TABLES
    from reports.tables import kind_columns

    if key is None:
        return None
    if key not in TABLES:
        raise InputError(f"--paper-table {key!r} is not a paper table; choose one of {sorted(TABLES)}.")
    table = TABLES[key]
    if table.kind not in {d["kind"] for d in documents}:
        raise InputError(f"--paper-table {key}: it lays out {table.kind} results, and no file given is of that kind.")
    columns = kind_columns(table.kind)
    if len(table.columns) != len(columns):
        raise InputError(
            f"--paper-table {key}: the paper's table has {len(table.columns)} columns "
            f"({', '.join(table.columns)}), one {table.kind} results file gives {len(columns)}; "
            "render each file on its own."
        )
    return table


def _summary(args: argparse.Namespace, documents: list[dict[str, Any]]) -> "ReportTable":
    from reports.summary import summary_table

    return summary_table(args.results, documents, order=args.order)


def _labels(tables: list["ReportTable"]) -> list[str]:
    """``tab:<key>``, numbered when several tables share a key."""
    keys = [t.key for t in tables]
    seen: dict[str, int] = {}
    labels = []
    for key in keys:
        seen[key] = seen.get(key, 0) + 1
        labels.append(f"tab:{key}" + (f"-{seen[key]}" if keys.count(key) > 1 else ""))
    return labels


def run_latex(args: argparse.Namespace) -> int:
    from p2p_eval.data.files import write_text
    from p2p_eval.data.outputs import check_distinct_outputs, check_output_path
    from reports.latex import latex_document, latex_table, provenance_comment

    check_output_path(args.out)  # before any file is read
    check_distinct_outputs([(args.out, "--out")], [(path, "RESULTS.json") for path in args.results])
    documents, tables, options = _tables(args)
    if args.summary:
        tables = [_summary(args, documents), *tables]
    texts = [latex_table(t, label=label, options=options) for t, label in zip(tables, _labels(tables))]
    header = provenance_comment(args.results, documents)
    write_text(args.out, latex_document(texts, header) if args.standalone else header + "\n".join(texts))
    print(f"wrote {len(texts)} table(s) to {args.out}" + (" (standalone)" if args.standalone else
          "; needs \\usepackage{booktabs} and \\usepackage{graphicx}"))
    return 0


def run_markdown(args: argparse.Namespace) -> int:
    from p2p_eval.data.files import write_text
    from p2p_eval.data.outputs import check_distinct_outputs, check_output_path
    from reports.markdown import markdown_report

    if args.out:
        check_output_path(args.out)  # before any file is read
        check_distinct_outputs([(args.out, "--out")], [(path, "RESULTS.json") for path in args.results])
    documents, tables, options = _tables(args)
    if len(documents) > 1:
        tables = [_summary(args, documents), *tables]
    text = markdown_report(tables, options)
    if args.out:
        write_text(args.out, text)
        print(f"wrote {len(tables)} table(s) to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def run_html(args: argparse.Namespace) -> int:
    from p2p_eval.data.outputs import check_output_path
    from p2p_eval.errors import InputError
    from reports.html import QualitativeSpec, write_html_report

    if bool(args.runs) != bool(args.data):
        raise InputError("the qualitative grid needs both --runs (the run folders) and --data (their prepared dataset).")
    check_output_path(args.out, folder=True)  # before any file is read
    documents, tables, options = _tables(args)
    grid = QualitativeSpec(runs=tuple(args.runs), data=args.data, split=args.split, n_frames=args.frames) if args.runs else None
    summary = _summary(args, documents) if len(documents) > 1 else None
    index = write_html_report(args.out, args.results, documents, tables, options, grid, summary)
    print(f"wrote {index}")
    return 0
