"""The study results entry: one algorithm of a real-vs-fake perceptual study (``study_app``).

The study is computed by ``study_app.analysis`` (raters, not frames, are its
items); its entry type lives here so that every reader of results files,
reports included, checks it without the web application.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from p2p_eval.errors import InputError
from p2p_eval.results.entries import Entry, Score
from p2p_eval.results.fields import bounds, integer, number

STUDY_SCORES = (Score("fool_rate", r"\% labeled real", percent=True),)
"""Share of scored main trials on which the real image was picked as the fake."""


@dataclass(frozen=True)
class Pairwise:
    """Bootstrap difference of fool rates, this algorithm minus `other`."""

    other: str
    difference: float | None
    interval: tuple[float | None, float | None]
    p_value: float | None
    p_greater: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"other": self.other, "difference": self.difference, "interval": list(self.interval),
                "p_value": self.p_value, "p_greater": self.p_greater}

    @classmethod
    def from_dict(cls, value: Any, where: str) -> "Pairwise":
        if not (isinstance(value, dict) and isinstance(value.get("other"), str)):
            raise InputError(f"{where}: each \"pairwise\" item must be {{\"other\", \"difference\", \"interval\", "
                             f"\"p_value\", \"p_greater\"}}, got {value!r}.")
        at = f"pairwise {value['other']}"
        return cls(value["other"], number(value.get("difference"), where, f"{at} difference"),
                   bounds(value.get("interval", [None, None]), where, f"{at} interval"),
                   number(value.get("p_value"), where, f"{at} p_value"),
                   number(value.get("p_greater"), where, f"{at} p_greater"))


@dataclass(frozen=True)
class StudyEntry(Entry):
    """One algorithm's fool rate (README, "Results files").

    Attributes
    ----------
    n_raters, n_raters_excluded, n_trials, n_fooled : int or None
        Raters counted and excluded (vigilance), scored trials, trials fooled.
    se : float or None
        Standard error over raters (the paper's ±).
    bootstrap_sd : float or None
        Standard deviation of the two-level bootstrap replicates.
    pairwise : tuple of Pairwise
        Against every other algorithm.
    vigilance_pass_rate : float or None
    """

    KIND = "study"
    SCORES = STUDY_SCORES
    TITLE = "Real vs fake"
    CAPTION = "Real vs fake perceptual study (\\% of trials labeled real)."

    n_raters: int | None = None
    n_raters_excluded: int | None = None
    n_trials: int | None = None
    n_fooled: int | None = None
    se: float | None = None
    bootstrap_sd: float | None = None
    pairwise: tuple[Pairwise, ...] = field(default_factory=tuple)
    vigilance_pass_rate: float | None = None

    def _own_dict(self) -> tuple[dict[str, Any], dict[str, Any]]:
        head = {"n_raters": self.n_raters, "n_raters_excluded": self.n_raters_excluded, "n_trials": self.n_trials,
                "n_fooled": self.n_fooled}
        tail = {"se": self.se, "bootstrap_sd": self.bootstrap_sd, "pairwise": [p.to_dict() for p in self.pairwise],
                "vigilance_pass_rate": self.vigilance_pass_rate}
        return head, tail

    @classmethod
    def _own_fields(cls, value: Mapping[str, Any], where: str) -> dict[str, Any]:
        pairwise = value.get("pairwise") or []
        if not isinstance(pairwise, list):
            raise InputError(f"{where}: \"pairwise\" must be a list, got {pairwise!r}.")
        return {
            **{key: integer(value.get(key), where, key) for key in ("n_raters", "n_raters_excluded", "n_trials",
                                                                    "n_fooled")},
            **{key: number(value.get(key), where, key) for key in ("se", "bootstrap_sd", "vigilance_pass_rate")},
            "pairwise": tuple(Pairwise.from_dict(p, where) for p in pairwise),
        }

    def check(self, where: str) -> None:
        super().check(where)
        for key in ("vigilance_pass_rate",):
            Score(key, key).check(getattr(self, key), where)
        for key in ("se", "bootstrap_sd"):
            Score(key, key, 0.0, 0.5).check(getattr(self, key), where)  # of a rate in [0, 1]
        for p in self.pairwise:
            Score("p_value", "p").check(p.p_value, where, f"pairwise {p.other!r} p_value")
            Score("p_greater", "p").check(p.p_greater, where, f"pairwise {p.other!r} p_greater")


ENTRY = StudyEntry
