"""Results documents and their typed entries (`document`, `entries`)."""

from p2p_eval.results.document import (
    SCHEMA, VERSION, Results, load_results, provenance, results_document, write_results,
)
from p2p_eval.results.entries import BaselineTest, Entry, RunEntry, Score, Spread

__all__ = [
    "SCHEMA", "VERSION", "BaselineTest", "Entry", "Results", "RunEntry", "Score", "Spread",
    "load_results", "provenance", "results_document", "write_results",
]
