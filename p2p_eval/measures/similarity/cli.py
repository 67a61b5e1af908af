"""``p2p-eval similarity``: the options of its own (the session's are in `p2p_eval.commands.measures`)."""

import argparse
import os

HELP = "PSNR and SSIM of generated photos to the real photos of the same frames"
DESCRIPTION = ("Mean PSNR and SSIM (scikit-image, Wang et al.'s SSIM settings) of each generated image to its "
               "frame's real photo, with bootstrap intervals over frames and paired tests between runs.")
EPILOG = """\
examples:
  p2p-eval similarity runs/ --json similarity.json
  p2p-eval similarity runs/ --baseline unet-l1 --csv similarity.csv
  p2p-eval similarity results/label2photo --data data/cityscapes

Per frame: peak_signal_noise_ratio(real, generated, data_range=255) over all
pixels and channels, and structural_similarity(real, generated,
data_range=255, channel_axis=-1, gaussian_weights=True, sigma=1.5,
use_sample_covariance=False), Wang et al.'s SSIM (scikit-image's defaults,
a 7x7 uniform window, give other numbers). Images and photos must have one
size (nothing is resized). A frame identical to its photo has infinite PSNR:
the run's mean PSNR is then null, with a warning. Per-frame values are cached
in each run folder.
"""
WITH_REAL = None  # the real photos against themselves: infinite PSNR, SSIM 1
DEFAULT_WORKERS = min(4, os.cpu_count() or 1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def settings(args: argparse.Namespace):
    from p2p_eval.measures.similarity.measure import SimilaritySettings

    return SimilaritySettings()
