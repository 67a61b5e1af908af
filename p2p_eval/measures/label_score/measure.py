"""label-score (photo->labels, pix2pix Table 6): generated colour label maps against the trainIds.

Each generated map is decoded at its own size by nearest Cityscapes label
colour (`p2p_eval.data.pix2pix_ab.decode_colors`), upsampled (Pillow nearest:
no colours invented) to its frame's trainIds size and counted into the same
confusion state as FCN-score (`ConfusionMeasure`), beside a second state:
the pixels far from every label colour.
"""

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from p2p_eval.cache import namespace
from p2p_eval.data.files import decode_rgb
from p2p_eval.data.pix2pix_ab import FAR_DISTANCE, decode_colors
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.measures.base import Frame, Loaded
from p2p_eval.measures.fcn_score.inputs import read_train_ids
from p2p_eval.measures.fcn_score.measure import CONFUSION, ConfusionMeasure, ConfusionSettings
from p2p_eval.measures.label_score.entry import LabelScoreEntry
from p2p_eval.measures.states import State
from p2p_eval.metrics.confusion import confusion_matrices

log = logging.getLogger(__name__)

LABEL_MAP_RESIZE = "decode-then-pillow-nearest"
"""Generated colour label maps are decoded at their own size, then the trainIds
are upsampled with Pillow's NEAREST filter (no colours are invented)."""
FAR_PIXELS = State("far_pixels")
"""Pixels of the generated map further than `FAR_DISTANCE` from every label colour."""


def upsample_nearest(ids: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) uint8 ids -> (H, W) with Pillow's NEAREST filter."""
    if ids.shape == tuple(size):
        return ids
    return np.asarray(Image.fromarray(ids).resize((size[1], size[0]), Image.Resampling.NEAREST))


def label_map_input(path: Path, size: tuple[int, int]) -> tuple[np.ndarray, str, int]:
    """A generated colour label map as trainIds at label size: ((H, W) uint8, source mode, far pixels)."""
    rgb, mode = decode_rgb(path)
    ids, n_far = decode_colors(rgb, FAR_DISTANCE)
    return upsample_nearest(ids, size), mode, n_far


class LabelScore(ConfusionMeasure):
    """Generated label maps decoded by nearest label colour and compared with the trainIds."""

    kind = "label-score"
    Settings = ConfusionSettings
    entry_type = LabelScoreEntry
    real_input = "color"
    run_direction = "BtoA"
    real_row = "the dataset's own colour label maps, scored as a run"
    states = (CONFUSION, FAR_PIXELS)

    @classmethod
    def open(cls, settings: ConfusionSettings, dataset: PreparedDataset, split: str) -> "LabelScore":
        return cls(dataset, absent_rule=settings.rule)

    def namespace(self) -> str:
        return namespace("label-score", decode="nearest-cityscapes-color", far=FAR_DISTANCE, resize=LABEL_MAP_RESIZE)

    def load(self, image: Path, frame: Frame) -> Loaded:
        labels = read_train_ids(frame.path("trainids"))
        ids, mode, n_far = label_map_input(image, labels.shape)
        return Loaded((ids, labels, n_far), mode)

    def update(self, batch: Sequence[tuple[np.ndarray, np.ndarray, int]], *, batch_size: int) -> dict[str, np.ndarray]:
        predicted = torch.from_numpy(np.stack([ids for ids, _, _ in batch]))
        labels = torch.from_numpy(np.stack([labels for _, labels, _ in batch]))
        return {"confusion": confusion_matrices(predicted, labels, validate=False).numpy(),
                "far_pixels": np.array([n_far for _, _, n_far in batch], dtype=np.int64)}

    def check_record(self, record: np.void, frame: Frame) -> str | None:
        """The confusion's invariant, and no more far pixels than the generated map has."""
        height, width = record["image_size"]
        if not 0 <= record["far_pixels"] <= height * width:
            return f"it counts {record['far_pixels']} far pixels in a {height}x{width} label map"
        return super().check_record(record, frame)

    def entry_fields(self, row) -> dict[str, Any]:
        return {**super().entry_fields(row), "far_pixels": int(row.states.total("far_pixels"))}

    def check_rows(self, rows: Sequence) -> None:
        super().check_rows(rows)
        for row in rows:
            far = row.states["far_pixels"]
            if far.sum():
                log.warning("%s: %d pixel(s) in %d image(s) are further than %g from every label colour "
                            "(decoded to the nearest one anyway).", row.name, far.sum(), (far > 0).sum(), FAR_DISTANCE)

    def protocol(self) -> dict[str, Any]:
        return {**super().protocol(), "decode": {"rule": "nearest Cityscapes label colour (Euclidean RGB)",
                                                 "far_distance": FAR_DISTANCE, "resize": LABEL_MAP_RESIZE}}


MEASURE = LabelScore
