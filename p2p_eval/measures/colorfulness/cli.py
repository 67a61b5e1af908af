"""``p2p-eval colorfulness``: the options of its own (the session's are in `p2p_eval.commands.measures`)."""

import argparse
from pathlib import Path

HELP = "Lab colour histograms of generated photos against the real ones (paper Figure 6)"
DESCRIPTION = "Histogram intersection of the L*, a*, b* marginals of each run with the real photos."
EPILOG = """\
examples:
  p2p-eval colorfulness runs/ --json results/colorfulness.json --plot results/colorfulness.png --with-real
  p2p-eval colorfulness runs/unet-l1 runs/unet-l1-cgan --data data/city --baseline unet-l1
  p2p-eval colorfulness results/label2photo --data data/cityscapes --bins 32   # PyTorch pix2pix test.py output

Per run: the marginal L*, a*, b* histograms over all pixels of its generated
images against the real photos of the same frames; histogram intersection per
channel (1 = identical) with 95% bootstrap intervals over frames. Per-image
histograms are cached in each run folder, so re-runs are incremental.
"""
WITH_REAL = "add the real photos' split-half self-comparison as a reference row"
DEFAULT_WORKERS = 1


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plot", metavar="OUT.png", type=_png,
                        help="draw the marginals (paper Figure 6) to this PNG and a PDF beside it")
    parser.add_argument("--bins", type=_binning, default=None, metavar="N|L,a,b",
                        help="bins per channel over L [0,100], a and b [-128,128] (default: 100,256,256, width 1)")


def settings(args: argparse.Namespace):
    from p2p_eval.measures.colorfulness.measure import ColorfulnessSettings
    from p2p_eval.metrics.colorfulness import DEFAULT_BINNING

    return ColorfulnessSettings(binning=args.bins or DEFAULT_BINNING)


def output_paths(args: argparse.Namespace) -> list[tuple[str, str]]:
    """``--plot``'s PNG and the PDF beside it, checked before any work."""
    return [(args.plot, "--plot"), (str(Path(args.plot).with_suffix(".pdf")), "--plot")] if args.plot else []


def write_outputs(args: argparse.Namespace, results) -> list[Path]:
    """``--plot``: Figure 6 drawn from the results document."""
    if not args.plot:
        return []
    from p2p_eval.measures.colorfulness.plot import plot_colorfulness

    return plot_colorfulness(results.to_dict(), args.plot)
