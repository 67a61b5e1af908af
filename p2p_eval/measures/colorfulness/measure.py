"""Colorfulness: Lab histograms of a run's images against the real photos of the same frames.

For each run, the marginal L*, a*, b* histograms over all pixels of its
generated images are intersected with those of the real photos of the same
frames (pix2pix v3 Figure 7 / CVPR Figure 6). Each frame's histogram is an
additive state; the real photos' histograms are the reference states, drawn
with the same frames in every bootstrap replicate (paired), so an interval
says which frames were drawn, not a fixed reference.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from p2p_eval.cache import namespace
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.measures.base import REAL_ROW_PERCENTILES, Frame, Loaded, Measure
from p2p_eval.measures.colorfulness import histograms
from p2p_eval.measures.colorfulness.entry import ColorfulnessEntry
from p2p_eval.measures.states import FrameStates, State
from p2p_eval.metrics.colorfulness import CHANNELS, DEFAULT_BINNING, Binning, channel_intersections
from p2p_eval.paper import GROUND_TRUTH
from p2p_eval.resampling import scored_in_chunks, split_half_mask_chunks
from p2p_eval.stats import DEFAULT_CONFIDENCE, Bootstrap, percentile_interval


LAB_CONVERSION = "CIE L*a*b*, D65 white, 2 degree observer, constants of skimage.color.rgb2lab"
REAL_ROW = (
    "split-half self-comparison: the frames are split at random into two halves and the real "
    "photos' histograms of one half are intersected with the other's; the value is the median "
    f"over the random splits, the interval their {REAL_ROW_PERCENTILES} percentiles. (The real photos against "
    "themselves would give 1 by definition.)"
)


@dataclass(frozen=True)
class ColorfulnessSettings:
    """``binning``: bins per Lab channel (`p2p_eval.metrics.colorfulness.Binning`)."""

    binning: Binning = DEFAULT_BINNING


def split_half_intersections(
    per_frame: np.ndarray, binning: Binning, *, n_splits: int, seed: int, confidence: float = DEFAULT_CONFIDENCE
) -> dict[str, tuple[float, float, float]]:
    """Intersection of the histograms of two random halves of the frames.

    Parameters
    ----------
    per_frame : (N, binning.total) array_like
        Histograms of the real photos, one row per frame.
    n_splits, seed : int
        Random splits into halves of N // 2 and N - N // 2 frames.

    Returns
    -------
    scores : dict of {"L", "a", "b"} to (median, low, high)
        NaN when there are fewer than two frames.
    """
    per_frame = np.asarray(per_frame, dtype=np.float64)
    n = len(per_frame)
    if n < 2:
        return {name: (float("nan"),) * 3 for name in CHANNELS}
    def intersections(first_half: np.ndarray) -> dict[str, np.ndarray]:  # (splits, N) bool -> {channel: (splits,)}
        first_half = first_half.astype(np.float64)
        return channel_intersections(first_half @ per_frame, (1 - first_half) @ per_frame, binning)

    scores = scored_in_chunks(intersections, split_half_mask_chunks(n, n_splits, seed))
    return {name: (float(np.median(s)), *percentile_interval(s, confidence)) for name, s in scores.items()}


class Colorfulness(Measure):
    """Per-frame Lab histograms; scores are channel intersections with the real photos' of the same frames."""

    kind = "colorfulness"
    Settings = ColorfulnessSettings
    entry_type = ColorfulnessEntry
    reference_input = "photo"
    run_direction = "AtoB"
    real_row = REAL_ROW

    def __init__(self, binning: Binning, size: tuple[int, int]):
        self.binning, self.size = binning, tuple(size)
        self.states = (State("histogram", (binning.total,)),)

    @classmethod
    def open(cls, settings: ColorfulnessSettings, dataset: PreparedDataset, split: str) -> "Colorfulness":
        return cls(settings.binning, dataset.image_size)

    @property
    def default_batch_size(self) -> int:
        return histograms._CACHE_BATCH

    def namespace(self) -> str:
        return namespace("colorfulness", bins=self.binning.bins, size=self.size, resize="bilinear", lab=LAB_CONVERSION)

    def load(self, image: Path, frame: Frame) -> Loaded:
        """The whole per-image work happens here, in the decoding threads."""
        counts, mode = histograms.image_histogram(image, self.binning, self.size)
        return Loaded(counts, mode)

    def update(self, batch: Sequence[np.ndarray], *, batch_size: int) -> dict[str, np.ndarray]:
        return {"histogram": np.stack(batch)}

    def check_record(self, record: np.void, frame: Frame) -> str | None:
        """Every pixel of the image (at the real photos' size) lies in one bin of each channel."""
        pixels = self.size[0] * self.size[1]
        totals = [int(h.sum()) for h in self.binning.split(record["histogram"]).values()]
        if totals != [pixels] * 3 or (record["histogram"] < 0).any():
            return f"its histograms count {totals} pixels per channel, not {pixels} ({self.size[0]}x{self.size[1]})"
        return None

    def compute(self, states: FrameStates, weights: np.ndarray, reference: FrameStates | None) -> dict[str, np.ndarray]:
        real = reference.select(states.frames)  # the same frames, drawn together
        return channel_intersections(states.sums("histogram", weights), real.sums("histogram", weights), self.binning)

    def entry_fields(self, row) -> dict[str, Any]:
        resized = (row.states["image_size"] != self.size).any(axis=1)
        return {"n_resized": int(resized.sum()), "histograms": self._split(row.states.total("histogram"))}

    def real_entry(self, reference: FrameStates, bootstrap: Bootstrap) -> ColorfulnessEntry:
        halves = split_half_intersections(reference["histogram"], self.binning, n_splits=bootstrap.resamples,
                                          seed=bootstrap.seed, confidence=bootstrap.confidence)
        finite = {c: tuple(None if np.isnan(v) else v for v in halves[c]) for c in CHANNELS}
        return ColorfulnessEntry(
            name=GROUND_TRUTH, scores={c: finite[c][0] for c in CHANNELS},
            intervals={c: finite[c][1:] for c in CHANNELS}, is_real=True, n_images=len(reference),
            histograms=self._split(reference.total("histogram")),
        )

    def _split(self, counts: np.ndarray) -> dict[str, list[int]]:
        return {c: h.tolist() for c, h in self.binning.split(counts).items()}

    def data(self, reference: FrameStates | None) -> dict[str, Any]:
        return {"reference": self._split(reference.total("histogram"))}

    def protocol(self) -> dict[str, Any]:
        return {
            "color_space": LAB_CONVERSION,
            "marginals": "per channel, over all pixels of all matched frames' images",
            "intersection": "sum over bins of min(p, q), p and q the histograms normalised to sum 1",
            "binning": self.binning.as_dict(),
            "resolution": list(self.size),
            "resize": "generated images of another size are resized to the real photos' size, Pillow bilinear "
                      "(n_resized per run)",
            "bootstrap": {"reference": "the real photos are resampled with the same frames (paired)"},
        }


MEASURE = Colorfulness
