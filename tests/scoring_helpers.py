"""Segmenters and reference code shared by the scoring tests."""

import numpy as np
import torch
from PIL import Image
from torch import nn

from p2p_eval.classes import PALETTE
from p2p_eval.segmenters import Preprocess, Segmenter, build_model
from p2p_eval.segmenters.checkpoint import identity_mapping


class NearestColour(nn.Module):
    """Exact, batch-independent segmenter: class = nearest colour of `palette` (default: the train classes').

    Logits are minus squared RGB distances in float64, so ties and rounding
    cannot differ between any two ways of running it.
    """

    def __init__(self, palette=PALETTE):
        super().__init__()
        self.register_buffer("palette", torch.tensor(np.asarray(palette), dtype=torch.float64).view(1, -1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -((x.double().unsqueeze(1) - self.palette) ** 2).sum(2)


def nearest_colour_segmenter() -> Segmenter:
    return Segmenter(NearestColour(), "test-nearest-colour", {}, Preprocess(scale=1.0, mean=(0, 0, 0), std=None),
                     identity_mapping())


def unet_segmenter(seed: int = 0) -> Segmenter:
    """An untrained (random, deterministic) smp U-Net: real conv arithmetic."""
    torch.manual_seed(seed)
    model = build_model("smp-unet", 19, encoder="resnet18").eval()
    return Segmenter(model, "smp-unet", {"encoder": "resnet18"}, Preprocess(), identity_mapping())


def official_fast_hist(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """pix2pix scripts/eval_cityscapes/util.py, as published."""
    k = (a >= 0) & (a < n)
    return np.bincount(n * a[k].astype(int) + b[k], minlength=n**2).reshape(n, n)


def official_style_confusion(segmenter: Segmenter, image_path, label_path) -> np.ndarray:
    """One frame the way evaluate.py does it: PIL load, imresize (bilinear), segment, fast_hist."""
    label = np.array(Image.open(label_path))
    image = np.array(Image.open(image_path).convert("RGB"))
    image = np.array(Image.fromarray(image).resize((label.shape[1], label.shape[0]), Image.BILINEAR))
    batch = torch.from_numpy(image).permute(2, 0, 1)[None]
    pred = segmenter.predict(batch)[0].numpy()
    return official_fast_hist(label.flatten(), pred.flatten().astype(int), 19)
