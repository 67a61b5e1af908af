"""``p2p-eval fcn-score``: the options of its own (the session's are in `p2p_eval.commands.measures`)."""

import argparse
import os

from p2p_eval.commands.argtypes import positive_int

HELP = "FCN-score of generated photos (per-pixel acc., per-class acc., class IoU)"
DESCRIPTION = ("Segment generated photos with a segmenter trained on real photos and score the "
               "segmentation against the label maps they were generated from (pix2pix Tables 1-3).")
EPILOG = """\
examples:
  p2p-eval fcn-score runs/                  # dataset from run.json, segmenter from dataset.json
  p2p-eval fcn-score runs/ --with-real --json fcn.json --csv fcn.csv
  p2p-eval fcn-score results/label2photo --data data/cityscapes --segmenter seg.pt   # PyTorch pix2pix layout
  p2p-eval fcn-score runs/ --baseline unet-l1 --resamples 2000 --seed 1
  p2p-eval fcn-score gen/ --data data/cityscapes --segmenter fcn8s-cityscapes.pt --protocol official
  torchrun --standalone --nproc_per_node 2 -m p2p_eval fcn-score runs/   # frames sharded, states gathered

Runs are p2p-eval runs (run.json + images/<split>/<frame>.png), PyTorch pix2pix
results (<name>/test_latest/images/<id>_fake_B.png; numbered ids are identified
by their <id>_real_A/_real_B siblings, or by --numbering 0|1 without them),
flat folders of <frame>_leftImg8bit.png (or the official leftImg8bit tree), or
folders of such runs. Each image is resized (Pillow bilinear on uint8, as the
official scipy.misc.imresize) to its frame's label resolution and segmented there. Per-frame results are cached in each
run folder: a re-run computes only what changed.
"""
WITH_REAL = "add the ground-truth row: the dataset's real images scored the same way"
DEFAULT_WORKERS = min(4, os.cpu_count() or 1)


def add_confusion_arguments(parser: argparse.ArgumentParser, batch_help: str = "frames per batch (default: 4)") -> None:
    """The options FCN-score and label-score share."""
    parser.add_argument("--batch-size", type=positive_int, default=None, help=batch_help)
    parser.add_argument("--absent-classes", choices=("nan", "zero"), default=None,
                        help="classes absent from the ground truth: nan = left out of the means "
                             "(cityscapesScripts, default), zero = counted as 0 (official pix2pix script)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_confusion_arguments(parser, "frames per forward pass (default: 1 on a CPU, where one image at a time is "
                                    "fastest; 4 on CUDA)")
    parser.add_argument("--segmenter", metavar="SEG.pt",
                        help="segmenter checkpoint (default: the one recorded in dataset.json)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--protocol", choices=("default", "official"), default="default",
                        help="official: the pix2pix evaluate.py protocol (full-resolution Cityscapes labels, "
                             "absent classes counted as 0) and the numbers that script prints, its quirks "
                             "reproduced, in the tables; the corrected ones beside them in the JSON")


def settings(args: argparse.Namespace):
    from p2p_eval.measures.fcn_score.measure import FcnSettings

    return FcnSettings(segmenter=args.segmenter, protocol=args.protocol, absent_rule=args.absent_classes)
