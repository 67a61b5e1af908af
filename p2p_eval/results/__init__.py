"""Results documents, their typed entries and the scores entries declare (`document`, `entries`, `scores`)."""

from p2p_eval.results.document import (
    SCHEMA, VERSION, Results, load_results, provenance, results_document, write_results,
)
from p2p_eval.results.entries import Entry, RunEntry
from p2p_eval.results.scores import BaselineTest, Score, Spread

__all__ = [
    "SCHEMA", "VERSION", "BaselineTest", "Entry", "Results", "RunEntry", "Score", "Spread",
    "load_results", "provenance", "results_document", "write_results",
]
