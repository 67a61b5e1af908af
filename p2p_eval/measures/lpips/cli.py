"""``p2p-eval lpips``: the options of its own (the session's are in `p2p_eval.commands.measures`)."""

import argparse
import os

from p2p_eval.commands.argtypes import positive_int
from p2p_eval.features.names import BACKBONES

HELP = "LPIPS of generated photos to the real photos of the same frames"
DESCRIPTION = ("Mean LPIPS (v0.1, the lpips package) of each generated image to its frame's real photo, with a "
               "bootstrap interval over frames and paired tests between runs.")
EPILOG = """\
examples:
  p2p-eval lpips runs/ --backbone alexnet-owt-7be5be79.pth --json lpips.json
  P2P_EVAL_LPIPS_BACKBONE=alexnet-owt-7be5be79.pth p2p-eval lpips runs/ --baseline unet-l1
  p2p-eval lpips results/label2photo --data data/cityscapes --net vgg --backbone vgg16-397923af.pth

LPIPS compares each image with the real photo of its frame, pixel-aligned:
the two must have one size (nothing is resized). The linear layers ship in
the lpips package; the backbone is torchvision's weights file, never
downloaded (README "FID, KID, LPIPS, PSNR/SSIM" says where it is). Distances
are cached in each run folder, keyed by both images' content and both
weights files' sha256.
"""
WITH_REAL = None  # the real photos against themselves: 0 by definition
DEFAULT_WORKERS = min(4, os.cpu_count() or 1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backbone", metavar="FILE",
                        help="torchvision weights of the backbone (default: $P2P_EVAL_LPIPS_BACKBONE)")
    parser.add_argument("--net", choices=BACKBONES, default="alex",
                        help="LPIPS backbone: alex (default, what papers report), vgg or squeeze")
    parser.add_argument("--batch-size", type=positive_int, default=16, help="pairs per forward pass (default: 16)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")


def settings(args: argparse.Namespace):
    from p2p_eval.measures.lpips.measure import LpipsSettings

    return LpipsSettings(backbone=args.backbone, net=args.net)
