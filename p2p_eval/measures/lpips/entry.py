"""The lpips results entry: the mean LPIPS distance of a run's images to their real photos."""

import math
from dataclasses import dataclass

from p2p_eval.results.entries import RunEntry
from p2p_eval.results.scores import Score

LPIPS_SCORES = (Score("lpips", "LPIPS", low=0.0, high=math.inf, higher_is_better=False, decimals=3),)
"""Mean over frames of LPIPS v0.1 (lower: closer to the real photo)."""


@dataclass(frozen=True)
class LpipsEntry(RunEntry):
    """A run's mean LPIPS (README, "Results files"); the backbone's sha256 is in ``protocol``."""

    KIND = "lpips"
    SCORES = LPIPS_SCORES
    TITLE = "LPIPS"
    CAPTION = "LPIPS of generated photos to the real photos of the same frames."


ENTRY = LpipsEntry
