"""The shared scoring session: runs, frames, cache, sharding, bootstrap, baseline, tables, results."""

from p2p_eval.session.session import SessionConfig, score, score_runs
from p2p_eval.session.table import format_table, to_csv

__all__ = ["SessionConfig", "format_table", "score", "score_runs", "to_csv"]
