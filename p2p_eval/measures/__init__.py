"""The measures: one folder each, one registry line each.

A measure scored by the shared session (`p2p_eval.session`) is a folder
``p2p_eval/measures/<name>/`` holding three modules, by convention:

``entry.py``
    ``ENTRY``: its typed results entry (`p2p_eval.results.RunEntry` subclass),
    declaring its scores once. No heavy imports: reports read it.
``cli.py``
    ``HELP``, ``DESCRIPTION``, ``EPILOG``, ``WITH_REAL``, ``DEFAULT_WORKERS``,
    ``add_arguments(parser)``, ``settings(args, device)`` and, optionally,
    ``write_outputs(args, results) -> list[Path]`` with
    ``output_paths(args) -> [(path, option)]`` (what it will write, checked
    before any work): argparse only, so ``p2p-eval --help`` stays fast.
``measure.py``
    ``MEASURE``: its `p2p_eval.measures.base.Measure` subclass (named
    per-frame states, how one image gives them, how summed states score) and
    its ``Settings`` dataclass.

and a line in `MEASURES` below: the subcommand, the results kind and the
library's ``p2p_eval.score(kind, ...)`` all come from it. A results kind made
elsewhere (the perceptual study and the HYPE scores of per-trial records, in
``study_app``) has only ``entry.py`` and a line in `RESULT_KINDS`. Pure math
stays in `p2p_eval.metrics`.
"""

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the registry itself imports nothing heavy
    from p2p_eval.measures.base import Measure
    from p2p_eval.results.entries import Entry

MEASURES: dict[str, str] = {
    "fcn-score": "p2p_eval.measures.fcn_score",
    "label-score": "p2p_eval.measures.label_score",
    "colorfulness": "p2p_eval.measures.colorfulness",
    "fid": "p2p_eval.measures.fid",
    "lpips": "p2p_eval.measures.lpips",
    "similarity": "p2p_eval.measures.similarity",
}
"""Measures scored by the shared session: results kind (= subcommand) -> package."""

RESULT_KINDS: dict[str, str] = {
    **MEASURES,
    "study": "p2p_eval.measures.study",
    "hype-inf": "p2p_eval.measures.hype_inf",
    "hype-time": "p2p_eval.measures.hype_time",
}
"""Every results kind read and written: kind -> package holding its ``entry.py``."""


def _module(kind: str, part: str, registry: dict[str, str]) -> ModuleType:
    if kind not in registry:
        raise ValueError(f"Expected a measure in {tuple(registry)}, got {kind!r}.")
    return importlib.import_module(f"{registry[kind]}.{part}")


def entry_type(kind: str) -> "type[Entry]":
    """The typed results entry of a kind."""
    return _module(kind, "entry", RESULT_KINDS).ENTRY


def measure_cli(kind: str) -> ModuleType:
    """The argparse side of a measure (its ``cli.py``)."""
    return _module(kind, "cli", MEASURES)


def measure_class(kind: str) -> "type[Measure]":
    """The `Measure` subclass of a kind (its ``measure.py``; may import torch)."""
    return _module(kind, "measure", MEASURES).MEASURE
