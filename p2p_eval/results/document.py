"""Results documents: one versioned JSON file per measurement, read and written through typed entries.

Every measure (`fcn-score`, `label-score`, `colorfulness`, `study`, and each
kind in `p2p_eval.measures.RESULT_KINDS`) writes one document; reports are
rendered from these files alone. Common envelope::

    {
      "schema": "p2p-eval/results", "version": 4, "kind": "fcn-score",
      "created": "2026-11-22T10:00:00+00:00",
      "provenance": {"p2p_eval": "...", "torch": "...", "python": "...",
                     "platform": "...", "command": ["p2p-eval", ...]},
      "protocol": {...},   # how it was measured (resize kernel, bins, B, seed ...)
      "data": {...},       # what it was measured on (dataset, split, frames)
      "runs": [{"name": ..., ...}, ...],  # one entry per run / algorithm
      "comparisons": {...}  # only kinds that test across runs (HYPE's ANOVA, Tukey HSD)
    }

The entries of each kind are the typed classes of its measure
(``p2p_eval/measures/<kind>/entry.py``); the README lists their fields
("Results files"). Older documents are read with the fields later versions
renamed or added (`_upgrade`).
"""

import datetime as _dt
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from p2p_eval import __version__
from p2p_eval.data.files import read_json, write_json
from p2p_eval.errors import InputError
from p2p_eval.results.entries import Entry
from p2p_eval.results.fields import DAMAGED, integer, mapping, number, text

SCHEMA = "p2p-eval/results"
VERSION = 4


def _entry_types() -> dict[str, type[Entry]]:
    from p2p_eval.measures import RESULT_KINDS, entry_type  # here: entry modules import this package

    return {kind: entry_type(kind) for kind in RESULT_KINDS}


def provenance() -> dict[str, Any]:
    """Versions and command line that produced a result."""
    info = {
        "p2p_eval": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "command": list(sys.argv),
    }
    if "torch" in sys.modules:
        info["torch"] = sys.modules["torch"].__version__
    return info


@dataclass(frozen=True)
class Results:
    """A results document: its kind, typed entries, and how and on what it was measured.

    Attributes
    ----------
    kind : str
    runs : tuple of Entry
        Of the kind's entry type, in table order.
    protocol, data : dict
        How the numbers were made and what they were measured on (free-form per kind).
    created : str
        ISO 8601 time of writing.
    provenance : dict
        Versions and command line (`provenance`).
    comparisons : object or None
        Tests across the runs, of the kind's ``COMPARISONS`` type (None: none).
    """

    kind: str
    runs: tuple[Entry, ...]
    protocol: dict[str, Any]
    data: dict[str, Any]
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    provenance: dict[str, Any] = field(default_factory=provenance)
    comparisons: Any = None

    def __post_init__(self):
        types = _entry_types()
        if self.kind not in types:
            raise ValueError(f"Expected `kind` to be one of {tuple(types)}, got {self.kind!r}.")
        wrong = [type(e).__name__ for e in self.runs if not isinstance(e, types[self.kind])]
        if wrong:
            raise TypeError(f"Expected {types[self.kind].__name__} entries in {self.kind} results, got {wrong}.")
        expected = types[self.kind].COMPARISONS
        if self.comparisons is not None and (expected is None or not isinstance(self.comparisons, expected)):
            raise TypeError(f"Expected `comparisons` of {self.kind} results to be "
                            f"{expected.__name__ if expected else 'None'}, got {type(self.comparisons).__name__}.")

    def to_dict(self) -> dict[str, Any]:
        document = {
            "schema": SCHEMA, "version": VERSION, "kind": self.kind, "created": self.created,
            "provenance": self.provenance, "protocol": self.protocol, "data": self.data,
            "runs": [entry.to_dict() for entry in self.runs],
        }
        if self.comparisons is not None:
            document["comparisons"] = self.comparisons.to_dict()
        return document

    @classmethod
    def from_dict(cls, document: Any, *, source: str = "results document") -> "Results":
        """Check a document (envelope, every entry, its comparisons) and read it; older versions are upgraded.

        Raises
        ------
        InputError
            If it is not a p2p-eval results document, is of an unknown kind or
            a newer schema version, an entry does not read (`Entry.from_dict`),
            or its ``comparisons`` do not (or its kind has none).
        """
        if not isinstance(document, dict) or document.get("schema") != SCHEMA:
            raise InputError(f"{source}: not a p2p-eval results document (no \"schema\": {SCHEMA!r}).")
        version = document.get("version", 0)
        if not isinstance(version, int) or version > VERSION:
            raise InputError(f"{source}: results schema version {version} is newer than this p2p-eval "
                             f"reads ({VERSION}); upgrade p2p-eval.")
        if version < VERSION:
            document = _upgrade(document, version)
        types = _entry_types()
        kind = document.get("kind")
        if kind not in types:
            raise InputError(f"{source}: results of kind {kind!r}; expected one of {tuple(types)}.")
        runs = document.get("runs")
        if not isinstance(runs, list):
            raise InputError(f"{source}: \"runs\" must be a list.")
        for key in ("protocol", "data", "provenance"):
            if not isinstance(document.get(key, {}), dict):
                raise InputError(f"{source}: {key!r} must be an object, got {document[key]!r}.")
        _check_envelope(document.get("data") or {}, document.get("protocol") or {}, source)
        entries = tuple(types[kind].from_dict(e, source=source, index=i) for i, e in enumerate(runs))
        names = [e.name for e in entries]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InputError(f"{source}: several run entries are named {dupes}; each run must appear once.")
        _check_runs_against_data(entries, document.get("data") or {}, source)
        types[kind].check_document(entries, document.get("protocol") or {}, source, data=document.get("data") or {})
        return cls(kind, entries, document.get("protocol") or {}, document.get("data") or {},
                   str(document.get("created", "")), document.get("provenance") or {},
                   _comparisons(types[kind], document.get("comparisons"), entries, source))

    @classmethod
    def read(cls, path: str | os.PathLike, *, kinds: Sequence[str] | None = None) -> "Results":
        """Read and check a results file; `kinds` limits the kinds accepted."""
        results = cls.from_dict(read_json(path), source=str(path))
        if kinds is not None and results.kind not in kinds:
            raise InputError(f"{path}: results of kind {results.kind!r}; expected one of {tuple(kinds)}.")
        return results

    def write(self, path: str | os.PathLike) -> None:
        """Write atomically (NaN scores become null)."""
        write_json(path, self.to_dict())


def results_document(
    kind: str, runs: Sequence[Entry | dict[str, Any]], *, protocol: dict[str, Any], data: dict[str, Any],
    comparisons: Any = None,
) -> dict[str, Any]:
    """Wrap entries in the common envelope, each checked through its kind's entry type.

    Parameters
    ----------
    kind : str
    runs : sequence of Entry or dict
        Typed entries, or their JSON objects (read with the kind's `from_dict`).
    protocol, data : dict
    comparisons : object, dict or None, optional
        Tests across the runs (HYPE's ANOVA and Tukey HSD): the kind's
        ``COMPARISONS`` type, or its JSON object.
    """
    types = _entry_types()
    if kind not in types:
        raise ValueError(f"Expected `kind` to be one of {tuple(types)}, got {kind!r}.")
    entries = tuple(e if isinstance(e, Entry) else types[kind].from_dict(e, source=f"{kind} entries", index=i)
                    for i, e in enumerate(runs))
    if isinstance(comparisons, dict):
        comparisons = _comparisons(types[kind], comparisons, entries, f"{kind} comparisons")
    return Results(kind, entries, protocol, data, comparisons=comparisons).to_dict()


def _check_envelope(data: dict[str, Any], protocol: dict[str, Any], source: str) -> None:
    """The fields of ``data`` and ``protocol`` that tables and reports read, of their types.

    They were read as found: a hand-edited ``"left_out": "x"`` or
    ``"confidence": "high"`` ended ``report`` in a traceback.
    """
    where = f"{source}: data"
    for key in ("dataset", "dataset_name", "split", "title"):
        text(data.get(key), where, key)
    frames = data.get("frames")
    if frames is not None and not (isinstance(frames, list) and all(isinstance(f, str) for f in frames)):
        raise InputError(f"{where}: 'frames' must be a list of frame ids, got {str(frames)[:80]}.")
    n_frames = integer(data.get("n_frames"), where, "n_frames")
    if frames is not None and n_frames is not None and n_frames != len(frames):
        raise InputError(f"{where}: 'n_frames' is {n_frames} but 'frames' lists {len(frames)}; {DAMAGED}")
    for name, count in (mapping(data.get("left_out"), where, "left_out") or {}).items():
        integer(count, where, f"left_out {name!r}", nullable=False)
    bootstrap = mapping(protocol.get("bootstrap"), f"{source}: protocol", "bootstrap") or {}
    where = f"{source}: protocol.bootstrap"
    integer(bootstrap.get("resamples"), where, "resamples")
    confidence = number(bootstrap.get("confidence"), where, "confidence")
    if confidence is not None and not 0 < confidence < 1:
        raise InputError(f"{where}: 'confidence' must lie between 0 and 1, got {confidence}.")


def _check_runs_against_data(entries: tuple[Entry, ...], data: dict[str, Any], source: str) -> None:
    """Runs that agree with the document's ``data``: no run scored on more frames than the document's rows
    scored (``n_frames``; ground-truth rows aside), and ``left_out`` naming only runs the document holds (a hand-edited file read as found)."""
    frames = data.get("frames")
    n_frames = data.get("n_frames", len(frames) if isinstance(frames, list) else None)
    for entry in entries:  # not a ground-truth row: fid's covers the whole split, however few frames runs had
        n_images = None if getattr(entry, "is_real", False) else getattr(entry, "n_images", None)
        if n_frames is not None and n_images is not None and n_images > n_frames:
            raise InputError(f"{source}: run {entry.name!r}: 'n_images' is {n_images}, above the document's "
                             f"{n_frames} frames (data 'n_frames': those any row scored); {DAMAGED}")
    names = {e.name for e in entries}
    unknown = sorted(set(data.get("left_out") or {}) - names)
    if unknown:
        raise InputError(f"{source}: data 'left_out' names run(s) {unknown} that its runs do not hold "
                         f"({sorted(names)}); {DAMAGED}")


def _comparisons(entry: type[Entry], value: Any, entries: tuple[Entry, ...], source: str) -> Any:
    """A document's ``comparisons`` read through its kind's type; None when it has none."""
    if value is None:
        return None
    if entry.COMPARISONS is None:
        raise InputError(f"{source}: \"comparisons\" in {entry.KIND} results, which have none; remove it, or read "
                         "the file with the p2p-eval version that wrote it.")
    return entry.COMPARISONS.from_dict(value, entries, source)


def write_results(path: str | os.PathLike, document: dict[str, Any]) -> None:
    """Write a results document atomically (NaN scores become null)."""
    write_json(path, document)


def load_results(path: str | os.PathLike, *, kinds: Sequence[str] | None = None) -> dict[str, Any]:
    """Read and check a results file (`Results.read`); its JSON object, in the current version.

    Raises
    ------
    InputError
        If the file is missing or not JSON, not a p2p-eval results document,
        of a kind not in `kinds` or of a newer schema version, or holds an
        entry that does not read.
    """
    return Results.read(path, kinds=kinds).to_dict()


def _upgrade(document: dict[str, Any], version: int) -> dict[str, Any]:
    """An older document with the fields each later version renamed or added, as version `VERSION`."""
    if version < 2:
        document = _upgrade_v1(document)
    if version < 3:
        document = _upgrade_v2(document)
    return _upgrade_v3(document)


def _upgrade_v3(document: dict[str, Any]) -> dict[str, Any]:
    """A version-3 document with the score version 4 added (README, "Results files").

    A fid entry's ``fid_infinity`` (``p2p-eval fid --infinity``): null, as a
    document of version 4 written without ``--infinity`` has it, since no
    earlier p2p-eval computed it.
    """
    runs = document.get("runs")
    if document.get("kind") == "fid" and isinstance(runs, list):
        runs = [{"fid_infinity": None, **e} if isinstance(e, dict) else e for e in runs]
    return {**document, "version": VERSION, "runs": runs}


def _upgrade_v2(document: dict[str, Any]) -> dict[str, Any]:
    """A version-2 document with the field version 3 renamed (README, "Results files").

    A study entry's ``se`` (standard error over raters) became
    ``se_over_raters``, so that it is not read as the tables' "±" (the
    bootstrap SD, ``bootstrap_sd``).
    """
    runs = document.get("runs")
    if document.get("kind") == "study" and isinstance(runs, list):
        runs = [{("se_over_raters" if k == "se" else k): v for k, v in e.items()} if isinstance(e, dict) else e
                for e in runs]
    return {**document, "version": 3, "runs": runs}


def _upgrade_v1(document: dict[str, Any]) -> dict[str, Any]:
    """A version-1 document with the fields version 2 renamed (README, "Results files").

    ``data.name`` became ``data.dataset_name`` (FCN kinds), a baseline test's
    ``n_images`` became ``n_frames`` (FCN kinds), and a study entry's
    ``interval`` became ``intervals: {"fool_rate": interval}``. A null
    interval (an algorithm nobody rated) is left out, as version 2 writes it.
    """
    data = dict(document.get("data") or {})
    if "name" in data and "dataset_name" not in data:
        data["dataset_name"] = data.pop("name")
    runs = []
    for entry in document.get("runs") or []:
        if isinstance(entry, dict):
            entry = dict(entry)
            test = entry.get("baseline_test")
            if isinstance(test, dict) and "n_images" in test:
                entry["baseline_test"] = {("n_frames" if k == "n_images" else k): v for k, v in test.items()}
            if "interval" in entry and document.get("kind") == "study":
                entry["intervals"] = {"fool_rate": entry.pop("interval")}
            if isinstance(entry.get("intervals"), dict):
                entry["intervals"] = {k: v for k, v in entry["intervals"].items() if v is not None}
        runs.append(entry)
    return {**document, "version": 2, "data": data, "runs": runs}
