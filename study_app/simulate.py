"""Simulated raters: fool/error counts, and HYPE-time staircases run against psychometric functions.

Used by the planner (`study_app.plan`) and the tests. Raters differ: a
rater's own fool (or error) rate is drawn from a Beta distribution with the
given mean and between-rater SD; a HYPE-time rater has a threshold drawn from
a normal distribution and answers by a Weibull psychometric function that
reaches the staircase's convergence probability exactly at that threshold, so
the threshold is the exposure the staircase should settle at.
"""

import numpy as np

from study_app.hype import modal_exposure
from study_app.staircase import HYPE_TIME, Staircase, convergence_probability, frame_exposure, staircase_step


def rater_rates(rng: np.random.Generator, mean: float, rater_sd: float, size: tuple[int, ...]) -> np.ndarray:
    """Per-rater rates, Beta-distributed with this mean and SD (all equal when `rater_sd` is 0).

    Raises
    ------
    ValueError
        If `mean` is outside [0, 1] or `rater_sd` is negative or too large for
        a Beta distribution (``rater_sd**2 >= mean * (1 - mean)``).
    """
    if not 0 <= mean <= 1:
        raise ValueError(f"Expected a rate in [0, 1], got {mean}.")
    if rater_sd < 0 or (rater_sd > 0 and rater_sd**2 >= mean * (1 - mean)):
        raise ValueError(f"Expected a between-rater SD in [0, sqrt(mean * (1 - mean)) = "
                         f"{np.sqrt(mean * (1 - mean)):.3f}), got {rater_sd} for mean {mean}.")
    if rater_sd == 0 or mean in (0, 1):
        return np.full(size, float(mean))
    concentration = mean * (1 - mean) / rater_sd**2 - 1
    return rng.beta(mean * concentration, (1 - mean) * concentration, size=size)


def simulate_counts(
    rng: np.random.Generator, mean: float, rater_sd: float, *, n_raters: int, n_trials: int, n_studies: int
) -> np.ndarray:
    """Fooled (or wrong) trials per rater in simulated studies.

    Returns
    -------
    counts : (n_studies, n_raters) int64 ndarray
        Each in [0, n_trials].
    """
    rates = rater_rates(rng, mean, rater_sd, (n_studies, n_raters))
    return rng.binomial(n_trials, rates).astype(np.int64)


def psychometric_correct(
    exposure_ms: np.ndarray, threshold_ms: np.ndarray, slope: float, rule: Staircase = HYPE_TIME
) -> np.ndarray:
    """P(right answer) of a rater with this threshold: Weibull from chance (0.5) up to 1.

    ``0.5 + 0.5 * (1 - exp(-(t / scale) ** slope))``, with ``scale`` chosen so
    that P(threshold) = `staircase.convergence_probability` (0.63 for HYPE-time).
    """
    target = convergence_probability(rule)
    scale = np.asarray(threshold_ms, float) / (-np.log(2 - 2 * target)) ** (1 / slope)
    return 0.5 + 0.5 * (1 - np.exp(-((np.asarray(exposure_ms, float) / scale) ** slope)))


def run_staircases(
    rng: np.random.Generator, thresholds_ms: np.ndarray, *, n_trials: int, slope: float,
    frame_ms: float | None = None, rule: Staircase = HYPE_TIME,
) -> tuple[np.ndarray, np.ndarray]:
    """One staircase block per threshold, all at once, through `staircase.staircase_step`.

    Returns
    -------
    shown_ms : (..., n_trials) float ndarray
        The requested (frame-rounded) exposure of every trial.
    correct : (..., n_trials) bool ndarray
    """
    thresholds = np.asarray(thresholds_ms, float)
    level, streak = np.full(thresholds.shape, rule.start_ms), np.zeros(thresholds.shape, np.int64)
    shown = np.empty(thresholds.shape + (n_trials,))
    correct = np.empty(thresholds.shape + (n_trials,), dtype=bool)
    for i in range(n_trials):
        shown[..., i] = frame_exposure(level, frame_ms, rule)[1]
        correct[..., i] = rng.random(thresholds.shape) < psychometric_correct(shown[..., i], thresholds, slope, rule)
        level, streak = staircase_step(level, streak, correct[..., i], rule)
    return shown, correct


def simulate_hype_time(
    rng: np.random.Generator, mean_ms: float, rater_sd_ms: float, *, n_raters: int, n_studies: int,
    n_blocks: int = 3, n_trials: int = 150, slope: float = 3.0, frame_ms: float | None = None,
    rule: Staircase = HYPE_TIME,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """HYPE-time scores of simulated raters, each block a fresh staircase from ``rule.start_ms``.

    Returns
    -------
    scores_ms : (n_studies, n_raters) float ndarray
        Per rater, the mean over blocks of `hype.modal_exposure`: what the
        analysis computes from the same trials.
    thresholds_ms : (n_studies, n_raters) float ndarray
        The raters' true thresholds (normal, kept within the staircase's bounds).
    n_correct : (n_studies, n_raters) int ndarray
        Right answers per rater over all blocks (for pay per correct answer).
    """
    thresholds = np.clip(rng.normal(mean_ms, rater_sd_ms, size=(n_studies, n_raters)), rule.min_ms, rule.max_ms)
    blocks = np.repeat(thresholds[..., None], n_blocks, axis=-1)
    shown, correct = run_staircases(rng, blocks, n_trials=n_trials, slope=slope, frame_ms=frame_ms, rule=rule)
    modes = np.apply_along_axis(modal_exposure, -1, shown)
    return modes.mean(axis=-1), thresholds, correct.sum(axis=(-1, -2))
