"""Typed results entries: one class per results kind, each with `to_dict` and `from_dict`.

An entry is one row of a results document (a run, the real photos, a study's
algorithm). Each kind declares its scores once, as `Score` records, and the
fields it adds; everything that reads or writes a results file goes through
these classes, so a field has one name and one check. `from_dict` validates
what it reads and names the file, the run and the field in its message;
`Entry.check` is where range checks live (and where kinds add their own
consistency checks, e.g. scores against a stored confusion matrix).

The shape follows the trainers' ``TrainConfig``: frozen dataclasses,
``to_dict`` for JSON, ``from_dict`` back.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from p2p_eval.errors import InputError
from p2p_eval.results.fields import bounds, integer, mapping, number, text
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
                f"{where}: {what or repr(self.key)} is {value}, outside [{self.low:g}, {self.high:g}]; "
                "the file is damaged or was edited. Regenerate it with the command that wrote it."
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
        raise InputError(f"{where}: {what} is [{low}, {high}], its low bound above its high; the file is damaged "
                         "or was edited. Regenerate it with the command that wrote it.")


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
                    "tests); the file is damaged or was edited. Regenerate it with the command that wrote it.")


@dataclass(frozen=True)
class Entry:
    """The fields every results entry has: its name, its scores and their intervals.

    Subclasses declare ``KIND``, ``SCORES``, ``TITLE`` (header over the kind's
    columns in side-by-side tables, LaTeX) and ``CAPTION`` (caption of a table
    of this kind that matches no paper table, LaTeX), add their fields, and
    write them in `_own_dict` / read them in `_own_fields`. They may set
    ``ROW_HEADER`` (header of the row labels, LaTeX) and ``COMPARISONS``: the
    type of the document's ``"comparisons"`` (tests across its entries, with
    ``to_dict`` and ``from_dict(value, entries, source)``); a kind without one
    refuses a document that has them.
    """

    KIND: ClassVar[str]
    SCORES: ClassVar[tuple[Score, ...]]
    TITLE: ClassVar[str]
    CAPTION: ClassVar[str]
    ROW_HEADER: ClassVar[str] = "Run"
    COMPARISONS: ClassVar[type | None] = None

    name: str
    scores: dict[str, float | None]
    intervals: dict[str, tuple[float | None, float | None]]

    @classmethod
    def score_keys(cls) -> tuple[str, ...]:
        return tuple(s.key for s in cls.SCORES)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this entry (field order as written to results files)."""
        head, tail = self._own_dict()
        return {"name": self.name, **head, **{k: self.scores.get(k) for k in self.score_keys()},
                **self._intervals_dict(), **tail}

    def _intervals_dict(self) -> dict[str, Any]:
        return {"intervals": {k: list(v) for k, v in self.intervals.items()}}

    def _own_dict(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The subclass's fields: those written before the scores, and those after the intervals."""
        return {}, {}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any], *, source: str = "results entry", index: int = 0) -> "Entry":
        """Read and check an entry.

        Parameters
        ----------
        value : mapping
            The JSON object.
        source : str, optional
            Where it comes from, for messages (the results file).
        index : int, optional
            Its position in the document's ``runs``, for messages.

        Raises
        ------
        InputError
            Naming the file, the run and the field: no name, a missing or
            non-numeric score, a malformed field, an unknown field, or a value
            out of range (`check`).
        """
        if not isinstance(value, Mapping) or not isinstance(value.get("name"), str) or not value["name"]:
            raise InputError(f"{source}: runs[{index}] has no \"name\"; every run entry needs its run's name.")
        where = f"{source}: run {value['name']!r}"
        for key in cls.score_keys():
            if key not in value:
                raise InputError(
                    f"{where} has no {key!r} score, which {cls.KIND} results must have (null when it does not "
                    "exist); regenerate the file with this p2p-eval.")
        own = cls._own_fields(value, where)
        known = {"name", "intervals", *cls.score_keys(), *own}
        unknown = sorted(set(value) - known)
        if unknown:
            raise InputError(
                f"{where}: unknown field(s) {unknown} in a {cls.KIND} entry (it has {sorted(known)}); "
                "remove them, or read the file with the p2p-eval version that wrote it.")
        intervals = value.get("intervals") or {}
        if not isinstance(intervals, dict):
            raise InputError(f"{where}: \"intervals\" must map a score to [low, high], got {intervals!r}.")
        entry = cls(
            name=value["name"],
            scores={key: number(value[key], where, key) for key in cls.score_keys()},
            intervals={key: bounds(b, where, key) for key, b in intervals.items()},
            **own,
        )
        entry.check(where)
        return entry

    @classmethod
    def _own_fields(cls, value: Mapping[str, Any], where: str) -> dict[str, Any]:
        """The subclass's fields read from `value` (defaults for those absent), as constructor arguments."""
        return {}

    @classmethod
    def check_document(cls, entries: "tuple[Entry, ...]", protocol: Mapping[str, Any], source: str, *,
                       data: Mapping[str, Any] | None = None) -> None:
        """Checks that need the whole document, run after every entry was read (none by default).

        For a kind whose scores can be recomputed from stored state under the
        document's `protocol` and `data` (FCN-scores from the confusion and the
        absent-class rule; colorfulness from the histograms and the reference),
        this is where a contradiction is refused: a file whose numbers disagree
        with its own state was damaged or edited, and none of it can be trusted.
        """

    def check(self, where: str) -> None:
        """Scores and interval bounds within their declared ranges, intervals low <= high and only
        for declared scores.

        Kinds extend this with their own consistency checks.
        """
        declared = {s.key: s for s in self.SCORES}
        for key, value in self.scores.items():
            declared[key].check(value, where)
        for key, (low, high) in self.intervals.items():
            if key not in declared:
                raise InputError(f"{where}: \"intervals\" names {key!r}, which is no {self.KIND} score "
                                 f"({sorted(declared)}).")
            declared[key].check(low, where, f"the interval of {key!r}")
            declared[key].check(high, where, f"the interval of {key!r}")
            check_ordered(low, high, where, f"the interval of {key!r}")


@dataclass(frozen=True)
class RunEntry(Entry):
    """An entry made by the shared scoring session: a run or the ground-truth row.

    Attributes
    ----------
    variant, preset : str or None
        From the run's ``run.json`` (None for foreign layouts and the real row).
    is_real : bool
        The ground-truth row (real photos), a reference rather than a contender.
    n_images : int or None
        Frames scored for this row.
    image_sizes : tuple of (height, width, frames) or None
        The sizes of the row's images as read, before any resizing, most
        frequent first (None in files written before p2p-eval recorded them).
    baseline_test : BaselineTest or None
    matching : dict or None
        How the run's images were paired with frames (`p2p_eval.data.runs.RunMatch`:
        layout, ``by`` frame id, content or numbering, ...); None for the ground-truth row.
    run_protocol : dict or None
        How a p2p-eval run's images were made, from its run.json: training
        schedule, epochs, batch size, and the scored split's quantize,
        eval_mode and step; None where no run.json says.
    """

    variant: str | None = None
    preset: str | None = None
    is_real: bool = False
    n_images: int | None = None
    image_sizes: tuple[tuple[int, int, int], ...] | None = None
    baseline_test: BaselineTest | None = None
    matching: dict[str, Any] | None = None
    run_protocol: dict[str, Any] | None = None

    def _own_dict(self) -> tuple[dict[str, Any], dict[str, Any]]:
        head = {"variant": self.variant, "preset": self.preset, "is_real": self.is_real, "n_images": self.n_images,
                "image_sizes": None if self.image_sizes is None else
                [{"height": h, "width": w, "frames": n} for h, w, n in self.image_sizes]}
        return head, {"baseline_test": self.baseline_test.to_dict() if self.baseline_test else None,
                      "matching": self.matching, "run_protocol": self.run_protocol}

    @classmethod
    def _own_fields(cls, value: Mapping[str, Any], where: str) -> dict[str, Any]:
        is_real = value.get("is_real", False)
        if not isinstance(is_real, bool):
            raise InputError(f"{where}: \"is_real\" must be true or false, got {is_real!r}.")
        test = value.get("baseline_test")
        return {
            "variant": text(value.get("variant"), where, "variant"),
            "preset": text(value.get("preset"), where, "preset"),
            "is_real": is_real,
            "n_images": integer(value.get("n_images"), where, "n_images"),
            "image_sizes": _image_sizes(value.get("image_sizes"), where),
            "baseline_test": None if test is None else BaselineTest.from_dict(test, cls.SCORES, where),
            "matching": mapping(value.get("matching"), where, "matching"),
            "run_protocol": mapping(value.get("run_protocol"), where, "run_protocol"),
        }

    def csv_fields(self) -> dict[str, Any]:
        """The kind's own CSV columns (flat values), after the scores."""
        return {}

    def notes(self) -> tuple[str, ...]:
        """Lines the terminal table prints under the scores for this entry (KID's spread, small-N warnings)."""
        return ()

    def check(self, where: str) -> None:
        super().check(where)
        if self.baseline_test is not None:
            self.baseline_test.check(self.SCORES, where)
        if self.image_sizes is not None and self.n_images is not None \
                and sum(n for _, _, n in self.image_sizes) != self.n_images:
            raise InputError(f"{where}: \"image_sizes\" counts {sum(n for _, _, n in self.image_sizes)} frames but "
                             f"\"n_images\" is {self.n_images}; the file is damaged or was edited. Regenerate it "
                             "with the command that wrote it.")


def _image_sizes(value: Any, where: str) -> tuple[tuple[int, int, int], ...] | None:
    """``[{"height", "width", "frames"}, ...]`` (whole numbers >= 1), or None."""
    if value is None:
        return None
    shape = '[{"height": H, "width": W, "frames": N}, ...]'
    if not isinstance(value, list) or not all(isinstance(v, dict) and set(v) == {"height", "width", "frames"}
                                              for v in value):
        raise InputError(f"{where}: \"image_sizes\" must be {shape}, got {value!r}.")
    sizes = tuple(tuple(integer(v[k], where, f"image_sizes {k}", nullable=False) for k in ("height", "width", "frames"))
                  for v in value)
    if any(0 in size for size in sizes):
        raise InputError(f"{where}: \"image_sizes\" must hold sizes and counts >= 1, got {value!r}.")
    return sizes

