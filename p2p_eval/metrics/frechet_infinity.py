"""FID-infinity: the Fréchet distance extrapolated to infinitely many images.

Chong & Forsyth ("Effectively Unbiased FID and Inception Score and where to
find them", CVPR 2020) show that FID_N is close to linear in 1/N, and estimate
the bias-free value as the intercept of a least-squares line through FID_N at
several N. This follows their ``calculate_FID_infinity_path``
(mchong6/FID_IS_infinity, ``score_infinity.py``)::

    fid_batches = np.linspace(min_fake, num_fake, num_points).astype('int32')
    ...
        np.random.shuffle(fake_act)
        fid_activations = fake_act[:fid_batch_size]
    ...
    reg = LinearRegression().fit(1/fid_batches.reshape(-1, 1), fids)
    fid_infinity = reg.predict(np.array([[0]]))[0,0]

with their defaults (``min_fake=5000``, ``num_points=15``), the reference
statistics held fixed, and a seeded generator instead of the global one.
"""

from dataclasses import dataclass

import numpy as np

from p2p_eval.metrics.frechet import GaussianStats, check_features, frechet_distance, gaussian_stats

MIN_SIZE = 5000
NUM_POINTS = 15


@dataclass(frozen=True)
class FrechetInfinity:
    """The extrapolated distance and the points it was fitted to.

    Attributes
    ----------
    value : float
        Intercept of the fitted line at 1/N = 0 (FID-infinity).
    slope : float
        Fitted slope against 1/N (how strongly FID depends on N here).
    sizes : (P,) int64 ndarray
        Numbers of images the distances were computed at.
    distances : (P,) float64 ndarray
        FID_N at each size.
    """

    value: float
    slope: float
    sizes: np.ndarray
    distances: np.ndarray


def frechet_infinity(
    features: np.ndarray,
    reference: np.ndarray | GaussianStats,
    *,
    min_size: int = MIN_SIZE,
    num_points: int = NUM_POINTS,
    seed: int = 0,
) -> FrechetInfinity:
    """FID-infinity of `features` against fixed reference statistics.

    Parameters
    ----------
    features : (N, d) array_like of float
        Generated images' features, N > `min_size`.
    reference : (M, d) array_like of float, or GaussianStats
        Real images' features or statistics (not subsampled).
    min_size : int, optional
        Smallest N of the fit (Chong & Forsyth use 5,000 for 2048-d features;
        a smaller one leaves the range where FID_N is linear in 1/N).
    num_points : int, optional
        Sizes evenly spaced from `min_size` to N.
    seed : int, optional
        Seeds the random subsets (each size draws its own, without replacement).

    Returns
    -------
    FrechetInfinity

    Raises
    ------
    ValueError
        If N <= `min_size`, `num_points` < 2 or `min_size` < 2.
    """
    features = check_features(features)
    n = features.shape[0]
    if min_size < 2 or num_points < 2:
        raise ValueError(f"Expected `min_size` >= 2 and `num_points` >= 2, got {min_size} and {num_points}.")
    if n <= min_size:
        raise ValueError(
            f"Expected more than `min_size` = {min_size} feature rows to extrapolate from, got {n}; "
            "lower `min_size` only knowing that FID_N may not be linear in 1/N there."
        )
    ref_stats = reference if isinstance(reference, GaussianStats) else gaussian_stats(reference)
    sizes = np.linspace(min_size, n, num_points).astype(np.int64)
    rng = np.random.default_rng(seed)
    distances = np.array(
        [frechet_distance(gaussian_stats(features[rng.permutation(n)[:size]]), ref_stats) for size in sizes]
    )
    value, slope = fit_infinity(sizes, distances)
    return FrechetInfinity(value, slope, sizes, distances)


def fit_infinity(sizes: np.ndarray, distances: np.ndarray) -> tuple[float, float]:
    """Intercept at 1/N = 0 and slope of the least-squares line through `distances` against 1/`sizes`.

    Parameters
    ----------
    sizes : (P,) array_like of int
    distances : (P,) array_like of float

    Returns
    -------
    value, slope : float

    Examples
    --------
    >>> value, slope = fit_infinity([10, 20, 40], [13.0, 11.5, 10.75])  # 10 + 30 / N
    >>> round(value, 9), round(slope, 9)
    (10.0, 30.0)
    """
    slope, intercept = np.polyfit(1.0 / np.asarray(sizes, dtype=np.float64), np.asarray(distances, np.float64), 1)
    return float(intercept), float(slope)
