"""Per-trial records of single-image studies (HYPE): the interface and its CSV/JSON reader.

One record is one answered trial: a rater saw one image (real or fake) and
said whether it was real. The HYPE scores (`study_app.hype`) are pure
functions of a list of these, so any site or export that writes them can be
analysed (``p2p-eval study results --records trials.csv --protocol hype-inf``).

File format: CSV with a header row, or JSON (a list of objects, or
``{"trials": [...]}``), one trial per row/object. Columns (`COLUMNS`):

========== ======== ===========================================================
column     required meaning
========== ======== ===========================================================
rater      yes      the rater's id (one rater, one algorithm: between subjects)
algorithm  yes      the model whose session this is (real images included)
image      yes      ``real`` or ``fake``: what was shown
answer     yes      ``real`` or ``fake``: what the rater said
block      no       staircase block, 0-based (default 0)
phase      no       ``main`` (scored, default), ``practice`` or ``qualification``
exposure_ms no      requested exposure in ms (after frame rounding); empty for
                    unlimited viewing (hype-inf); required for hype-time
painted_ms no       exposure as painted, measured in the page
correct    no       1/0 (true/false); if given it must equal answer == image
excluded   no       names of the exclusion rules that remove this trial,
                    separated by ``;`` (a JSON list also works); empty: kept
========== ======== ===========================================================

Also accepted and not used by the scores: `INFORMATIONAL` columns; of these,
``trial`` (the trial's number) is checked: the same rater's trial listed twice
in one phase and block is refused, since it would count twice. Any other
column is refused, so a misspelt one (``exposure`` for ``exposure_ms``) cannot
be silently ignored.
"""

import csv
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from p2p_eval.data.files import read_json
from p2p_eval.errors import InputError

HYPE_PROTOCOLS = ("hype-inf", "hype-time")
IMAGE_KINDS = ("real", "fake")
PHASES = ("main", "practice", "qualification")
REQUIRED = ("rater", "algorithm", "image", "answer")
COLUMNS = (*REQUIRED, "block", "phase", "exposure_ms", "painted_ms", "correct", "excluded")
INFORMATIONAL = ("trial", "stimulus", "rt_ms", "mask_frames", "frame_ms")
_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no")


@dataclass(frozen=True)
class TrialRecord:
    """One answered single-image trial.

    Attributes
    ----------
    rater : str
    algorithm : str
        The model under evaluation in this rater's session.
    image : {"real", "fake"}
        What was shown.
    answer : {"real", "fake"}
        What the rater said.
    block : int
        Staircase block (0-based; 0 when the protocol has one block).
    phase : {"main", "practice", "qualification"}
        Only ``main`` trials are scored.
    exposure_ms : float or None
        Requested exposure (frame-rounded); None for unlimited viewing.
    painted_ms : float or None
        Exposure as painted, measured in the page; None if not measured.
    excluded : tuple of str
        Exclusion rules that remove this trial; empty when it is kept.
    """

    rater: str
    algorithm: str
    image: str
    answer: str
    block: int = 0
    phase: str = "main"
    exposure_ms: float | None = None
    painted_ms: float | None = None
    excluded: tuple[str, ...] = ()

    @property
    def is_fake(self) -> bool:
        return self.image == "fake"

    @property
    def correct(self) -> bool:
        return self.answer == self.image

    @property
    def scored(self) -> bool:
        """A main-phase trial no exclusion rule removes."""
        return self.phase == "main" and not self.excluded


def parse_record(fields: Mapping[str, Any], where: str) -> TrialRecord:
    """One record from a row of strings (CSV) or JSON values; errors name `where` (file and row).

    Raises
    ------
    InputError
        If a required field is missing or a value is not allowed.
    """
    _check_columns(fields, where)
    values = {key: _blank_to_none(value) for key, value in fields.items()}
    for key in REQUIRED:
        if values.get(key) is None:
            raise InputError(f"{where}: `{key}` is missing; every trial needs {list(REQUIRED)}.")
    image, answer = _choice(values, "image", IMAGE_KINDS, where), _choice(values, "answer", IMAGE_KINDS, where)
    record = TrialRecord(
        rater=str(values["rater"]), algorithm=str(values["algorithm"]), image=image, answer=answer,
        block=_block(values.get("block"), where),
        phase=_choice(values, "phase", PHASES, where) if values.get("phase") is not None else "main",
        exposure_ms=_milliseconds(values.get("exposure_ms"), "exposure_ms", where),
        painted_ms=_milliseconds(values.get("painted_ms"), "painted_ms", where),
        excluded=_rules(values.get("excluded")),
    )
    correct = values.get("correct")
    if correct is not None and _boolean(correct, where) != record.correct:
        raise InputError(f"{where}: `correct` is {correct!r} but the answer {answer!r} on a {image} image is "
                         f"{'right' if record.correct else 'wrong'}; the record contradicts itself.")
    return record


def read_records(path: str | os.PathLike) -> list[TrialRecord]:
    """Read per-trial records from a CSV or JSON file (see the module docstring).

    Raises
    ------
    InputError
        If the file is missing, empty, of another format, or any row is invalid
        (the message names the file and the row).
    """
    path = Path(path)
    if path.suffix.lower() == ".csv":
        rows = _csv_rows(path)
        where = [f"{path}: row {i}" for i in range(2, 2 + len(rows))]
    elif path.suffix.lower() == ".json":
        document = read_json(path)
        rows = document.get("trials") if isinstance(document, dict) else document
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InputError(f"{path}: expected a JSON list of trial objects (or {{\"trials\": [...]}}).")
        where = [f"{path}: trial {i}" for i in range(len(rows))]
    else:
        raise InputError(f"{path}: records must be a .csv or .json file, got {path.suffix or 'no suffix'!r}.")
    records = [parse_record(row, place) for row, place in zip(rows, where)]
    if not records:
        raise InputError(f"{path}: holds no trials.")
    _check_no_repeats(records, [row.get("trial") for row in rows], where)
    return records


def _check_no_repeats(records: list[TrialRecord], trials: list[Any], where: list[str]) -> None:
    """Refuse a trial listed twice (same rater, algorithm, phase, block and ``trial``): it would count twice."""
    seen: dict[tuple, str] = {}
    for record, trial, place in zip(records, trials, where):
        if _blank_to_none(trial) is None:
            continue
        key = (record.rater, record.algorithm, record.phase, record.block, str(trial).strip())
        if key in seen:
            raise InputError(f"{place}: the same trial as {seen[key]} (rater {record.rater!r}, trial {key[4]}); "
                             "each answered trial must appear once.")
        seen[key] = place.rsplit(": ", 1)[-1]


def _csv_rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            _check_columns(reader.fieldnames or (), f"{path}: header")
            rows = list(reader)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found.") from None
    except (UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"{path}: not a readable UTF-8 CSV file ({err}).") from None
    for i, row in enumerate(rows, start=2):
        if None in row or None in row.values():
            raise InputError(f"{path}: row {i} has {'more' if None in row else 'fewer'} fields than the header.")
    return rows


def _check_columns(names: Iterable[str], where: str) -> None:
    unknown = sorted(set(names) - set(COLUMNS) - set(INFORMATIONAL))
    if unknown:
        raise InputError(f"{where}: unknown column(s) {unknown}; the columns are {list(COLUMNS)} "
                         f"(and, not scored, {list(INFORMATIONAL)}). See study_app/records.py.")


def _blank_to_none(value: Any) -> Any:
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _choice(values: Mapping[str, Any], key: str, allowed: tuple[str, ...], where: str) -> str:
    value = values[key]
    if value not in allowed:
        raise InputError(f"{where}: expected `{key}` to be one of {list(allowed)}, got {value!r}.")
    return value


def _block(value: Any, where: str) -> int:
    if value is None:
        return 0
    try:
        block = int(value) if not isinstance(value, float) or value.is_integer() else None
    except ValueError:
        block = None
    if block is None or isinstance(value, bool) or block < 0:
        raise InputError(f"{where}: expected `block` to be a whole number >= 0, got {value!r}.")
    return block


def _milliseconds(value: Any, key: str, where: str) -> float | None:
    if value is None:
        return None
    try:
        ms = float(value) if not isinstance(value, bool) else math.nan
    except ValueError:
        ms = math.nan
    if not math.isfinite(ms) or ms <= 0:
        raise InputError(f"{where}: expected `{key}` to be a positive number of ms (or empty), got {value!r}.")
    return ms


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise InputError(f"{where}: expected `correct` to be 1/0 or true/false, got {value!r}.")


def _rules(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    names = value if isinstance(value, list) else str(value).split(";")
    return tuple(sorted({str(n).strip() for n in names if str(n).strip()}))


def exclusion_counts(trials: Iterable[tuple[Any, tuple[str, ...]]], rules: Iterable[str] = ()) -> dict[str, dict[str, int]]:
    """What each rule removed from the main trials: trials it marks, and raters it removes.

    Parameters
    ----------
    trials : iterable of (rater, rule names)
        Every main trial: its rater (any hashable id) and the rules that remove it (empty: kept).
    rules : iterable of str, optional
        Rules to list even when they removed nothing (the ones the study had on).

    Returns
    -------
    counts : dict of str to dict
        Per rule, ``trials`` (main trials it marks) and ``raters`` (raters whose
        main trials are all removed, one of them by this rule).

    Examples
    --------
    >>> exclusion_counts([("a", ("vigilance",)), ("a", ("vigilance", "too_fast")), ("b", ()), ("b", ("too_fast",))])
    {'too_fast': {'trials': 2, 'raters': 1}, 'vigilance': {'trials': 2, 'raters': 1}}
    """
    by_rater: dict[Any, list[tuple[str, ...]]] = defaultdict(list)
    for rater, removed in trials:
        by_rater[rater].append(removed)
    names = sorted(set(rules) | {rule for marks in by_rater.values() for removed in marks for rule in removed})
    gone = [marks for marks in by_rater.values() if all(marks)]
    return {rule: {"trials": sum(rule in removed for marks in by_rater.values() for removed in marks),
                   "raters": sum(any(rule in removed for removed in marks) for marks in gone)} for rule in names}
