"""Segmenters and reference code shared by the scoring tests."""

import json
import os
import subprocess
import sys
from pathlib import Path

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


def single_and_torchrun(argv: list[str], out: Path, caches: list[str], timeout: int) -> tuple[dict, dict]:
    """Run ``p2p-eval *argv`` in one process, delete the caches it wrote (globs under `out`), then under torchrun
    with two gloo processes; return both result documents (``out/one.json``, ``out/two.json``), the second
    checked to be a world of 2. Without the deletion the distributed run would read, not compute."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "OMP_NUM_THREADS": "1"}
    single = subprocess.run([sys.executable, "-m", "p2p_eval", *argv, "--json", str(out / "one.json")],
                            env=env, capture_output=True, text=True, timeout=timeout)
    assert single.returncode == 0, single.stderr
    written = [path for pattern in caches for path in out.glob(pattern)]
    assert written, f"no cache matched {caches}: the distributed run would not be shown to compute"
    for cache in written:
        cache.unlink()
    double = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "p2p_eval", *argv, "--json", str(out / "two.json")],
        env=env, capture_output=True, text=True, timeout=timeout)
    assert double.returncode == 0, double.stderr
    one, two = (json.loads((out / name).read_text()) for name in ("one.json", "two.json"))
    assert two["protocol"]["world_size"] == 2
    return one, two
