"""Human-study results entries: one algorithm (model) of a study rated by people.

`StudyEntry` is the real-vs-fake study of ``study_app`` (kind ``study``);
`HypeEntry` is the base of the HYPE kinds (``p2p_eval/measures/hype_inf``,
``hype_time``). The studies are computed in ``study_app`` (raters, not
frames, are their items); the entry types live here so that every reader of
results files, reports included, checks them without the web application.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from p2p_eval.errors import InputError
from p2p_eval.measures.study.comparisons import ModelTests, Pairwise
from p2p_eval.results.entries import Entry
from p2p_eval.results.fields import DAMAGED, integer, number
from p2p_eval.results.scores import Score, Spread

BOOTSTRAP_SD = Spread("bootstrap_sd", "bootstrap SD (raters, then trials)")
"""The study's "±": process_csv.py's two-level bootstrap SD (``study_app.analysis``)."""

HYPE_SD = Spread("bootstrap_sd", "bootstrap SD (raters resampled with replacement)", columns=True)
"""HYPE's "Std.": the SD of the rater bootstrap of the HYPE score, shown in its own column beside the 95% CI."""

STUDY_SCORES = (Score("fool_rate", r"\% labeled real", percent=True, spread=BOOTSTRAP_SD),)
"""Share of scored main trials on which the real image was picked as the fake, pooled over raters."""


def _spread_range(score: Score, n_raters: int | None = None) -> Score:
    """The range of an SD of values in `score`'s range: [0, half the range]; with ``ddof=1`` over
    `n_raters` values, up to sqrt(n / (n - 1)) times that."""
    half = (score.high - score.low) / 2
    if n_raters is not None and n_raters > 1:
        half *= math.sqrt(n_raters / (n_raters - 1))
    return Score(score.key, score.title, 0.0, half)


@dataclass(frozen=True)
class RatedEntry(Entry):
    """What every human-study entry has: raters, trials, the headline score's bootstrap SD, pairwise tests.

    The headline score is ``SCORES[0]``; its `Spread` is ``bootstrap_sd``.

    Attributes
    ----------
    n_raters, n_raters_excluded, n_trials : int or None
        Raters counted and excluded, scored trials.
    bootstrap_sd : float or None
        SD of the headline score's bootstrap replicates.
    pairwise : tuple of Pairwise
        Against every other algorithm.
    """

    ROW_HEADER: ClassVar[str] = "Algorithm"

    n_raters: int | None = None
    n_raters_excluded: int | None = None
    n_trials: int | None = None
    bootstrap_sd: float | None = None
    pairwise: tuple[Pairwise, ...] = field(default_factory=tuple)

    COUNTS: ClassVar[tuple[str, ...]] = ("n_raters", "n_raters_excluded", "n_trials")
    """Whole-number fields written before the scores."""
    NUMBERS: ClassVar[tuple[str, ...]] = ("bootstrap_sd",)
    """Number fields written after the intervals, before ``pairwise``."""
    AFTER: ClassVar[tuple[str, ...]] = ()
    """Number fields written after ``pairwise``."""

    def _own_dict(self) -> tuple[dict[str, Any], dict[str, Any]]:
        head = {key: getattr(self, key) for key in self.COUNTS}
        tail = {**{key: getattr(self, key) for key in self.NUMBERS},
                "pairwise": [p.to_dict() for p in self.pairwise], **{key: getattr(self, key) for key in self.AFTER}}
        return head, tail

    @classmethod
    def _own_fields(cls, value: Mapping[str, Any], where: str) -> dict[str, Any]:
        pairwise = value.get("pairwise") or []
        if not isinstance(pairwise, list):
            raise InputError(f"{where}: \"pairwise\" must be a list, got {pairwise!r}.")
        return {
            **{key: integer(value.get(key), where, key) for key in cls.COUNTS},
            **{key: number(value.get(key), where, key) for key in (*cls.NUMBERS, *cls.AFTER)},
            "pairwise": tuple(Pairwise.from_dict(p, where) for p in pairwise),
        }

    def check(self, where: str) -> None:
        """Scores, intervals (`Entry.check`); the bootstrap SD in [0, half the headline's range]; pairwise tests."""
        super().check(where)
        headline = self.SCORES[0]
        _spread_range(headline).check(self.bootstrap_sd, where, repr("bootstrap_sd"))
        for p in self.pairwise:
            p.check(headline, where)


@dataclass(frozen=True)
class StudyEntry(RatedEntry):
    """One algorithm's fool rate in a real-vs-fake study (README, "Results files").

    Attributes
    ----------
    n_fooled : int or None
        Scored trials on which the rater was fooled.
    se_over_raters : float or None
        SD of per-rater fool rates / sqrt(raters) (the "±" of p2p-eval before
        version 3, there named ``se``).
    vigilance_pass_rate : float or None
    """

    KIND = "study"
    SCORES = STUDY_SCORES
    TITLE = "Real vs fake"
    CAPTION = "Real vs fake perceptual study (\\% of trials labeled real)."
    COUNTS = (*RatedEntry.COUNTS, "n_fooled")
    NUMBERS = ("bootstrap_sd", "se_over_raters")
    AFTER = ("vigilance_pass_rate",)

    n_fooled: int | None = None
    se_over_raters: float | None = None
    vigilance_pass_rate: float | None = None

    def check(self, where: str) -> None:
        super().check(where)
        Score("vigilance_pass_rate", "").check(self.vigilance_pass_rate, where)
        _spread_range(self.SCORES[0]).check(self.se_over_raters, where, repr("se_over_raters"))
        if None not in (self.n_fooled, self.n_trials) and self.n_fooled > self.n_trials:
            raise InputError(f"{where}: 'n_fooled' is {self.n_fooled}, more than the {self.n_trials} trials; "
                             f"{DAMAGED}")


@dataclass(frozen=True)
class HypeEntry(RatedEntry):
    """One model of a HYPE study (Zhou, Gordon et al., NeurIPS 2019), from per-trial records.

    Attributes
    ----------
    n_trials_excluded : int or None
        Main trials an exclusion rule removed.
    rater_sd : float or None
        SD (ddof=1) of per-rater HYPE scores.
    """

    ROW_HEADER = "Model"
    COMPARISONS = ModelTests
    COUNTS = (*RatedEntry.COUNTS, "n_trials_excluded")
    NUMBERS = ("bootstrap_sd", "rater_sd")

    n_trials_excluded: int | None = None
    rater_sd: float | None = None

    def check(self, where: str) -> None:
        super().check(where)
        _spread_range(self.SCORES[0], self.n_raters).check(self.rater_sd, where, repr("rater_sd"))


ENTRY = StudyEntry
