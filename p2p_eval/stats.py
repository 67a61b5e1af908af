"""Bootstrap intervals and tests shared by every measure.

The settings (`Bootstrap`), percentile and centred intervals, paired tests
against a baseline and the study's two-level bootstrap. The replicates they
are made from are item weights (`p2p_eval.resampling`).
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from p2p_eval.resampling import WeightScorer, resample_weight_chunks, scored_in_chunks

DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95
MIN_RESAMPLES = 100
"""Fewest resamples `Bootstrap` takes: with fewer, a 95% percentile interval's ends rest on one
or two replicates (``--resamples 1`` gave an interval that did not contain the estimate)."""
MAX_RESAMPLES = 100_000
"""Most resamples `Bootstrap` takes: the Monte Carlo error of a 95% interval's ends is already far below
the interval's width at 10,000, and every replicate's scores are kept (``--resamples 1000000`` ran out of
memory after hours of scoring)."""
SEED_LIMIT = 2**32
"""Seeds are whole numbers in [0, 2**32): what numpy's and torch's generators all accept."""


@dataclass(frozen=True)
class Bootstrap:
    """Bootstrap settings, validated once and recorded in every results file."""

    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0
    confidence: float = DEFAULT_CONFIDENCE

    def __post_init__(self):
        if not MIN_RESAMPLES <= self.resamples <= MAX_RESAMPLES:
            raise ValueError(f"Expected `resamples` in [{MIN_RESAMPLES}, {MAX_RESAMPLES}], got {self.resamples}.")
        if not 0 <= self.seed < SEED_LIMIT:
            raise ValueError(f"Expected `seed` in [0, 2**32), got {self.seed}.")
        if not 0 < self.confidence < 1:
            raise ValueError(f"Expected `confidence` in (0, 1), got {self.confidence}.")


def confidence_percent(confidence: float) -> str:
    """A confidence level as every table, note and report prints it: ``0.975 -> "97.5%"``.

    Examples
    --------
    >>> confidence_percent(0.975), confidence_percent(0.95)
    ('97.5%', '95%')
    """
    return f"{confidence * 100:g}%"


def percentile_interval(samples: np.ndarray, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """Percentile interval of bootstrap samples, ignoring NaN replicates."""
    if not 0 < confidence < 1:
        raise ValueError(f"Expected `confidence` in (0, 1), got {confidence}.")
    samples = np.asarray(samples, dtype=np.float64)
    samples = samples[~np.isnan(samples)]
    if samples.size == 0:
        return (float("nan"), float("nan"))
    low, high = np.percentile(samples, percentile_ends(confidence))
    return (float(low), float(high))


def percentile_ends(confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """The percentiles a `percentile_interval` at `confidence` lies between.

    Examples
    --------
    >>> "{:g}-{:g}".format(*percentile_ends(0.95)), "{:g}-{:g}".format(*percentile_ends(0.9))
    ('2.5-97.5', '5-95')
    """
    tail = (1 - confidence) / 2 * 100
    return (tail, 100 - tail)


def centred_interval(
    samples: np.ndarray, point: float, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float]:
    """Percentile interval of biased replicates, moved so that their mean sits on the point estimate.

    For a score whose bootstrap replicates are biased relative to the point
    estimate (FID: a replicate repeats frames, so it has fewer distinct images
    and a larger small-N bias), the raw percentile interval may not even hold
    the point. Moving it by the bootstrap's bias estimate,
    ``b = mean(samples) - point``, gives ``[q_lo - b, q_hi - b]``: the spread of
    the replicates around the point (sampling variability), not their bias.
    NaN replicates are ignored.

    Examples
    --------
    >>> centred_interval(np.array([11.0, 12.0, 13.0]), 10.0, confidence=0.5)
    (9.5, 10.5)
    """
    samples = np.asarray(samples, dtype=np.float64)
    finite = samples[~np.isnan(samples)]
    low, high = percentile_interval(finite, confidence)
    if finite.size == 0 or np.isnan(point):
        return (float("nan"), float("nan"))
    shift = float(finite.mean()) - point
    return (low - shift, high - shift)


def two_sided_p(differences: np.ndarray) -> float:
    """Two-sided bootstrap p-value that a difference is zero.

    Twice the smaller share of replicates on either side of zero, with the
    ``(count + 1) / (B + 1)`` correction so a finite bootstrap never claims
    p = 0; capped at 1.
    """
    differences = np.asarray(differences, dtype=np.float64)
    differences = differences[~np.isnan(differences)]
    if differences.size == 0:
        return float("nan")
    below = (np.count_nonzero(differences <= 0) + 1) / (differences.size + 1)
    above = (np.count_nonzero(differences >= 0) + 1) / (differences.size + 1)
    return float(min(1.0, 2 * min(below, above)))


@dataclass(frozen=True)
class Interval:
    """A score with its bootstrap interval."""

    value: float
    low: float
    high: float

    def as_list(self) -> list[float]:
        return [self.low, self.high]


@dataclass(frozen=True)
class PairedTest:
    """Bootstrap comparison of a score against a baseline on the same items."""

    difference: float  # score(run) - score(baseline) on all items
    low: float
    high: float
    p_value: float  # two-sided, see `two_sided_p`

    def as_dict(self) -> dict[str, float]:
        return {"difference": self.difference, "interval": [self.low, self.high], "p_value": self.p_value}


def bootstrap_scores(
    scorer: WeightScorer,
    n_items: int,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
    centred: Collection[str] = (),
) -> dict[str, Interval]:
    """Scores of all items with percentile intervals from resampling items.

    Parameters
    ----------
    scorer : callable
        (B, N) weights -> {name: (B,) scores}, see `WeightScorer`. For
        additive per-item state ``x``: ``lambda w: score(resampled_sums(x, w))``.
    n_items : int
        N, the items (frames) resampled.
    n_resamples, seed, confidence
        Bootstrap replicates, RNG seed and interval coverage.
    centred : collection of str, optional
        Scores whose replicates are biased (FID): their interval is
        `centred_interval`, the others' `percentile_interval`.

    Returns
    -------
    intervals : dict of str to Interval
        Point value from all items (weights all 1); interval from the replicates.
    """
    point = scorer(np.ones((1, n_items), dtype=np.int64))
    replicates = scored_in_chunks(scorer, resample_weight_chunks(n_items, n_resamples, seed))
    intervals = {}
    for name in point:
        value = float(point[name][0])
        bounds = (centred_interval(replicates[name], value, confidence) if name in centred
                  else percentile_interval(replicates[name], confidence))
        intervals[name] = Interval(value, *bounds)
    return intervals


def paired_bootstrap_test(
    scorer: WeightScorer,
    baseline_scorer: WeightScorer,
    n_items: int,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
    centred: Collection[str] = (),
) -> dict[str, PairedTest]:
    """Paired bootstrap of score differences: the same items drawn for both.

    Item i of `scorer` and of `baseline_scorer` must be the same frame; both
    are scored under the same weights in every replicate. For the `centred`
    scores (biased replicates, see `centred_interval`) the replicate
    differences are first moved so that their mean is the observed
    difference; the interval and the p-value are taken from the moved ones.
    """
    ones = np.ones((1, n_items), dtype=np.int64)
    point_a, point_b = scorer(ones), baseline_scorer(ones)

    def differences(weights: np.ndarray) -> dict[str, np.ndarray]:  # both sides under the same weights
        boot_a, boot_b = scorer(weights), baseline_scorer(weights)
        return {name: boot_a[name] - boot_b[name] for name in boot_a}

    replicates = scored_in_chunks(differences, resample_weight_chunks(n_items, n_resamples, seed))
    tests = {}
    for name in point_a:
        difference = float(point_a[name][0] - point_b[name][0])
        diff = replicates[name]
        if name in centred and not np.isnan(diff).all():
            diff = diff - (np.nanmean(diff) - difference)
        tests[name] = PairedTest(difference, *percentile_interval(diff, confidence), two_sided_p(diff))
    return tests


def two_level_bootstrap(
    successes: Sequence[int] | np.ndarray,
    trials: Sequence[int] | np.ndarray,
    *,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> np.ndarray:
    """Bootstrap replicates of a pooled rate: resample raters, then their trials.

    The two-level scheme of the released pix2pix study code: raters are drawn
    with replacement, then each drawn rater's trials are drawn with replacement.
    Redrawing the n trials of a rater whose observed rate is k/n is a
    Binomial(n, k/n) draw, which is how it is computed here (exactly the same
    distribution, without a loop over trials).

    Parameters
    ----------
    successes : (R,) array_like of int
        Per rater, the trials counted (e.g. fooled).
    trials : (R,) array_like of int
        Per rater, the trials answered.

    Returns
    -------
    rates : (n_resamples,) float64 ndarray
        Pooled rate (sum of successes / sum of trials) of each replicate.
    """
    successes = np.asarray(successes, dtype=np.int64)
    trials = np.asarray(trials, dtype=np.int64)
    if successes.shape != trials.shape or successes.ndim != 1 or successes.size == 0:
        raise ValueError(
            f"Expected equal-length 1-d `successes` and `trials`, got {successes.shape} and {trials.shape}."
        )
    if (trials < 1).any() or (successes < 0).any() or (successes > trials).any():
        raise ValueError("Expected 0 <= successes <= trials and trials >= 1 for every rater.")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(trials), size=(n_resamples, len(trials)))
    drawn = rng.binomial(trials[picks], successes[picks] / trials[picks])
    return drawn.sum(axis=1) / trials[picks].sum(axis=1)
