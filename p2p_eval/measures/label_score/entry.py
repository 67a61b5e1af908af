"""The label-score results entry: FCN-scores of generated label maps, and the pixels far from every label colour."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from p2p_eval.measures.fcn_score.entry import FcnEntry
from p2p_eval.results.fields import integer


@dataclass(frozen=True)
class LabelScoreEntry(FcnEntry):
    """A photo->labels run's scores (README, "Results files").

    Attributes
    ----------
    far_pixels : int or None
        Pixels further than ``protocol.decode.far_distance`` from every label
        colour (decoded to the nearest one anyway).
    """

    KIND = "label-score"
    TITLE = "Photo$\\to$labels"
    CAPTION = "Scores of generated label maps (photos$\\to$labels)."

    far_pixels: int | None = None

    def _own_dict(self) -> tuple[dict[str, Any], dict[str, Any]]:
        head, tail = super()._own_dict()
        return head, tail | {"far_pixels": self.far_pixels}

    @classmethod
    def _own_fields(cls, value: Mapping[str, Any], where: str) -> dict[str, Any]:
        return {**super()._own_fields(value, where), "far_pixels": integer(value.get("far_pixels"), where, "far_pixels")}


ENTRY = LabelScoreEntry
