"""`p2p-eval colorfulness`: Lab histogram intersection of runs with the real photos."""

import argparse

from p2p_eval.commands.argtypes import positive_int


EPILOG = """\
examples:
  p2p-eval colorfulness runs/ --json results/colorfulness.json --plot results/colorfulness.png --with-real
  p2p-eval colorfulness runs/unet-l1 runs/unet-l1-cgan --data data/city --baseline unet-l1
  p2p-eval colorfulness checkpoints/facades_pix2pix --data data/facades --split test --bins 32

Per run: the marginal L*, a*, b* histograms over all pixels of its generated
images against the real photos of the same frames; histogram intersection per
channel (1 = identical) with 95% bootstrap intervals over frames. Per-image
histograms are cached in each run folder, so re-runs are incremental.
"""


def _binning(text: str):
    """`--bins`: one count for all channels, or three counts L,a,b."""
    from p2p_eval.metrics.colorfulness import Binning

    try:
        counts = [int(part) for part in text.split(",")]
        return Binning(tuple(counts * 3 if len(counts) == 1 else counts))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected one bin count (e.g. 64) or three counts L,a,b (e.g. 100,256,256), got {text!r}"
        ) from None


def _png(text: str) -> str:
    if not text.lower().endswith(".png"):
        raise argparse.ArgumentTypeError(f"expected a .png file name (a .pdf is written beside it), got {text!r}")
    return text


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "colorfulness",
        help="Lab colour histograms of generated photos against the real ones (paper Figure 6)",
        description="Histogram intersection of the L*, a*, b* marginals of each run with the real photos.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", nargs="+", metavar="RUN_OR_RUNS_DIR", help="run folders, or folders of runs")
    parser.add_argument("--data", metavar="PREPARED",
                        help="prepared dataset with the real photos (default: the one the runs' run.json record)")
    parser.add_argument("--split", default="val", help="split to score (default: val)")
    parser.add_argument("--json", metavar="OUT", help="write the results document here")
    parser.add_argument("--plot", metavar="OUT.png", type=_png,
                        help="draw the marginals (paper Figure 6) to this PNG and a PDF beside it")
    parser.add_argument("--with-real", action="store_true",
                        help="add the real photos' split-half self-comparison as a reference row")
    parser.add_argument("--bins", type=_binning, default=None, metavar="N|L,a,b",
                        help="bins per channel over L [0,100], a and b [-128,128] (default: 100,256,256, width 1)")
    parser.add_argument("--baseline", metavar="RUN", help="paired bootstrap test of every run against this run")
    parser.add_argument("--resamples", type=positive_int, default=1000, metavar="B",
                        help="bootstrap resamples (default: 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="score the frames a run has, warning about the rest, instead of stopping")
    parser.add_argument("--workers", type=positive_int, default=1, metavar="N",
                        help="threads reading and histogramming images (default: 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from p2p_eval.colorfulness import ColorfulnessConfig, measure_colorfulness
    from p2p_eval.data.runs import discover_runs, recorded_dataset
    from p2p_eval.metrics.colorfulness import DEFAULT_BINNING
    from p2p_eval.results import write_results

    config = ColorfulnessConfig(
        split=args.split, binning=args.bins or DEFAULT_BINNING, with_real=args.with_real,
        baseline=args.baseline, n_resamples=args.resamples, seed=args.seed,
        allow_missing=args.allow_missing, workers=args.workers, progress=not args.quiet,
    )
    runs = discover_runs(args.runs)
    dataset = recorded_dataset(runs, args.data)
    document = measure_colorfulness(runs, dataset, config)
    print(format_table(document))
    if args.json:
        write_results(args.json, document)
        print(f"wrote {args.json}")
    if args.plot:
        from p2p_eval.colorfulness_plot import plot_colorfulness

        for path in plot_colorfulness(document, args.plot):
            print(f"wrote {path}")
    return 0


def _score(value, interval) -> str:
    if value is None or value != value:
        return "n/a"
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def format_table(document: dict) -> str:
    """The results as a plain-text table, one row per run, baseline tests below."""
    data = document["data"]
    header = f"{'run':<24} {'n':>5}  " + "  ".join(f"{c:<21}" for c in ("L", "a", "b"))
    lines = [f"colorfulness: histogram intersection with the real photos of {data['dataset_name']}/{data['split']} "
             "(1 = identical), 95% bootstrap intervals", header, "-" * len(header)]
    for entry in document["runs"]:
        name = entry["name"] + (" *" if entry["is_real"] else "")
        scores = "  ".join(f"{_score(entry[c], entry['intervals'][c]):<21}" for c in ("L", "a", "b"))
        lines.append(f"{name:<24} {entry['n_images']:>5}  {scores}")
    if any(e["is_real"] for e in document["runs"]):
        lines.append("* real photos: split-half self-comparison (median and 95% range over random splits)")
    for entry in document["runs"]:
        test = entry.get("baseline_test")
        if test:
            parts = [f"{c} {test[c]['difference']:+.3f} [{test[c]['interval'][0]:+.3f}, "
                     f"{test[c]['interval'][1]:+.3f}] p={test[c]['p_value']:.3g}" for c in ("L", "a", "b")]
            lines.append(f"{entry['name']} - {test['baseline']}: " + "; ".join(parts))
    return "\n".join(lines)
