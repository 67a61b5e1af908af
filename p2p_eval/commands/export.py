"""`p2p-eval export pix2pix-ab`: a prepared dataset as the AB folders PyTorch pix2pix trains on."""

import argparse
import sys

EPILOG = """\
examples:
  p2p-eval export pix2pix-ab data/cityscapes --out datasets/cityscapes
  p2p-eval export pix2pix-ab data/cityscapes --out datasets/cs-numbered --names index --format jpg

then, in pytorch-CycleGAN-and-pix2pix:
  python train.py --dataroot datasets/cityscapes --name cs_pix2pix --model pix2pix --direction BtoA
  python test.py --dataroot datasets/cityscapes --name cs_pix2pix --model pix2pix --direction BtoA \
      --load_size 256 --num_test 500
and back here:
  p2p-eval fcn-score results/cs_pix2pix --data data/cityscapes

test.py's defaults resize to 286 and crop 256 at a random place, and stop after 50 images:
--load_size 256 tests on whole frames, as the paper's test.lua (loadSize = 256, fineSize = 256),
and --num_test 500 covers the 500 Cityscapes val frames.

Layout of PyTorch pix2pix's Cityscapes preparation: photo | colour labels side by side
(train with --direction BtoA), train/ from the train split, test/ from val. Files are named
by frame id, so test.py's <frame>_fake_B.png match the prepared frames; --names index numbers
them from 0 in that preparation's order. PNG is lossless (PyTorch pix2pix trains on exactly
the prepared pixels); --format jpg re-encodes at quality 100, subsampling 0, as it does.
p2p-eval-export.json records what was written and the frame of every file."""


def _phases(text: str) -> tuple[tuple[str, str], ...]:
    try:
        pairs = tuple(tuple(part.split("=")) for part in text.split(","))
        if any(len(p) != 2 or not all(p) for p in pairs):
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected SPLIT=FOLDER pairs such as train=train,val=test, got {text!r}") from None
    return pairs


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="write a prepared dataset in another tool's layout (pix2pix-ab)",
        description="Write a prepared dataset in another tool's layout.",
    )
    formats = parser.add_subparsers(title="formats", metavar="FORMAT", required=True)
    ab = formats.add_parser(
        "pix2pix-ab", help="the side-by-side AB folders PyTorch pix2pix trains and tests on",
        description="Write a prepared dataset as PyTorch pix2pix AB folders.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ab.add_argument("data", help="prepared dataset folder (holding dataset.json)")
    ab.add_argument("--out", required=True, help="folder to write train/, test/ and p2p-eval-export.json into")
    ab.add_argument("--direction", choices=("BtoA", "AtoB"), default="BtoA",
                    help="the labels->photo training direction: BtoA puts the labels in B (default, as the "
                         "PyTorch preparation), AtoB in A")
    ab.add_argument("--names", choices=("frame", "index"), default="frame",
                    help="file names: frame ids (default) or 0, 1, ... in the PyTorch preparation's order")
    ab.add_argument("--format", choices=("png", "jpg"), default="png", help="image format (default png: lossless)")
    ab.add_argument("--phases", type=_phases, default=(("train", "train"), ("val", "test")),
                    help="SPLIT=FOLDER pairs (default train=train,val=test, as the PyTorch preparation)")
    ab.add_argument("--quiet", action="store_true", help="no progress bar")
    ab.set_defaults(func=run_ab)


def run_ab(args: argparse.Namespace) -> int:
    from p2p_eval.data.pix2pix_ab_export import AbExportConfig, export_pix2pix_ab
    from p2p_eval.data.prepared import PreparedDataset

    try:
        config = AbExportConfig(direction=args.direction, phases=args.phases, names=args.names, image_format=args.format)
    except ValueError as err:
        print(f"p2p-eval export: error: {err}", file=sys.stderr)
        return 2
    record = export_pix2pix_ab(PreparedDataset.load(args.data), args.out, config, progress=not args.quiet)
    counts = ", ".join(f"{folder}/ {len(frames)}" for folder, frames in record["frames"].items())
    print(f"wrote {args.out}: {counts} {args.format.upper()} images, A = {record['a']}, B = {record['b']} "
          f"(train with --direction {args.direction})")
    return 0
