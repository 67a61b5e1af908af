"""`p2p-eval prepare synthetic|cityscapes|pix2pix-ab`: write a prepared dataset."""

import argparse
import os
import sys

from p2p_eval.commands.argtypes import positive_int, seed
from p2p_eval.data.cityscapes import LIKE
from p2p_eval.data.pix2pix_ab import FAR_DISTANCE, FAR_REFUSE

SYNTHETIC_EPILOG = """\
examples:
  p2p-eval prepare synthetic --out data/synth
  p2p-eval prepare synthetic --out data/synth64 --n-train 400 --n-val 100 --size 64 --workers 2

Street scenes in Cityscapes trainIds (15 of the 19 classes), rendered to photos with
multimodal per-instance colours. Frames are 2:1 at --label-size (kept for evaluation);
photos (bicubic) and colour maps (nearest) are squashed to --size x --size, as pix2pix
squashes Cityscapes. Frame i of a split depends only on (--seed, split, i).
Interrupted? Run the same command again: finished frames are kept."""

CITYSCAPES_EPILOG = """\
examples:
  p2p-eval prepare cityscapes --root ~/cityscapes --out data/cityscapes
  p2p-eval prepare cityscapes --root ~/cityscapes --out data/cs-clean --like clean
  p2p-eval prepare cityscapes --root ~/cityscapes --out data/cs128 --size 128 --splits val --workers 8

--root holds leftImg8bit/<split>/<city>/*_leftImg8bit.png and gtFine/<split>/<city>/ with
*_gtFine_labelIds.png and *_gtFine_color.png. trainIds come from the labelIds and stay at full
resolution. Photos and colour maps (the generator's input) are made --like:
  pytorch-pix2pix  (default) byte for byte what PyTorch pix2pix's prepare_cityscapes_dataset.py
                   feeds its trainer: *_gtFine_color.png (29 label colours) and the photo resized
                   with Pillow's default filter, side by side as JPEG quality 100, decoded
  clean            photos bicubic, colour maps drawn from the trainIds (19 colours, the rest black),
                   --color-resample nearest (default) or bicubic, no JPEG
dataset.json records the mode, and the order in which that script numbers the frames (from 0).
Interrupted? Run the same command again: finished frames are kept."""

AB_EPILOG = """\
examples:
  p2p-eval prepare pix2pix-ab --src datasets/cityscapes --out data/cityscapes-ab --direction BtoA
  p2p-eval prepare pix2pix-ab --src datasets/cityscapes --out data/ab-decoded --direction BtoA --color decoded

--src holds train/, val/ and/or test/ with side-by-side A|B images (.jpg or .png).
--direction names the label side as pix2pix does: AtoB = labels in A, BtoA = labels in B
(the pix2pix Cityscapes download is photo|labels, so BtoA). Label colours are decoded to
trainIds by the nearest Cityscapes colour; pixels farther than --tolerance from all of
them are counted, logged and recorded under "decode" in dataset.json. When more than
25% of them are far (the label map is probably the other half), the import is refused
and the other --direction suggested; --force imports anyway."""


def _label_size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 256x512, got {text!r}") from None
    return height, width


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="folder to write the prepared dataset to")
    parser.add_argument("--workers", type=positive_int, default=min(os.cpu_count() or 1, 8),
                        help="worker processes (default: CPU count, at most 8); output does not depend on it")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prepare",
        help="write a prepared dataset: the synthetic city, Cityscapes, or a pix2pix AB dataset",
        description="Write a prepared dataset (dataset.json and <split>/<frame>_{photo,color,trainids}.png).",
        epilog="examples:\n  p2p-eval prepare synthetic --out data/synth\n"
               "  p2p-eval prepare cityscapes --root ~/cityscapes --out data/cityscapes",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sources = parser.add_subparsers(title="sources", metavar="SOURCE", required=True)
    kw = {"formatter_class": argparse.RawDescriptionHelpFormatter}

    synth = sources.add_parser("synthetic", help="generate the embedded synthetic city",
                               description="Generate the embedded synthetic city.", epilog=SYNTHETIC_EPILOG, **kw)
    _common(synth)
    synth.add_argument("--n-train", type=int, default=200, help="training frames (default 200)")
    synth.add_argument("--n-val", type=int, default=50, help="validation frames (default 50)")
    synth.add_argument("--size", type=int, default=256, help="generation size of photos and colour maps (default 256)")
    synth.add_argument("--label-size", type=_label_size, default=(256, 512),
                       help="HxW of the frames and trainIds (default 256x512, the Cityscapes aspect)")
    synth.add_argument("--seed", type=seed, default=0, help="base seed, 0 to 2**32-1 (default 0)")
    synth.set_defaults(func=run_synthetic)

    city = sources.add_parser("cityscapes", help="prepare the official Cityscapes layout",
                              description="Prepare Cityscapes from its official folder layout.",
                              epilog=CITYSCAPES_EPILOG, **kw)
    _common(city)
    city.add_argument("--root", required=True, help="Cityscapes folder holding leftImg8bit/ and gtFine/")
    city.add_argument("--size", type=int, default=256, help="generation size (default 256)")
    city.add_argument("--splits", default="train,val", help="comma-separated splits (default train,val)")
    city.add_argument("--like", choices=LIKE, default="pytorch-pix2pix",
                      help="make photos and colour maps as the PyTorch pix2pix preparation (default) or clean")
    city.add_argument("--color-resample", choices=("nearest", "bicubic"),
                      help="--like clean: filter for the colour label maps (default nearest)")
    city.set_defaults(func=run_cityscapes)

    ab = sources.add_parser("pix2pix-ab", help="import a side-by-side pix2pix dataset",
                            description="Import a pix2pix AB dataset (A|B images in split folders).",
                            epilog=AB_EPILOG, **kw)
    _common(ab)
    ab.add_argument("--src", required=True, help="folder holding train/, val/, test/ of AB images")
    ab.add_argument("--direction", required=True, choices=("AtoB", "BtoA"), help="which half is the label map's input side")
    ab.add_argument("--size", type=int, default=None, help="squash photos and colour maps to this size (default: keep)")
    ab.add_argument("--tolerance", type=float, default=FAR_DISTANCE,
                    help="RGB distance from every label colour that counts as far (default 30)")
    ab.add_argument("--color", choices=("original", "decoded"), default="original",
                    help="colour map to write: the label half as shipped (default) or the decoded trainIds' colours")
    ab.add_argument("--force", action="store_true",
                    help=f"import even when more than {100 * FAR_REFUSE:.0f}%% of the label pixels are far from every label colour")
    ab.set_defaults(func=run_ab)


def _config(factory, **fields):
    """Build a config dataclass; a validation error exits 2 with its message, like argparse's."""
    try:
        return factory(**fields)
    except ValueError as err:
        print(f"p2p-eval prepare: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def _print_summary(out: str, meta: dict) -> None:
    counts = ", ".join(f"{split} {len(frames)}" for split, frames in meta["splits"].items())
    label = "x".join(map(str, meta["label_size"])) if meta.get("label_size") else "per frame"
    print(f"{meta['name']} prepared in {out}: {counts} frames; photos {meta['image_size'][0]}x{meta['image_size'][1]}, "
          f"trainIds {label}")
    if "decode" in meta:
        d = meta["decode"]
        print(f"label colours: {d['far_pixels']} of {d['pixels']} pixels farther than {d['tolerance']:g} "
              f"from every Cityscapes colour")
    print(f"look at it: p2p-eval show {out} --frames 8 --out {os.path.join(out, 'grid.png')}")


def run_synthetic(args: argparse.Namespace) -> int:
    from p2p_eval.data.synthetic import SyntheticConfig, prepare_synthetic

    config = _config(SyntheticConfig, n_train=args.n_train, n_val=args.n_val, size=args.size,
                     label_size=args.label_size, seed=args.seed)
    _print_summary(args.out, prepare_synthetic(args.out, config, workers=args.workers, progress=not args.quiet))
    return 0


def run_cityscapes(args: argparse.Namespace) -> int:
    from p2p_eval.data.cityscapes import CityscapesConfig, prepare_cityscapes

    splits = tuple(s.strip() for s in args.splits.split(",") if s.strip())
    config = _config(CityscapesConfig, size=args.size, splits=splits, like=args.like,
                     color_resample=args.color_resample)
    _print_summary(args.out, prepare_cityscapes(args.root, args.out, config, workers=args.workers,
                                                progress=not args.quiet))
    return 0


def run_ab(args: argparse.Namespace) -> int:
    from p2p_eval.data.pix2pix_ab import AbConfig, prepare_pix2pix_ab

    config = _config(AbConfig, direction=args.direction, size=args.size, tolerance=args.tolerance, color=args.color,
                     force=args.force)
    _print_summary(args.out, prepare_pix2pix_ab(args.src, args.out, config, workers=args.workers,
                                                progress=not args.quiet))
    return 0
