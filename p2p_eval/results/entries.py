"""Typed results entries: one class per results kind, each with `to_dict` and `from_dict`.

An entry is one row of a results document (a run, the real photos, a study's
algorithm). Each kind declares its scores once, as `Score` records (`scores`), and the
fields it adds; everything that reads or writes a results file goes through
these classes, so a field has one name and one check. `from_dict` validates
what it reads and names the file, the run and the field in its message;
`Entry.check` is where range checks live (and where kinds add their own
consistency checks, e.g. scores against a stored confusion matrix).

The shape follows the trainers' ``TrainConfig``: frozen dataclasses,
``to_dict`` for JSON, ``from_dict`` back.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from p2p_eval.errors import InputError
from p2p_eval.results.fields import DAMAGED, bounds, integer, mapping, number, text
from p2p_eval.results.scores import BaselineTest, Score, check_ordered


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
        How the run's images were paired with frames (`p2p_eval.data.matching.RunMatch`:
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
                             f"\"n_images\" is {self.n_images}; {DAMAGED}")


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

