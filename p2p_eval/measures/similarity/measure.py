"""PSNR and SSIM: two numbers per frame between the generated image and its real photo.

Both are computed in the session's decoding threads (`load`): scikit-image's
filters release the GIL, and there is no model. A run's score is the mean
over its frames. A frame identical to its real photo has infinite PSNR; the
mean then does not exist, so every PSNR of that run (point, replicates,
paired differences) is NaN, written as null, and the frames are counted in
``n_identical`` and warned about, never dropped.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from p2p_eval.cache import namespace
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.measures.base import Frame, Loaded, Measure
from p2p_eval.measures.pairs import read_pair
from p2p_eval.measures.similarity.entry import SimilarityEntry
from p2p_eval.measures.states import FrameStates, State
from p2p_eval.metrics.pixel_similarity import DATA_RANGE, SSIM_SETTINGS, SSIM_WINDOW, psnr, ssim

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimilaritySettings:
    """PSNR and SSIM have no settings of their own: theirs are fixed (`SSIM_SETTINGS`)."""


class Similarity(Measure):
    """Per-frame PSNR and SSIM to the real photo; a run's scores are the means."""

    kind = "similarity"
    Settings = SimilaritySettings
    entry_type = SimilarityEntry
    frame_inputs = ("photo",)
    real_row = None
    default_batch_size = 32
    run_direction = "AtoB"
    states = (State("psnr", dtype="float64", reduce="cat"), State("ssim", dtype="float64", reduce="cat"))

    def check_record(self, record: np.void, frame: Frame) -> str | None:
        """PSNR of 8-bit images is at least 0 (inf for an identical frame); SSIM lies in [-1, 1]."""
        psnr_db, ssim_value = float(record["psnr"]), float(record["ssim"])
        if np.isnan(psnr_db) or psnr_db < 0 or not -1 <= ssim_value <= 1:
            return f"its PSNR {psnr_db} dB / SSIM {ssim_value} lie outside [0, inf] / [-1, 1]"
        return None

    @classmethod
    def open(cls, settings: SimilaritySettings, dataset: PreparedDataset, split: str) -> "Similarity":
        return cls()

    def namespace(self) -> str:
        return namespace("similarity", psnr={"data_range": DATA_RANGE}, ssim=SSIM_SETTINGS, library="scikit-image")

    def load(self, image: Path, frame: Frame) -> Loaded:
        """The whole per-frame work happens here, in the decoding threads."""
        generated, real, mode = read_pair(image, frame, min_side=SSIM_WINDOW,
                                          reader="SSIM's 11x11 Gaussian window")
        return Loaded((psnr(generated, real), ssim(generated, real)), mode)

    def update(self, batch: Sequence[tuple[float, float]], *, batch_size: int) -> dict[str, np.ndarray]:
        values = np.array(batch, dtype=np.float64).reshape(len(batch), 2)
        return {"psnr": values[:, 0], "ssim": values[:, 1]}

    def compute(self, states: FrameStates, weights: np.ndarray, reference: FrameStates | None) -> dict[str, np.ndarray]:
        totals = weights.sum(axis=1)
        per_frame = states["psnr"]
        if np.isinf(per_frame).any():  # an identical frame: the mean PSNR does not exist, in any replicate
            mean_psnr = np.full(len(weights), np.nan)
        else:
            mean_psnr = weights @ per_frame / totals
        return {"psnr": mean_psnr, "ssim": weights @ states["ssim"] / totals}

    def entry_fields(self, row) -> dict[str, Any]:
        return {"n_identical": int(np.isinf(row.states["psnr"]).sum())}

    def check_rows(self, rows: Sequence) -> None:
        for row in rows:
            identical = np.flatnonzero(np.isinf(row.states["psnr"]))
            if identical.size:
                log.warning("run %r: %d of %d image(s) are identical to their real photo (e.g. %s): infinite PSNR, "
                            "so the run's mean PSNR is null. Is this run a copy of the real photos?",
                            row.name, identical.size, len(row.states), row.images[identical[0]])

    def protocol(self) -> dict[str, Any]:
        import skimage

        return {
            "psnr": "skimage.metrics.peak_signal_noise_ratio(real, generated, data_range=255), over all pixels "
                    "and RGB channels of a frame; mean over frames",
            "ssim": {"function": "skimage.metrics.structural_similarity(real, generated, ...)", **SSIM_SETTINGS,
                     "meaning": "Wang et al. (IEEE TIP 2004): 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, "
                                "per RGB channel and averaged; mean over frames"},
            "scikit_image": skimage.__version__,
            "pairs": "each generated image with its frame's real photo, same size, not resized",
        }


MEASURE = Similarity
