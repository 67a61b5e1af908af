"""The hype-time results entry: the exposure at which raters tell a model's images from real ones (HYPE-time).

Zhou, Gordon et al., NeurIPS 2019: exposures follow a staircase on
100-1000 ms (``study_app.staircase``); per block the modal exposure, per
rater the mean over blocks, per model the mean over raters, in ms.
"""

from dataclasses import dataclass

from p2p_eval.measures.study.entry import HYPE_SD, HypeEntry
from p2p_eval.results.scores import Score

STAIRCASE_MS = (100.0, 1000.0)
"""HYPE-time's staircase bounds (ms): every exposure, and so every score, lies within them."""

HYPE_TIME_SCORES = (
    Score("hype_time_ms", r"HYPE$_\mathrm{time}$ (ms)", *STAIRCASE_MS, decimals=1, spread=HYPE_SD),
)


@dataclass(frozen=True)
class HypeTimeEntry(HypeEntry):
    """One model's HYPE-time in ms (README, "Results files").

    Attributes
    ----------
    n_blocks : int or None
        Staircase blocks with a scored trial, over all raters.
    """

    KIND = "hype-time"
    SCORES = HYPE_TIME_SCORES
    TITLE = "HYPE$_\\mathrm{time}$"
    CAPTION = ("HYPE$_\\mathrm{time}$: the exposure (ms) at which raters tell the model's images from real "
               "ones (staircase threshold; higher is more realistic).")
    COUNTS = (*HypeEntry.COUNTS, "n_blocks")

    n_blocks: int | None = None


ENTRY = HypeTimeEntry
