"""`p2p-eval show`: a picture grid of a prepared dataset, and its class shares."""

import argparse

from p2p_eval.commands.argtypes import positive_int

EPILOG = """\
examples:
  p2p-eval show data/synth --frames 8 --out grid.png
  p2p-eval show data/cityscapes --split train --frames 4 --out train.png

Each row is one frame: photo | colour label map (the pix2pix input) | trainIds drawn in
colour, squashed to the photo size (the evaluation labels). Frames are spread evenly over
the split. The share of each class among the split's labelled pixels is printed."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "show",
        help="write a picture grid (photo, colour labels, trainIds) of a prepared dataset",
        description="Write a picture grid of a prepared dataset and print its class shares.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("data", help="prepared dataset folder (holding dataset.json)")
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.add_argument("--frames", type=positive_int, default=8, help="frames to show (default 8)")
    parser.add_argument("--split", default="val", help="split to show (default val)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from p2p_eval.data.files import write_png
    from p2p_eval.data.outputs import check_output_path
    from p2p_eval.data.prepared import PreparedDataset
    from p2p_eval.data.preview import class_shares, frame_grid, pick_frames

    check_output_path(args.out)
    dataset = PreparedDataset.load(args.data)
    frames = pick_frames(dataset, args.split, args.frames)
    dataset.check_files(args.split)
    # Every trainIds file of the split is read (and checked) before the grid is written:
    # a bad file stops the command with nothing written, not after "wrote ...".
    shares = class_shares(dataset, args.split, progress=not args.quiet)
    write_png(args.out, frame_grid(dataset, args.split, frames))
    print(f"{args.out}: {len(frames)} frames of {dataset.name}/{args.split} (photo | colour labels | trainIds)")
    for name, share in shares.items():
        print(f"  {name:<14} {100 * share:6.2f}%")
    return 0
