"""`p2p-eval train-segmenter`: train the segmenter that FCN-scores a prepared dataset."""

import argparse
import re

from p2p_eval.commands.argtypes import positive_float, positive_int, seed

EPILOG = """\
examples:
  p2p-eval train-segmenter --data data/synthetic --out data/synthetic/segmenter.pt
  p2p-eval train-segmenter --data data/synth64 --out seg.pt --crop 64x128 --epochs 5
  p2p-eval train-segmenter --data data/synthetic --out seg.pt --arch smp-unet --encoder mobilenet_v2 --epochs 10
  p2p-eval train-segmenter --data data/cityscapes --out seg.pt --arch smp-deeplabv3plus --device cuda --resume

It trains on the real train photos (generation size, resized bilinear to the training size, by
default the label size the scorer segments at, as the paper's FCN was trained on photos downsized
to 256x256 and upsampled back), evaluates the real val photos with the FCN-score pipeline, stores
those scores in the checkpoint and records the checkpoint in dataset.json, so that
`p2p-eval fcn-score runs/` finds it. State is saved after every epoch to OUT.state; re-run with
--resume after an interruption. A finished OUT is never replaced without --overwrite."""


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)(?:x(\d+))?", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected HxW or N (square), e.g. 128x256, got {text!r}")
    h = int(match.group(1))
    w = int(match.group(2) or h)
    if min(h, w) < 16:
        raise argparse.ArgumentTypeError(f"expected a size of at least 16x16, got {text!r}")
    return h, w


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train-segmenter",
        help="train the FCN-score segmenter on a prepared dataset's real photos",
        description="Train a segmenter on the real train photos of a prepared dataset and score it on real val photos.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", required=True, help="prepared dataset folder (with dataset.json)")
    parser.add_argument("--out", required=True, help="segmenter checkpoint to write (.pt)")
    parser.add_argument(
        "--arch",
        help="unet-small (default: minutes on a CPU), smp-unet (default when --encoder or "
        "--encoder-weights is given), smp-deeplabv3plus or fcn8s",
    )
    parser.add_argument("--encoder", help="encoder of the smp-* architectures (default resnet18)")
    parser.add_argument("--encoder-weights", metavar="FILE", help="local encoder weights to start from (nothing is downloaded)")
    parser.add_argument("--epochs", type=positive_int, default=15, help="passes over the train split (default 15)")
    parser.add_argument("--batch-size", type=positive_int, default=8, help="default 8")
    parser.add_argument("--lr", type=positive_float, default=5e-3, help="AdamW peak learning rate, cosine decay (default 5e-3)")
    parser.add_argument("--size", type=_size, help="training size HxW (default: the dataset's label size)")
    parser.add_argument("--crop", type=_size, help="train on random HxW crops of it (same scale, cheaper steps)")
    parser.add_argument("--device", default="auto", help="auto (default: CUDA when present), cpu, cuda or cuda:N")
    parser.add_argument("--seed", type=seed, default=0, help="random seed, 0 to 2**32-1 (default 0)")
    parser.add_argument("--workers", type=int, default=2, help="image decoding threads (default 2)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT.state after an interruption")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a finished checkpoint OUT (and its record in dataset.json)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from p2p_eval.device import pick_device
    from p2p_eval.errors import InputError
    from p2p_eval.segmenters import ARCHITECTURES
    from trainers.segmenter.train import SegmenterTrainConfig, train_segmenter

    if args.arch is None:  # asking for an encoder means asking for an encoder-decoder network
        args.arch = "smp-unet" if args.encoder or args.encoder_weights else "unet-small"
    if args.arch not in ARCHITECTURES:
        raise InputError(f"--arch {args.arch!r} is unknown; choose one of {sorted(ARCHITECTURES)}.")
    if (args.encoder or args.encoder_weights) and not args.arch.startswith("smp-"):
        raise InputError(f"--encoder and --encoder-weights apply to the smp-* architectures, not {args.arch!r}.")
    if args.encoder_weights and not Path(args.encoder_weights).is_file():
        raise InputError(f"{args.encoder_weights}: encoder weights file not found.")
    try:
        device = pick_device(args.device)
    except ValueError as err:
        raise InputError(str(err)) from None
    config = SegmenterTrainConfig(
        data=args.data, out=args.out, arch=args.arch,
        encoder=args.encoder,
        encoder_weights=args.encoder_weights, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        size=args.size, crop=args.crop, seed=args.seed, device=args.device, workers=args.workers, resume=args.resume,
        overwrite=args.overwrite, progress=not args.quiet,
    )
    segmenter = train_segmenter(config, device)
    scores = segmenter.meta["scores"]
    print(f"wrote {args.out} (recorded in {Path(args.data) / 'dataset.json'})")
    print(
        f"real {scores['split']} photos ({scores['n_images']}): pixel acc {scores['pixel_acc']:.4f}, "
        f"class acc {scores['class_acc']:.4f}, class IoU {scores['class_iou']:.4f}"
    )
    return 0
