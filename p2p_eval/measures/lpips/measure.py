"""LPIPS: one distance per frame between the generated image and its real photo.

Each frame's state is its LPIPS v0.1 distance (``reduce="cat"``), computed by
the ``lpips`` package's network (`p2p_eval.features.perceptual`) in fp32; a
run's score is the mean over its frames, so a bootstrap replicate and both
sides of a paired test are weighted means.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from p2p_eval.cache import namespace
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.device import exact_fp32, pick_device
from p2p_eval.features.names import BACKBONES
from p2p_eval.features.perceptual import LPIPS_VERSION, MIN_SIDE, load_lpips, published_file
from p2p_eval.measures.base import Frame, Loaded, Measure
from p2p_eval.measures.lpips.entry import LpipsEntry
from p2p_eval.measures.pairs import read_pair
from p2p_eval.measures.states import FrameStates, State


@dataclass(frozen=True)
class LpipsSettings:
    """How lpips runs: the backbone weights file (None: ``$P2P_EVAL_LPIPS_BACKBONE``), which
    backbone it is, and the device."""

    backbone: str | None = None
    net: str = "alex"
    device: str | torch.device = "auto"

    def __post_init__(self):
        if self.net not in BACKBONES:
            raise ValueError(f"Expected --net in {BACKBONES}, got {self.net!r}.")


class LpipsMeasure(Measure):
    """Per-frame LPIPS to the real photo; a run's score is the mean."""

    kind = "lpips"
    Settings = LpipsSettings
    entry_type = LpipsEntry
    frame_inputs = ("photo",)
    real_row = None
    default_batch_size = 16
    run_direction = "AtoB"
    states = (State("lpips", dtype="float64", reduce="cat"),)

    def check_record(self, record: np.void, frame: Frame) -> str | None:
        """LPIPS is a weighted sum of squared feature differences: finite and non-negative."""
        value = float(record["lpips"])
        return None if np.isfinite(value) and value >= 0 else f"its LPIPS is {value}, not a finite number >= 0"

    def __init__(self, model):
        self.model = model
        self.device = model.device

    @classmethod
    def open(cls, settings: LpipsSettings, dataset: PreparedDataset, split: str) -> "LpipsMeasure":
        return cls(load_lpips(settings.backbone, backbone=settings.net, device=pick_device(str(settings.device))))

    def namespace(self) -> str:
        m = self.model
        return namespace("lpips", backbone=m.backbone, backbone_sha256=m.backbone_sha256, linear=m.linear_sha256,
                         version=LPIPS_VERSION, device=self.device.type)

    def computing(self):
        self.model.network.eval()
        return exact_fp32()

    def load(self, image: Path, frame: Frame) -> Loaded:
        generated, real, mode = read_pair(image, frame, min_side=MIN_SIDE[self.model.backbone],
                                          reader=f"LPIPS ({self.model.backbone})")
        return Loaded((generated, real), mode)

    def update(self, batch: Sequence[tuple[np.ndarray, np.ndarray]], *, batch_size: int) -> dict[str, np.ndarray]:
        pairs = list(batch)
        if self.device.type == "cuda":  # one batch size for every forward pass (cuDNN's kernel choice)
            blank = np.zeros_like(pairs[0][0])
            pairs += [(blank, blank)] * (batch_size - len(pairs))
        return {"lpips": self.model(pairs, batch_size=batch_size)[: len(batch)]}

    def compute(self, states: FrameStates, weights: np.ndarray, reference: FrameStates | None) -> dict[str, np.ndarray]:
        return {"lpips": weights @ states["lpips"] / weights.sum(axis=1)}

    def protocol(self) -> dict[str, Any]:
        m = self.model
        return {
            "lpips": {"version": LPIPS_VERSION, "backbone": m.backbone, "package": "lpips (Zhang et al., CVPR 2018)",
                      "input": "x / 127.5 - 1, as lpips.im2tensor", "spatial": "average over the image",
                      "linear_sha256": m.linear_sha256},
            "backbone": {"path": str(m.path),
                         "sha256": m.backbone_sha256, "published": m.is_published,
                         "published_file": published_file(m.backbone)},
            "pairs": "each generated image with its frame's real photo, same size, not resized",
            "precision": "fp32, autocast off" + (", TF32 off" if self.device.type == "cuda" else ""),
            "device": self.device.type,
        }


MEASURE = LpipsMeasure
