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
"""

from dataclasses import dataclass

import numpy as np

from p2p_eval.metrics.frechet import GaussianStats, check_features, frechet_distance, gaussian_stats, psd_sqrt
from p2p_eval.stats import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    Interval,
    percentile_interval,
    resample_weights,
)


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
    """Per replicate: weighted mean (B, d) and trace of the weighted unbiased covariance (B,)."""
    n = features.shape[0]
    means = weights @ features / n
    sq_norms = np.einsum("ij,ij->i", features, features)
    traces = (weights @ sq_norms - n * np.einsum("bj,bj->b", means, means)) / (n - 1)
    return means, traces


def _trace_sqrt(cross: np.ndarray, w_rows: np.ndarray, w_cols: np.ndarray | None) -> float:
    """Nuclear norm of the weighted centred cross products (see the module docstring).

    `cross` is X_1 X_2^T; with `w_cols` None its columns are a fixed
    reference root (not centred, not weighted).
    """
    n = w_rows.sum()
    rows = w_rows > 0
    block = cross[rows]
    block = block - (w_rows @ cross)[None, :] / n  # centre the rows by the replicate's mean
    if w_cols is not None:
        m = w_cols.sum()
        cols = w_cols > 0
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
        Bootstrap replicates, RNG seed (for `p2p_eval.stats.resample_weights`) and coverage.

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
    Memory: the N x M (or N x d) cross-product matrix in float64. Time per
    replicate: one SVD of about (0.63 N) x (0.63 M) (or x d for fixed
    statistics).
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

    # FID is unchanged by moving both sets by one vector; centring both on the
    # generated mean keeps the cross products small and well conditioned.
    origin = features.mean(axis=0)
    x = features - origin
    weights = resample_weights(n, n_resamples, seed)
    means, traces = _weighted_moments(x, weights)
    if isinstance(reference, GaussianStats):
        ref_weights = None
        ref_means = np.broadcast_to(reference.mean - origin, means.shape)
        ref_traces = np.full(n_resamples, np.trace(reference.cov))
        cross = x @ psd_sqrt(reference.cov)  # S_ref = R R^T with R symmetric
    else:
        y = reference - origin
        ref_weights = weights if paired else resample_weights(len(y), n_resamples, seed + 1)
        ref_means, ref_traces = _weighted_moments(y, ref_weights)
        cross = x @ y.T
    replicates = np.empty(n_resamples)
    for b in range(n_resamples):
        diff = means[b] - ref_means[b]
        ref_w = None if ref_weights is None else ref_weights[b].astype(np.float64)
        tr_sqrt = _trace_sqrt(cross, weights[b].astype(np.float64), ref_w)
        replicates[b] = diff @ diff + traces[b] + ref_traces[b] - 2 * tr_sqrt
    low, high = percentile_interval(replicates, confidence)
    shift = float(replicates.mean()) - point
    centred = Interval(point, low - shift, high - shift)
    return FrechetBootstrap(centred, float(replicates.mean()), (low, high), n_resamples, confidence, paired)
