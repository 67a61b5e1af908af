"""A bootstrap interval for the Fréchet distance over images (rows of features).

What it measures: how much the FID would move if the same number of images
had been drawn again from the same distributions, i.e. *sampling variability*.
It says nothing about FID's bias at small N (the expected FID at N images is
above the FID at infinitely many; see `frechet.sample_size_warnings` and
`frechet_infinity`). A bootstrap replicate repeats rows, so it has fewer
distinct images and a *larger* bias than the point estimate: its FIDs sit above
the point estimate by about the estimator's bias (their mean minus the point is
the bootstrap's bias estimate, recorded as ``replicate_mean``). The interval
reported is therefore the replicates' percentile interval moved by that offset,
centred on the point estimate: ``[q_lo - b, q_hi - b]`` with
``b = mean(replicates) - point``; the raw percentiles are kept beside it.

How it is computed: resampling weights ``w`` (row i drawn ``w_i`` times) give
weighted means and covariances. Tr((S_1 S_2)^(1/2)) equals the nuclear norm of
``Y_1 Y_2^T / sqrt((n-1)(m-1))``, with ``Y = diag(sqrt(w)) (X - 1 mu^T)`` the
weighted centred rows, and ``Y_1 Y_2^T`` is a double-centred block of the
cross-product matrix ``X_1 X_2^T``, computed once. So a replicate costs one
SVD of (distinct rows drawn) x (distinct reference rows drawn), not a
d x d eigendecomposition: about 10 ms for 500 paired frames.

Against fixed reference statistics (mean, S), the same trace is the sum of
square roots of the eigenvalues of ``Y S Y^T / (n-1)``, a double-centred block
of ``K = X S X^T`` (`resampled_frechet_distances`): one symmetric
eigendecomposition of (distinct rows drawn)^2 per replicate, and no square
root of S at all (about 5 ms for 500 frames against 2048-d statistics).
"""

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from p2p_eval.metrics.frechet import GaussianStats, check_features, frechet_distance, gaussian_stats
from p2p_eval.resampling import resample_weights, split_half_masks
from p2p_eval.stats import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, Interval, centred_interval, percentile_interval


_WORKERS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
"""Threads computing bootstrap replicates: the cores this process may use."""


@dataclass(frozen=True)
class FrechetBootstrap:
    """Bootstrap of the Fréchet distance over rows.

    Attributes
    ----------
    interval : Interval
        ``value``: the distance on all rows; ``low``/``high``: the centred
        percentile interval (sampling variability around ``value``).
    replicate_mean : float
        Mean of the replicate distances; ``replicate_mean - interval.value``
        is the bootstrap's estimate of the small-N bias.
    percentile : tuple of float
        The uncentred percentile interval of the replicates.
    n_resamples : int
    confidence : float
    paired : bool
        Whether reference row i was drawn together with row i.
    """

    interval: Interval
    replicate_mean: float
    percentile: tuple[float, float]
    n_resamples: int
    confidence: float
    paired: bool


def _weighted_moments(features: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per replicate: weighted mean (B, d) and trace of the weighted unbiased covariance (B,).

    Row b of `weights` draws ``weights[b].sum()`` rows (N for a bootstrap replicate).
    """
    totals = weights.sum(axis=1).astype(np.float64)
    means = weights @ features / totals[:, None]
    sq_norms = np.einsum("ij,ij->i", features, features)
    traces = (weights @ sq_norms - totals * np.einsum("bj,bj->b", means, means)) / (totals - 1)
    return means, traces


def resampled_frechet_distances(features: np.ndarray, reference: GaussianStats, weights: np.ndarray) -> np.ndarray:
    """Fréchet distance of each weighted draw of `features` to fixed reference statistics.

    Parameters
    ----------
    features : (N, d) array_like of float
        One row per image.
    reference : GaussianStats
        Of dimension d, held fixed (e.g. a whole split's real photos).
    weights : (B, N) array_like of int
        How often each row is drawn in each of B draws (a bootstrap replicate,
        `p2p_eval.resampling.resample_weights`, or a 0/1 subset); each row of
        weights must draw at least 2 rows.

    Returns
    -------
    distances : (B,) float64 ndarray
        A row of ones gives the Fréchet distance of all rows (what
        `frechet_distance` gives, up to rounding: both take square roots of
        the same nonzero eigenvalues, here of an N x N matrix).

    Raises
    ------
    ValueError
        If shapes disagree, a draw has fewer than 2 rows, or the features are not finite.

    Examples
    --------
    >>> x = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    >>> ref = GaussianStats(np.zeros(2), np.eye(2), n=10)
    >>> all_rows = resampled_frechet_distances(x, ref, np.ones((1, 3)))[0]
    >>> bool(np.isclose(all_rows, frechet_distance(gaussian_stats(x), ref)))
    True
    """
    features = check_features(features)
    n, d = features.shape
    weights = np.asarray(weights)
    if weights.ndim != 2 or weights.shape[1] != n:
        raise ValueError(f"Expected `weights` of shape (B, {n}), got {weights.shape}.")
    if reference.mean.shape != (d,):
        raise ValueError(f"Expected reference of dimension {d}, got {reference.mean.shape[0]}.")
    if (weights.sum(axis=1) < 2).any():
        raise ValueError("Expected every draw to take at least 2 rows.")
    # FID is unchanged by moving both sets by one vector; centring on the rows' mean keeps K small.
    origin = features.mean(axis=0)
    x = features - origin
    means, traces = _weighted_moments(x, weights)
    kernel = (x @ reference.cov) @ x.T  # K = X S X^T, (N, N)
    ref_mean, ref_trace = reference.mean - origin, float(np.trace(reference.cov))

    def distance(b: int) -> float:
        w = weights[b].astype(np.float64)
        total, rows = w.sum(), w > 0
        k_w = kernel @ w / total  # (X S mu_b)_i for every row i
        block = kernel[np.ix_(rows, rows)] - k_w[rows][:, None] - k_w[rows][None, :] + w @ k_w / total
        scale = np.sqrt(w[rows] / (total - 1))
        eigenvalues = np.linalg.eigvalsh(block * scale[:, None] * scale[None, :])
        # Rank at most min(rows drawn - 1, d): eigenvalues within rounding of 0 are 0, or the
        # square roots of their rounding noise (~sqrt(eps) each) would add up.
        eigenvalues[eigenvalues < eigenvalues[-1] * len(eigenvalues) * np.finfo(np.float64).eps] = 0
        diff = means[b] - ref_mean
        return diff @ diff + traces[b] + ref_trace - 2 * np.sqrt(eigenvalues).sum()

    # Replicates in parallel, each eigenproblem on one BLAS thread: at a few hundred rows,
    # BLAS threads mostly wait on each other (on a busy 2-core machine, 2-15x slower).
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(_WORKERS) as pool:
        return np.array(list(pool.map(distance, range(len(weights)))), dtype=np.float64)


def _trace_sqrt(cross: np.ndarray, w_rows: np.ndarray, w_cols: np.ndarray) -> float:
    """Nuclear norm of the weighted centred cross products X_1 X_2^T (see the module docstring)."""
    n, m = w_rows.sum(), w_cols.sum()
    rows, cols = w_rows > 0, w_cols > 0
    block = cross[rows]
    block = block - (w_rows @ cross)[None, :] / n  # centre the rows by the replicate's mean
    block = block[:, cols] - (block @ w_cols / m)[:, None]
    block = block * np.sqrt(w_cols[cols] / (m - 1))[None, :]
    block = block * np.sqrt(w_rows[rows] / (n - 1))[:, None]
    return float(np.linalg.svd(block, compute_uv=False).sum())


def frechet_bootstrap(
    features: np.ndarray,
    reference: np.ndarray | GaussianStats,
    *,
    paired: bool = False,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> FrechetBootstrap:
    """Fréchet distance of `features` to `reference`, with a bootstrap interval over rows.

    Parameters
    ----------
    features : (N, d) array_like of float
        One row per generated image.
    reference : (M, d) array_like of float, or GaussianStats
        Real images' features, resampled too: with the same draws as `features`
        when `paired` (row i of both is the same frame, M == N), independently
        otherwise. Statistics (e.g. cached for a whole dataset) are held fixed.
    paired : bool, optional
    n_resamples, seed, confidence
        Bootstrap replicates, RNG seed (for `p2p_eval.resampling.resample_weights`) and coverage.

    Returns
    -------
    FrechetBootstrap

    Raises
    ------
    ValueError
        If shapes disagree, `paired` is asked for with statistics or unequal N,
        or the features are not finite.

    Notes
    -----
    Memory: the N x M (or N x N for fixed statistics) cross-product matrix
    in float64. Time per replicate: one SVD of about (0.63 N) x (0.63 M) (for
    fixed statistics, one symmetric eigendecomposition of about (0.63 N)^2).
    """
    features = check_features(features)
    n, d = features.shape
    if isinstance(reference, GaussianStats):
        if paired:
            raise ValueError("Expected reference features (M, d) when `paired`, got GaussianStats.")
        ref_stats = reference
    else:
        reference = check_features(reference, "reference")
        if paired and reference.shape[0] != n:
            raise ValueError(f"Expected paired features of equal N, got {n} and {reference.shape[0]}.")
        ref_stats = gaussian_stats(reference)
    if ref_stats.mean.shape != (d,):
        raise ValueError(f"Expected reference of dimension {d}, got {ref_stats.mean.shape[0]}.")
    point = frechet_distance(gaussian_stats(features), ref_stats)
    weights = resample_weights(n, n_resamples, seed)
    if isinstance(reference, GaussianStats):
        replicates = resampled_frechet_distances(features, reference, weights)
    else:
        # FID is unchanged by moving both sets by one vector; centring both on the
        # generated mean keeps the cross products small and well conditioned.
        origin = features.mean(axis=0)
        x, y = features - origin, reference - origin
        ref_weights = weights if paired else resample_weights(len(y), n_resamples, seed + 1)
        means, traces = _weighted_moments(x, weights)
        ref_means, ref_traces = _weighted_moments(y, ref_weights)
        cross = x @ y.T
        replicates = np.empty(n_resamples)
        for b in range(n_resamples):
            diff = means[b] - ref_means[b]
            tr_sqrt = _trace_sqrt(cross, weights[b].astype(np.float64), ref_weights[b].astype(np.float64))
            replicates[b] = diff @ diff + traces[b] + ref_traces[b] - 2 * tr_sqrt
    low, high = percentile_interval(replicates, confidence)
    centred = Interval(point, *centred_interval(replicates, point, confidence))
    return FrechetBootstrap(centred, float(replicates.mean()), (low, high), n_resamples, confidence, paired)


def split_half_frechet(features: np.ndarray, *, n_splits: int, seed: int = 0) -> np.ndarray:
    """Fréchet distance between two random halves of the rows, for each of `n_splits` splits.

    The distance a set has to itself at half its size: not 0, but FID's
    small-N bias at N/2 plus the two halves' sampling difference
    (`p2p_eval.resampling.split_half_masks` draws the halves). Not a floor for FIDs
    of N rows against this whole set: they carry less small-N bias.

    Parameters
    ----------
    features : (N, d) array_like of float
        N >= 4 (each half needs 2 rows).
    n_splits, seed : int

    Returns
    -------
    distances : (n_splits,) float64 ndarray

    Raises
    ------
    ValueError
        If N < 4 or the features are not finite.
    """
    features = check_features(features)
    n = features.shape[0]
    if n < 4:
        raise ValueError(f"Expected at least 4 rows to split into halves of 2 or more, got {n}.")
    first = split_half_masks(n, n_splits, seed).astype(np.int64)
    x = features - features.mean(axis=0)
    means_a, traces_a = _weighted_moments(x, first)
    means_b, traces_b = _weighted_moments(x, 1 - first)
    cross = x @ x.T
    distances = np.empty(n_splits)
    for b in range(n_splits):
        diff = means_a[b] - means_b[b]
        tr_sqrt = _trace_sqrt(cross, first[b].astype(np.float64), 1.0 - first[b])
        distances[b] = diff @ diff + traces_a[b] + traces_b[b] - 2 * tr_sqrt
    return distances
