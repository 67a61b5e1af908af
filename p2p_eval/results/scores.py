"""What a results kind declares about each score, and the checks on score values.

`Score` declares one score of a kind once (range, title, direction, decimals)
for the pipeline, tables and checks; `Spread` a spread stored beside it.
`BaselineTest` holds a run's paired tests against the baseline, per score.
`check_ordered` and `first_disagreement` are the checks kinds share on
intervals and on stored against recomputed scores.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from p2p_eval.errors import InputError
from p2p_eval.results.fields import DAMAGED, bounds, integer, number
from p2p_eval.stats import PairedTest

_TOLERANCE = 1e-9  # floating-point slack on range checks (a sum of normalised bins may exceed 1 by an ulp)


@dataclass(frozen=True)
class Spread:
    """A score's spread stored in an entry field of its own (a study's bootstrap SD).

    Attributes
    ----------
    key : str
        The entry field holding it (``"bootstrap_sd"``).
    note : str
        What it is, LaTeX, for table notes (``"bootstrap SD (raters, then trials)"``).
    columns : bool
        Tables show it, and the score's interval, as columns of their own
        (HYPE's "Std." and "95% CI") rather than as the score's "±".
    """

    key: str
    note: str
    columns: bool = False


@dataclass(frozen=True)
class Score:
    """One score of a results kind, declared once for the pipeline, tables and checks.

    Attributes
    ----------
    key : str
        The entry field holding the score (``"pixel_acc"``).
    title : str
        Column header, LaTeX, as the paper prints it (``"Per-pixel acc."``).
    low, high : float
        The range every value and interval bound must lie in.
    percent : bool
        A fraction shown as a percentage.
    higher_is_better : bool
    decimals : int or None
        Decimals report tables print by default (HYPE-time's ms: 1; KID's 0.0123: 4);
        None: 2, or 1 for percentages, as the paper prints its numbers.
    compared : bool
        Its cells compete for bold (not: HYPE's error on real images, which no model makes).
    spread : Spread or None
        Its "±" when the entry stores one (otherwise tables derive it from the interval).
    """

    key: str
    title: str
    low: float = 0.0
    high: float = 1.0
    percent: bool = False
    higher_is_better: bool = True
    decimals: int | None = None
    compared: bool = True
    spread: Spread | None = None

    def check(self, value: float | None, where: str, what: str | None = None) -> None:
        """Raise `InputError` if `value` (None: no score) lies outside [low, high]."""
        if value is not None and not math.isnan(value) and not self.low - _TOLERANCE <= value <= self.high + _TOLERANCE:
            raise InputError(
                f"{where}: {what or repr(self.key)} is {value}, outside [{self.low:g}, {self.high:g}]; {DAMAGED}"
            )


def first_disagreement(stored: Mapping[str, float | None], recomputed: Mapping[str, float]) -> str | None:
    """The first stored value that differs from its recomputed one (NaN recomputed = None stored), described.

    Examples
    --------
    >>> first_disagreement({"pixel_acc": 0.9}, {"pixel_acc": 0.373})
    "'pixel_acc' is 0.9 but 0.373 recomputed"
    >>> first_disagreement({"iou": None}, {"iou": float("nan")}) is None
    True
    """
    for key, value in stored.items():
        again = float(recomputed[key])
        if math.isnan(again):
            if value is not None:
                return f"{key!r} is {value} but does not exist (NaN) recomputed"
        elif value is None or abs(value - again) > _TOLERANCE * max(1.0, abs(again)):
            return f"{key!r} is {value} but {again:.6g} recomputed"
    return None


def check_ordered(low: float | None, high: float | None, where: str, what: str) -> None:
    """Raise `InputError` if an interval's low bound lies above its high bound."""
    if low is not None and high is not None and low > high + _TOLERANCE:
        raise InputError(f"{where}: {what} is [{low}, {high}], its low bound above its high; {DAMAGED}")


@dataclass(frozen=True)
class BaselineTest:
    """A run's paired bootstrap test against the baseline run, on the frames both have.

    Attributes
    ----------
    baseline : str
        The baseline run's name.
    n_frames : int
        Frames both runs have (the test's items); 0 means no test was possible.
    tests : dict of str to PairedTest
        Per score: difference run - baseline, its interval and two-sided p.
    """

    baseline: str
    n_frames: int
    tests: dict[str, PairedTest] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "n_frames": self.n_frames,
                **{key: test.as_dict() for key, test in self.tests.items()}}

    @classmethod
    def from_dict(cls, value: Any, scores: tuple[Score, ...], where: str) -> "BaselineTest":
        shape = '{"baseline": name, "n_frames": N, score: {"difference", "interval", "p_value"}}'
        if not (isinstance(value, dict) and isinstance(value.get("baseline"), str)):
            raise InputError(f"{where}: \"baseline_test\" must be null or {shape}, got {value!r}.")
        known = {s.key for s in scores}
        unknown = set(value) - known - {"baseline", "n_frames"}
        if unknown:
            raise InputError(f"{where}: \"baseline_test\" has unknown field(s) {sorted(unknown)}; expected {shape}.")
        tests = {}
        for key in [s.key for s in scores if s.key in value]:
            test, at = value[key], f"baseline_test {key}"
            if not (isinstance(test, dict) and {"difference", "interval", "p_value"} >= set(test)):
                raise InputError(f"{where}: \"baseline_test\" of {key!r} must be {shape}, got {test!r}.")
            low, high = bounds(test.get("interval", [None, None]), where, f"{at} interval")
            tests[key] = PairedTest(number(test.get("difference"), where, f"{at} difference"), low, high,
                                    number(test.get("p_value"), where, f"{at} p_value"))
        return cls(value["baseline"], integer(value.get("n_frames"), where, "baseline_test n_frames", nullable=False), tests)

    def check(self, scores: tuple[Score, ...], where: str) -> None:
        """Differences within the span of their score's range and inside their own interval, p-values in [0, 1]."""
        for score in scores:
            test = self.tests.get(score.key)
            if test is None:
                continue
            span = Score(score.key, score.title, score.low - score.high, score.high - score.low)
            for value, what in ((test.difference, "difference"), (test.low, "interval"), (test.high, "interval")):
                span.check(value, where, f"baseline_test {score.key!r} {what}")
            Score("p_value", "p").check(test.p_value, where, f"baseline_test {score.key!r} p_value")
            check_ordered(test.low, test.high, where, f"baseline_test {score.key!r} interval")
            if None not in (test.difference, test.low, test.high) and not (
                    test.low - _TOLERANCE <= test.difference <= test.high + _TOLERANCE):
                raise InputError(
                    f"{where}: baseline_test {score.key!r} difference is {test.difference}, outside its own interval "
                    f"[{test.low}, {test.high}] (the paired bootstrap's interval lies around the difference it "
                    f"tests); {DAMAGED}")
