"""Subcommand registration for `p2p_eval.cli` (argparse only; no heavy imports)."""
