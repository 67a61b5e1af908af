"""Tests between the algorithms of a human study, as results files store them.

`Pairwise` is one entry's bootstrap comparison with another (every study
kind); `ModelTests` is a HYPE document's ``comparisons``: the one-way ANOVA
with Tukey's HSD, or the unpaired t-test, on per-rater scores
(``study_app.comparisons.classical_tests`` computes both sides).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from p2p_eval.errors import InputError
from p2p_eval.results.entries import Entry
from p2p_eval.results.fields import DAMAGED, bounds, integer, number, text
from p2p_eval.results.scores import Score, check_ordered

P_VALUE = Score("p_value", "p")


def _difference_range(score: Score) -> Score:
    """The range a difference of two values of `score` lies in."""
    return Score(score.key, score.title, score.low - score.high, score.high - score.low)


@dataclass(frozen=True)
class Pairwise:
    """Bootstrap difference of the headline score, this algorithm minus `other`."""

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

    def check(self, score: Score, where: str) -> None:
        """The difference and its interval within the span of `score`'s range, ordered; p-values in [0, 1]."""
        at = f"pairwise {self.other!r}"
        span = _difference_range(score)
        for value in (self.difference, *self.interval):
            span.check(value, where, f"{at} difference")
        check_ordered(*self.interval, where, f"{at} interval")
        P_VALUE.check(self.p_value, where, f"{at} p_value")
        P_VALUE.check(self.p_greater, where, f"{at} p_greater")


@dataclass(frozen=True)
class ModelTests:
    """HYPE's tests across models on per-rater scores (a HYPE document's ``comparisons``).

    Attributes
    ----------
    models : tuple of str
        Models tested (two raters or more).
    left_out : tuple of str
        Models with fewer than two raters.
    anova : dict or None
        Three models or more: ``{"statistic", "p_value", "df": [between, within]}``.
    tukey_hsd : tuple of dict or None
        Three models or more: ``{"a", "b", "difference", "interval", "p_value"}`` per pair, a - b.
    t_test : dict or None
        Two models: ``{"a", "b", "statistic", "p_value", "df"}``.
    """

    models: tuple[str, ...]
    left_out: tuple[str, ...]
    anova: dict[str, Any] | None
    tukey_hsd: tuple[dict[str, Any], ...] | None
    t_test: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {"models": list(self.models), "left_out": list(self.left_out), "anova": self.anova,
                "tukey_hsd": None if self.tukey_hsd is None else list(self.tukey_hsd), "t_test": self.t_test}

    @classmethod
    def from_dict(cls, value: Any, entries: Sequence[Entry], source: str) -> "ModelTests":
        """Read and check: models named as the runs, p-values in [0, 1], statistics, df and intervals sane.

        Raises
        ------
        InputError
            Naming the file and the test.
        """
        where = f"{source}: comparisons"
        fields = {"models", "left_out", "anova", "tukey_hsd", "t_test"}
        if not isinstance(value, dict) or set(value) - fields:
            raise InputError(f"{where} must be an object of {sorted(fields)}, got {value!r}.")
        names = {e.name for e in entries}
        models, left_out = (tuple(_names(value.get(key) or [], names, where, key)) for key in ("models", "left_out"))
        score = entries[0].SCORES[0] if entries else P_VALUE  # no runs: every pair names no run, and is refused
        anova, tukey, t_test = value.get("anova"), value.get("tukey_hsd"), value.get("t_test")
        if anova is not None:
            anova = _test(anova, where, "anova", names=set(models), df_pair=True)
        if tukey is not None:
            if not isinstance(tukey, list):
                raise InputError(f"{where}: \"tukey_hsd\" must be a list of pairs, got {tukey!r}.")
            tukey = tuple(_tukey_pair(pair, set(models), score, where) for pair in tukey)
        if t_test is not None:
            t_test = _test(t_test, where, "t_test", names=set(models), df_pair=False)
        return cls(models, left_out, anova, tukey, t_test)


def _names(value: Any, names: set[str], where: str, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        raise InputError(f"{where}: {key!r} must be a list of model names, got {value!r}.")
    unknown = sorted(set(value) - names)
    if unknown:
        raise InputError(f"{where}: {key!r} names {unknown}, which are no runs of this file ({sorted(names)}).")
    return value


def _test(value: Any, where: str, key: str, *, names: set[str], df_pair: bool) -> dict[str, Any]:
    """An F or t test: statistic, p in [0, 1], degrees of freedom; a t-test also its two models."""
    at = f"{where} {key}"
    if not isinstance(value, dict):
        raise InputError(f"{at} must be an object or null, got {value!r}.")
    statistic = number(value.get("statistic"), at, "statistic")
    P_VALUE.check(number(value.get("p_value"), at, "p_value"), at, "p_value")
    df = value.get("df")
    if df_pair:
        if not (isinstance(df, list) and len(df) == 2):
            raise InputError(f"{at}: 'df' must be [between, within], got {df!r}.")
        for d in df:
            integer(d, at, "df", nullable=False)
        if statistic is not None and statistic < 0:
            raise InputError(f"{at}: the F statistic is {statistic}, below 0; {DAMAGED}")
    else:
        integer(df, at, "df", nullable=False)
        for side in ("a", "b"):
            _names([text(value.get(side), at, side, nullable=False)], names, at, side)
    return dict(value)


def _tukey_pair(value: Any, models: set[str], score: Score, where: str) -> dict[str, Any]:
    at = f"{where} tukey_hsd"
    if not isinstance(value, dict):
        raise InputError(f"{at}: each pair must be {{\"a\", \"b\", \"difference\", \"interval\", \"p_value\"}}, "
                         f"got {value!r}.")
    for side in ("a", "b"):
        _names([text(value.get(side), at, side, nullable=False)], models, at, side)
    pair = f"{at} {value['a']} - {value['b']}"
    span = _difference_range(score)
    low, high = bounds(value.get("interval", [None, None]), pair, "interval")
    for bound in (number(value.get("difference"), pair, "difference"), low, high):
        span.check(bound, pair, "difference")
    check_ordered(low, high, pair, "interval")
    P_VALUE.check(number(value.get("p_value"), pair, "p_value"), pair, "p_value")
    return dict(value)
