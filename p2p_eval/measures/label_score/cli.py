"""``p2p-eval label-score``: the options of its own (the session's are in `p2p_eval.commands.measures`)."""

import argparse
import os

from p2p_eval.measures.fcn_score.cli import add_confusion_arguments

HELP = "score generated colour label maps against the trainIds (photo->labels)"
DESCRIPTION = ("Decode generated colour label maps by nearest label colour and score them against the "
               "ground-truth trainIds (pix2pix Table 6).")
EPILOG = """\
examples:
  p2p-eval label-score runs/photo2labels-l1 runs/photo2labels-l1-cgan --json labels.json
  p2p-eval label-score results/photo2label --data data/cityscapes --with-real --csv labels.csv

Generated colour label maps are decoded by nearest Cityscapes label colour at
their own size, then upsampled (nearest) to the label resolution and compared
with the trainIds (paper Table 6, photo->labels).
"""
WITH_REAL = "add the ground-truth row: the dataset's own colour label maps scored the same way"
DEFAULT_WORKERS = min(4, os.cpu_count() or 1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_confusion_arguments(parser)


def settings(args: argparse.Namespace):
    from p2p_eval.measures.fcn_score.measure import ConfusionSettings

    return ConfusionSettings(absent_rule=args.absent_classes)
