"""The fcn-score results entry: the three FCN-scores, per-class detail and the summed confusion."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from p2p_eval.classes import CLASS_NAMES, NUM_CLASSES
from p2p_eval.errors import InputError
from p2p_eval.metrics.confusion import SCORES
from p2p_eval.paper import FCN_COLUMNS
from p2p_eval.results.entries import RunEntry, Score
from p2p_eval.results.fields import integer, number

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

    def check(self, where: str) -> None:
        """Ranges, and under the official protocol: the scores are the official script's."""
        super().check(where)
        for c in self.per_class or ():
            for what, value in (("acc", c.acc), ("iou", c.iou)):
                Score(what, what).check(value, where, f"per_class {c.name!r} {what}")
        if self.official_script is not None:
            for score in self.SCORES:
                shown, official = self.scores.get(score.key), self.official_script[score.key]
                if shown is None or official is None or abs(shown - official) > 1e-9:
                    raise InputError(f"{where}: {score.key!r} is {shown} but official_script says {official}; under "
                                     "--protocol official they are one number. The file was edited; regenerate it.")


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
