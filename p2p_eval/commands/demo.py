"""`p2p-eval demo`: the whole paper evaluation in miniature."""

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="the paper's evaluation in miniature on the synthetic city (CPU, minutes)",
        description=(
            "Prepare the synthetic city, train the segmenter on its real photos, train pix2pix "
            "variants (losses preset and the encoder-decoder), generate val, score FCN-score and "
            "colorfulness, PSNR/SSIM, write LaTeX/HTML/Markdown reports, print a summary."
        ),
        epilog=(
            "examples:\n  p2p-eval demo\n  p2p-eval demo --quick --out /tmp/p2p-demo\n\n"
            "Interrupted? Run the same command again: finished steps are reused, unfinished ones resume."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="p2p-demo", help="output folder (default: ./p2p-demo)")
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer variants (about 3 minutes)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from p2p_eval.cli import main
    from p2p_eval.demo import DEFAULT, QUICK, run_demo, summary_rows

    out = Path(args.out)
    written = run_demo(out, QUICK if args.quick else DEFAULT, main, lambda line: print(line, flush=True))
    rows = summary_rows(out / "results")
    keys = [key for key in rows[0] if key != "run"]  # FCN-scores, then L, a, b, then PSNR, SSIM
    titles = {"pixel_acc": "pixel acc", "class_acc": "class acc", "class_iou": "class IoU"}
    widths = [max(6, len(titles.get(key, key))) for key in keys]
    header = f"{'run':<16} " + " ".join(f"{titles.get(k, k):>{w}}" for k, w in zip(keys, widths))
    print("\n" + header + "\n" + "-" * len(header))
    for row in rows:
        print(f"{row['run']:<16} " + " ".join(
            f"{row[k]:>{w}.3f}" if row[k] is not None else f"{'-':>{w}}" for k, w in zip(keys, widths)))
    print("\nwritten:")
    for path in written:
        print(f"  {path}")
    return 0
