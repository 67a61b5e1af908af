"""The fcn-score results entry: the three FCN-scores, per-class detail and the summed confusion."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from p2p_eval.classes import CLASS_NAMES, NUM_CLASSES
from p2p_eval.errors import InputError
from p2p_eval.measures.fcn_score.official import official_per_class, official_scores
from p2p_eval.metrics.confusion import ABSENT_RULES, SCORES, fcn_scores, per_class_scores
from p2p_eval.paper import FCN_COLUMNS
from p2p_eval.results.entries import RunEntry
from p2p_eval.results.fields import integer, number
from p2p_eval.results.scores import Score, first_disagreement

FCN_SCORES = tuple(Score(key, title) for key, title in zip(SCORES, FCN_COLUMNS))
"""Per-pixel accuracy, per-class accuracy and class IoU, titled as the paper's tables."""


@dataclass(frozen=True)
class ClassScore:
    """One train class's accuracy and IoU (None: undefined, the class is absent)."""

    name: str
    acc: float | None
    iou: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "acc": self.acc, "iou": self.iou}


@dataclass(frozen=True)
class FcnEntry(RunEntry):
    """A run's FCN-scores (README, "Results files").

    Attributes
    ----------
    per_class : tuple of ClassScore or None
        The 19 train classes in trainId order.
    confusion : (19, 19) nested list of int or None
        Summed over the frames: ground-truth rows, predicted columns.
    confusion_other : (19,) list of int or None
        Pixels of each ground-truth class predicted as no train class (errors, never dropped).
    official_script : dict or None
        Under ``--protocol official`` only: the official ``evaluate.py``'s
        numbers, its quirks reproduced (`p2p_eval.measures.fcn_score.official`):
        ``pixel_acc``, ``class_acc``, ``class_iou`` (the entry's scores, and
        ``per_class``, are these), ``frames_dropped`` (frames ``fast_hist``
        dropped), ``pixels_predicted_void`` (pixels predicted as an output
        that is no train class) and ``confusion`` (its summed 19x19 histogram).
    corrected : dict or None
        Under ``--protocol official`` only: ``pixel_acc``, ``class_acc``,
        ``class_iou`` of `confusion` with `confusion_other` as errors, absent
        classes 0: the same frames scored without the quirks.
    """

    KIND = "fcn-score"
    SCORES = FCN_SCORES
    TITLE = "FCN-score"
    CAPTION = "FCN-scores of generated photos (labels$\\to$photos)."

    per_class: tuple[ClassScore, ...] | None = None
    confusion: list[list[int]] | None = None
    confusion_other: list[int] | None = None
    official_script: dict[str, Any] | None = None
    corrected: dict[str, float | None] | None = None

    def _own_dict(self) -> tuple[dict[str, Any], dict[str, Any]]:
        head, tail = super()._own_dict()
        tail |= {
            "per_class": None if self.per_class is None else [c.to_dict() for c in self.per_class],
            "confusion": self.confusion,
            "confusion_other": self.confusion_other,
            "official_script": self.official_script,
            "corrected": self.corrected,
        }
        return head, tail

    @classmethod
    def _own_fields(cls, value: Mapping[str, Any], where: str) -> dict[str, Any]:
        per_class = value.get("per_class")
        if per_class is not None and (not isinstance(per_class, list) or len(per_class) != NUM_CLASSES):
            raise InputError(
                f"{where}: \"per_class\" must list the {NUM_CLASSES} train classes, got "
                f"{len(per_class) if isinstance(per_class, list) else type(per_class).__name__}.")
        return {
            **super()._own_fields(value, where),
            "per_class": None if per_class is None else tuple(_class_score(c, where) for c in per_class),
            "confusion": _counts(value.get("confusion"), (NUM_CLASSES, NUM_CLASSES), where, "confusion"),
            "confusion_other": _counts(value.get("confusion_other"), (NUM_CLASSES,), where, "confusion_other"),
            "official_script": _official_script(value.get("official_script"), where),
            "corrected": _scores(value.get("corrected"), where, "corrected", ()),
        }

    def csv_fields(self) -> dict[str, Any]:
        """Per-class accuracy and IoU: ``acc_<class>``, ``iou_<class>``."""
        classes = self.per_class or tuple(ClassScore(name, None, None) for name in CLASS_NAMES)
        return {**{f"acc_{c.name}": c.acc for c in classes}, **{f"iou_{c.name}": c.iou for c in classes}}

    @classmethod
    def check_document(cls, entries: "tuple[FcnEntry, ...]", protocol: Mapping[str, Any], source: str, *,
                       data: Mapping[str, Any] | None = None) -> None:
        """Every score and per-class value equals what the entry's own stored state gives.

        Under the document's absent-class rule (``protocol.absent_classes``;
        both rules are tried when it names neither, as files written before
        the rule was recorded do). Under ``--protocol official`` the scores and
        per-class values are ``get_scores`` of ``official_script.confusion``,
        and ``corrected`` is the confusion's. A file that contradicts itself was
        damaged or edited: it is refused, not rendered.
        """
        rule = protocol.get("absent_classes")
        rules = (rule,) if rule in ABSENT_RULES else ABSENT_RULES
        for entry in entries:
            if entry.confusion is None:
                continue
            other = entry.confusion_other if entry.confusion_other is not None else [0] * NUM_CLASSES
            counts = np.column_stack([np.asarray(entry.confusion, dtype=np.int64), np.asarray(other, dtype=np.int64)])
            if entry.official_script is not None:
                hist = np.asarray(entry.official_script["confusion"], dtype=np.float64)
                problems = [_disagreement(entry, official_scores(hist), official_per_class(hist))
                            or first_disagreement(entry.corrected or {}, fcn_scores(counts, "zero"))]
                what = "its official_script confusion (and its corrected scores from its confusion)"
            else:
                problems = [_disagreement(entry, fcn_scores(counts, r), per_class_scores(counts, r)) for r in rules]
                what = f"its own confusion (absent classes {rules[0]!r})"
            if all(problems):
                raise InputError(
                    f"{source}: run {entry.name!r}: {problems[0]} from {what}; the file was damaged or edited, so "
                    "none of its numbers can be trusted. Regenerate it with the command that wrote it.")

    def check(self, where: str) -> None:
        """Ranges, and under the official protocol: the scores are the official script's."""
        super().check(where)
        for c in self.per_class or ():
            for what, value in (("acc", c.acc), ("iou", c.iou)):
                Score(what, what).check(value, where, f"per_class {c.name!r} {what}")
        if self.official_script is not None:
            found = first_disagreement(self.scores, self.official_script)
            if found:  # "'pixel_acc' is x but y recomputed": here y is what official_script says
                raise InputError(f"{where}: {found.replace('recomputed', 'in official_script')}; under --protocol "
                                 "official the scores are official_script's. The file was damaged or edited: "
                                 "regenerate it.")


def _disagreement(entry: FcnEntry, scores: Mapping[str, Any], per_class: tuple[np.ndarray, np.ndarray]) -> str | None:
    """How `entry`'s scores and per-class values differ from recomputed ones (None: they agree)."""
    found = first_disagreement(entry.scores, scores)
    if found or entry.per_class is None:
        return found
    acc, iou = per_class
    stored = {f"{c.name} {what}": value for c in entry.per_class for what, value in (("acc", c.acc), ("iou", c.iou))}
    return first_disagreement(stored, {**{f"{n} acc": a for n, a in zip(CLASS_NAMES, acc)},
                                       **{f"{n} iou": i for n, i in zip(CLASS_NAMES, iou)}})


def _class_score(value: Any, where: str) -> ClassScore:
    if not (isinstance(value, dict) and isinstance(value.get("name"), str)):
        raise InputError(f"{where}: each \"per_class\" item must be {{\"name\", \"acc\", \"iou\"}}, got {value!r}.")
    name = value["name"]
    return ClassScore(name, number(value.get("acc"), where, f"per_class {name} acc"),
                      number(value.get("iou"), where, f"per_class {name} iou"))


def _scores(value: Any, where: str, key: str, extra: tuple[str, ...]) -> dict[str, Any] | None:
    """An object of the three FCN-scores (each in [0, 1] or null) and the `extra` keys, or null."""
    if value is None:
        return None
    expected = {score.key for score in FCN_SCORES} | set(extra)
    if not isinstance(value, dict) or set(value) != expected:
        raise InputError(f"{where}: {key!r} must be null or an object of {sorted(expected)}, got {value!r}.")
    scores = {score.key: number(value[score.key], where, f"{key} {score.key}") for score in FCN_SCORES}
    for score in FCN_SCORES:
        score.check(scores[score.key], where, f"{key} {score.key!r}")
    return {**value, **scores}


def _official_script(value: Any, where: str) -> dict[str, Any] | None:
    """``official_script``: the official numbers, frames_dropped, pixels_predicted_void and its 19x19 histogram."""
    record = _scores(value, where, "official_script", ("frames_dropped", "pixels_predicted_void", "confusion"))
    if record is not None:
        for key in ("frames_dropped", "pixels_predicted_void"):
            integer(record[key], where, f"official_script {key}", nullable=False)
        _counts(record["confusion"], (NUM_CLASSES, NUM_CLASSES), where, "official_script confusion")
    return record


def _counts(value: Any, shape: tuple[int, ...], where: str, key: str) -> list | None:
    """A nested list of pixel counts (whole numbers >= 0) of `shape`, or None."""
    if value is None:
        return None

    def ok(v: Any, dims: tuple[int, ...]) -> bool:
        if not dims:
            return isinstance(v, int) and not isinstance(v, bool) and v >= 0
        return isinstance(v, list) and len(v) == dims[0] and all(ok(x, dims[1:]) for x in v)

    if not ok(value, shape):
        raise InputError(f"{where}: {key!r} must be {' x '.join(map(str, shape))} pixel counts (whole numbers >= 0).")
    return value


ENTRY = FcnEntry
