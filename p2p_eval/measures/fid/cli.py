"""``p2p-eval fid``: the options of its own (the session's are in `p2p_eval.commands.measures`)."""

import argparse
import os

from p2p_eval.commands.argtypes import positive_int
from p2p_eval.features.names import DEFAULT_PROTOCOL, PROTOCOLS
from p2p_eval.metrics.frechet_infinity import MIN_SIZE, NUM_POINTS

HELP = "FID (and KID) of generated photos against the real photos of the split"
DESCRIPTION = ("Fréchet Inception Distance of each run's images to the real photos of the whole split, with a "
               "bootstrap interval over frames; --kid adds the Kernel Inception Distance (std over subsets), "
               "--infinity Chong & Forsyth's FID-infinity (FID_N extrapolated to 1/N = 0).")
EPILOG = """\
examples:
  p2p-eval fid runs/ --features pt_inception-2015-12-05-6726825d.pth --json fid.json
  P2P_EVAL_INCEPTION=pt_inception-2015-12-05-6726825d.pth p2p-eval fid runs/ --kid --baseline unet-l1
  p2p-eval fid results/label2photo --data data/cityscapes --resize legacy-tf1 --device cuda
  torchrun --standalone --nproc_per_node 2 -m p2p_eval fid runs/ --features FILE   # frames sharded, features gathered

The reference is the real photos of the whole split, whatever frames a run
has. The weights file is the FID Inception of pytorch-fid and torch-fidelity
(pt_inception-2015-12-05-6726825d.pth; README "FID, KID, LPIPS, PSNR/SSIM"
says how to get it); nothing is downloaded. The interval measures sampling
variability over frames, not FID's upward bias at small N: below 2,000 frames
compare only FIDs of equally many frames (a warning says so). --infinity
fits FID_N against 1/N from --infinity-min-size frames (5,000, the paper's)
to all of a run's, so each run needs more frames than that. Per-image
features are cached in each run folder and in the dataset folder (keyed by
image content, weights sha256, resize protocol and device type).
"""
WITH_REAL = ("add the ground-truth row: FID between two random halves of the real photos (at half the split's "
             "size: not a floor, a run may score below it)")
DEFAULT_WORKERS = min(4, os.cpu_count() or 1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--features", metavar="FILE",
                        help="FID Inception weights (default: $P2P_EVAL_INCEPTION); its sha256 goes in the results")
    parser.add_argument("--resize", choices=PROTOCOLS, default=DEFAULT_PROTOCOL,
                        help="how images become 299x299: clean (clean-fid, PIL bicubic; default), legacy-tf1 "
                             "(torch-fidelity, TensorFlow 1 bilinear), legacy-pytorch-fid (pytorch-fid)")
    parser.add_argument("--kid", action="store_true", help="also the Kernel Inception Distance")
    parser.add_argument("--kid-subsets", type=positive_int, default=100, metavar="N",
                        help="KID subsets (default: 100, torch-fidelity's)")
    parser.add_argument("--kid-subset-size", type=positive_int, default=1000, metavar="N",
                        help="frames per KID subset (default: 1000, torch-fidelity's; reduced, with a warning, "
                             "when a set has fewer)")
    parser.add_argument("--infinity", action="store_true",
                        help="also FID-infinity: the intercept at 1/N = 0 of a least-squares line through FID_N "
                             "against 1/N (Chong & Forsyth 2020); needs runs of more than --infinity-min-size frames")
    parser.add_argument("--infinity-min-size", type=positive_int, default=MIN_SIZE, metavar="N",
                        help=f"smallest N of the FID-infinity fit (default: {MIN_SIZE}, the paper's; below it, "
                             "with a warning, FID_N may not be linear in 1/N)")
    parser.add_argument("--infinity-points", type=positive_int, default=NUM_POINTS, metavar="P",
                        help=f"sizes N of the fit, evenly spaced from the min size to all frames (default: "
                             f"{NUM_POINTS}, the paper's)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="images per forward pass (default: 32)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")


def settings(args: argparse.Namespace):
    from p2p_eval.measures.fid.measure import FidSettings

    return FidSettings(features=args.features, resize=args.resize, kid=args.kid, kid_subsets=args.kid_subsets,
                       kid_subset_size=args.kid_subset_size, infinity=args.infinity,
                       infinity_min_size=args.infinity_min_size, infinity_points=args.infinity_points)
