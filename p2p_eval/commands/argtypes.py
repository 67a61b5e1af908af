"""argparse value types shared by the subcommands."""

import argparse

from p2p_eval.stats import MAX_RESAMPLES, MIN_RESAMPLES, SEED_LIMIT


def positive_int(text: str) -> int:
    """An integer >= 1 (``--workers``, ``--epochs``, ``--resamples`` ...)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A number > 0 (``--lr`` ...)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value




def seed(text: str) -> int:
    """A random seed: a whole number in [0, 2**32) (``--seed``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number in [0, {SEED_LIMIT}), got {text!r}") from None
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"expected a whole number in [0, {SEED_LIMIT}), got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (``--workers``, where 0 means "in the main thread")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def resamples(text: str) -> int:
    """Bootstrap resamples: a whole number in [`p2p_eval.stats.MIN_RESAMPLES`, `p2p_eval.stats.MAX_RESAMPLES`]
    (``--resamples``), refused before any work."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < MIN_RESAMPLES:
        raise argparse.ArgumentTypeError(
            f"expected a whole number >= {MIN_RESAMPLES}, got {text!r}: with fewer resamples the 2.5% and 97.5% "
            "percentiles rest on one or two replicates, and the interval may not even contain the estimate")
    if value > MAX_RESAMPLES:
        raise argparse.ArgumentTypeError(
            f"expected at most {MAX_RESAMPLES} resamples, got {text!r}: more do not make an interval more exact "
            "than its sampling error allows, and every replicate's scores are kept in memory")
    return value
