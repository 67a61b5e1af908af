"""The similarity results entry: mean PSNR and SSIM of a run's images to their real photos."""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from p2p_eval.results.entries import RunEntry
from p2p_eval.results.fields import integer
from p2p_eval.results.scores import Score

SIMILARITY_SCORES = (
    Score("psnr", "PSNR (dB)", low=0.0, high=math.inf),
    Score("ssim", "SSIM", low=-1.0, high=1.0, decimals=3),
)
"""Means over frames of per-frame PSNR and SSIM (higher: closer to the real photo)."""


@dataclass(frozen=True)
class SimilarityEntry(RunEntry):
    """A run's mean PSNR and SSIM (README, "Results files").

    Attributes
    ----------
    n_identical : int or None
        Frames identical to their real photo: infinite PSNR, so the run's mean
        PSNR does not exist (null).
    """

    KIND = "similarity"
    SCORES = SIMILARITY_SCORES
    TITLE = "Pixel similarity"
    CAPTION = "PSNR and SSIM of generated photos to the real photos of the same frames."

    n_identical: int | None = None

    def _own_dict(self) -> tuple[dict[str, Any], dict[str, Any]]:
        head, tail = super()._own_dict()
        return head, tail | {"n_identical": self.n_identical}

    @classmethod
    def _own_fields(cls, value: Mapping[str, Any], where: str) -> dict[str, Any]:
        return {**super()._own_fields(value, where),
                "n_identical": integer(value.get("n_identical"), where, "n_identical")}

    def csv_fields(self) -> dict[str, Any]:
        return {"n_identical": self.n_identical}

    def notes(self) -> tuple[str, ...]:
        note = identical_note(self.n_identical, self.n_images)
        return (note,) if note else ()


def identical_note(n_identical: int | None, n_images: int | None) -> str | None:
    """Why a run's PSNR is null when some of its frames equal their real photos; None when none do.

    Tables show the null as "n/a" and rank the other runs' PSNR, so they say it where they show it.
    """
    if not n_identical:
        return None
    return (f"{n_identical} of {n_images if n_images is not None else '?'} frames identical to their real photo "
            "(infinite PSNR): no mean PSNR, and no other run is closer to its photos in PSNR")


ENTRY = SimilarityEntry
