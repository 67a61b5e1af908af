"""Spread and comparisons of study scores: the bootstrap side and the classical tests.

The bootstrap side follows the study code behind the pix2pix paper,
phillipi/AMT_Real_vs_Fake ``process_csv.py``, which prints each method's
fool rate "+/-" the standard deviation of its bootstrap distribution and, for
every two methods, the share of replicates in which one beats the other with
ties counted half::

    fool_stds = np.std(bootstrap_fools, axis=0)                        # line 126
    betters[mm,nn] = np.mean(bootstrap_fools[:,mm] > bootstrap_fools[:,nn]) \\
        + .5*np.mean(bootstrap_fools[:,mm]==bootstrap_fools[:,nn])     # line 135

The classical side is HYPE's (Zhou, Gordon et al., NeurIPS 2019): a one-way
ANOVA with Tukey's HSD across models, an unpaired t-test for two, on per-rater
scores, taken from scipy rather than written here.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from p2p_eval.stats import DEFAULT_CONFIDENCE, percentile_interval, two_sided_p


def bootstrap_sd(replicates: np.ndarray) -> float | None:
    """Standard deviation of bootstrap replicates, as process_csv.py line 126.

    ``np.std`` with its default ``ddof=0``, NaN replicates ignored; None when
    there are none.

    Examples
    --------
    >>> bootstrap_sd(np.array([0.0, 1.0]))
    0.5
    """
    replicates = np.asarray(replicates, dtype=np.float64)
    replicates = replicates[~np.isnan(replicates)]
    return float(np.std(replicates)) if replicates.size else None


def p_greater(replicates_a: np.ndarray, replicates_b: np.ndarray) -> float:
    """Bootstrap probability that score A exceeds score B, ties counted half (process_csv.py line 135).

    Examples
    --------
    >>> p_greater(np.array([1.0, 0.0, 0.5]), np.array([0.0, 0.0, 1.0]))
    0.5
    """
    a, b = np.asarray(replicates_a, dtype=np.float64), np.asarray(replicates_b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"Expected replicates of equal shape, got {a.shape} and {b.shape}.")
    return float(np.mean(a > b) + 0.5 * np.mean(a == b))


def pairwise_bootstrap(
    replicates: Mapping[str, tuple[float, np.ndarray]], confidence: float = DEFAULT_CONFIDENCE
) -> dict[str, list[dict[str, Any]]]:
    """Every ordered pair of algorithms compared through their bootstrap replicates.

    Parameters
    ----------
    replicates : mapping of str to (float, (B,) ndarray)
        Per algorithm, in table order: the point score and its bootstrap
        replicates. Algorithms are rated by different raters, so their
        replicates are independent and are paired by index.
    confidence : float, optional

    Returns
    -------
    pairwise : dict of str to list of dict
        Per algorithm, one ``{"other", "difference", "interval", "p_value",
        "p_greater"}`` per other algorithm: point difference (this - other),
        percentile interval of the replicate differences, two-sided bootstrap p
        (`p2p_eval.stats.two_sided_p`) and `p_greater`.
    """
    pairwise: dict[str, list[dict[str, Any]]] = {name: [] for name in replicates}
    for name, (point, boot) in replicates.items():
        for other, (other_point, other_boot) in replicates.items():
            if other == name:
                continue
            diff = boot - other_boot
            pairwise[name].append({
                "other": other, "difference": point - other_point,
                "interval": list(percentile_interval(diff, confidence)), "p_value": two_sided_p(diff),
                "p_greater": p_greater(boot, other_boot),
            })
    return pairwise


def classical_tests(
    per_rater: Mapping[str, Sequence[float] | np.ndarray], confidence: float = DEFAULT_CONFIDENCE
) -> dict[str, Any]:
    """HYPE's between-model tests on per-rater scores.

    Parameters
    ----------
    per_rater : mapping of str to (R_i,) array_like of float
        Per model, one score per rater (error rate, or HYPE-time in ms).
        Models with fewer than two raters cannot enter and are listed in
        ``"left_out"``.
    confidence : float, optional
        Family-wise coverage of the Tukey intervals.

    Returns
    -------
    tests : dict
        ``"models"`` (those tested), ``"left_out"``; with three or more models
        ``"anova"`` (``scipy.stats.f_oneway``: ``statistic``, ``p_value``,
        ``df`` [between, within]) and ``"tukey_hsd"`` (``scipy.stats.tukey_hsd``:
        one ``{"a", "b", "difference", "interval", "p_value"}`` per pair, a - b);
        with exactly two, ``"t_test"`` (``scipy.stats.ttest_ind``, Student's
        unpaired test with pooled variance: ``statistic``, ``p_value``, ``df``).
        Tests that do not apply are null.
    """
    from scipy import stats as scipy_stats  # here, not at import: `p2p-eval --help` stays quick

    groups = {name: np.asarray(scores, dtype=np.float64) for name, scores in per_rater.items()}
    tested = [name for name, scores in groups.items() if scores.size >= 2]
    result: dict[str, Any] = {"models": tested, "left_out": [n for n in groups if n not in tested],
                              "anova": None, "tukey_hsd": None, "t_test": None}
    samples = [groups[name] for name in tested]
    n_total = sum(s.size for s in samples)
    if len(tested) >= 3:
        anova = scipy_stats.f_oneway(*samples)
        result["anova"] = {"statistic": _finite(anova.statistic), "p_value": _finite(anova.pvalue),
                           "df": [len(tested) - 1, n_total - len(tested)]}
        tukey = scipy_stats.tukey_hsd(*samples)
        bounds = tukey.confidence_interval(confidence_level=confidence)
        result["tukey_hsd"] = [
            {"a": tested[i], "b": tested[j], "difference": float(tukey.statistic[i, j]),
             "interval": [_finite(bounds.low[i, j]), _finite(bounds.high[i, j])],
             "p_value": _finite(tukey.pvalue[i, j])}
            for i in range(len(tested)) for j in range(i + 1, len(tested))
        ]
    elif len(tested) == 2:
        t_test = scipy_stats.ttest_ind(*samples, equal_var=True)
        result["t_test"] = {"a": tested[0], "b": tested[1], "statistic": _finite(t_test.statistic),
                            "p_value": _finite(t_test.pvalue), "df": n_total - 2}
    return result


def _finite(value: float) -> float | None:
    """A test statistic as float; None where scipy gives NaN (e.g. zero variance in every group)."""
    value = float(value)
    return value if np.isfinite(value) else None
