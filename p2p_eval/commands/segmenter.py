"""`p2p-eval segmenter import-caffe|info`: bring in the published FCN-8s, inspect checkpoints."""

import argparse
import json

IMPORT_EPILOG = """\
examples:
  p2p-eval segmenter import-caffe fcn-8s-cityscapes.caffemodel --out fcn8s-cityscapes.pt
  p2p-eval fcn-score runs/ --data cityscapes-prepared --segmenter fcn8s-cityscapes.pt

The file is the one pix2pix's scripts/eval_cityscapes/download_fcn8s.sh fetches. It is read
without Caffe ("layer" and legacy "layers" formats); the checkpoint records the official
preprocessing (RGB->BGR, minus the mean (72.78044, 83.21195, 73.45286), no scaling) and maps
the model's 20th output, which no training pixel targeted, to 255 (counted as an error)."""

INFO_EPILOG = """\
example:
  p2p-eval segmenter info fcn8s-cityscapes.pt"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "segmenter",
        help="import the published Caffe FCN-8s, or describe a segmenter checkpoint",
        description="Segmenter checkpoints: import the Caffe FCN-8s, print what a checkpoint holds.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    importer = commands.add_parser(
        "import-caffe",
        help="convert a Caffe FCN-8s .caffemodel into a p2p-eval segmenter checkpoint",
        description="Convert a Caffe FCN-8s .caffemodel (no Caffe needed) into a segmenter checkpoint.",
        epilog=IMPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    importer.add_argument("caffemodel", help="the .caffemodel file (binary NetParameter)")
    importer.add_argument("--out", required=True, help="checkpoint to write (.pt)")
    importer.set_defaults(func=run_import)
    info = commands.add_parser(
        "info",
        help="print a checkpoint's architecture, classes, preprocessing, sha256 and scores",
        description="Print what a segmenter checkpoint holds.",
        epilog=INFO_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    info.add_argument("checkpoint", help="segmenter checkpoint (.pt)")
    info.set_defaults(func=run_info)


def run_import(args: argparse.Namespace) -> int:
    from p2p_eval.data.outputs import check_output_path
    from p2p_eval.segmenters import save_segmenter
    from p2p_eval.segmenters.caffe import import_fcn8s

    check_output_path(args.out)  # before reading half a gigabyte of weights
    segmenter = import_fcn8s(args.caffemodel)
    save_segmenter(args.out, segmenter)
    print(f"wrote {args.out}\n")
    print(describe(segmenter))
    return 0


def run_info(args: argparse.Namespace) -> int:
    from p2p_eval.segmenters import load_segmenter

    print(describe(load_segmenter(args.checkpoint)))
    return 0


def describe(segmenter) -> str:
    """A few aligned lines about a `Segmenter` for the terminal."""
    from p2p_eval.classes import CLASS_SET, IGNORE, TRAIN_CLASSES

    pre = segmenter.preprocess
    mapping = segmenter.output_to_train_id
    extra = [f"{channel} -> {IGNORE} (no class; counted as an error)" for channel, t in enumerate(mapping) if t == IGNORE]
    identity = all(t == c for c, t in enumerate(mapping) if t != IGNORE)
    params = sum(p.numel() for p in segmenter.model.parameters())
    scores = segmenter.meta.get("scores") or {}
    lines = [
        f"arch:            {segmenter.arch} {json.dumps(segmenter.arch_args)} ({params:,} parameters)",
        f"classes:         {CLASS_SET}: {len(TRAIN_CLASSES)} train classes from {len(mapping)} outputs"
        + (" (channel i = trainId i)" if identity else f" (mapping {list(mapping)})"),
        *(f"                 channel {e}" for e in extra),
        f"preprocess:      {pre.channel_order}, x * {pre.scale:g} - mean {list(pre.mean)}"
        + (f", / std {list(pre.std)}" if pre.std is not None else ", no std division"),
        f"train size:      {segmenter.meta.get('train_size')}",
        f"trained on:      {json.dumps(segmenter.meta.get('trained_on'))}",
        f"weights sha256:  {segmenter.sha256}",
    ]
    if scores:
        lines.append("scores (real val photos): " + ", ".join(
            f"{k} {scores[k]:.4f}" for k in ("pixel_acc", "class_acc", "class_iou") if scores.get(k) is not None
        ))
    else:
        lines.append("scores:          none recorded")
    return "\n".join(lines)
