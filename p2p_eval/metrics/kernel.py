"""Kernel distance between feature sets (KID: Bińkowski et al., ICLR 2018).

The unbiased estimate of the squared maximum mean discrepancy with the cubic
polynomial kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets
of both sets; the standard deviation over subsets is reported beside it. This
follows torch-fidelity's ``kid_features_to_metric`` and ``mmd2`` (metric_kid.py,
adapted there from MMD-GAN's ``compute_scores.py``) term for term, and draws
the subsets the same way (``np.random.RandomState(seed)``; per subset, rows of
the first set then of the second, ``choice(n, subset_size, replace=False)``),
so the same seed gives torch-fidelity's numbers (tested to 1e-6). Unlike FID,
the estimate is unbiased at any N.
"""

import logging
from dataclasses import dataclass

import numpy as np

from p2p_eval.metrics.frechet import check_features

logger = logging.getLogger(__name__)

SUBSETS = 100  # torch-fidelity's kid_subsets
SUBSET_SIZE = 1000  # torch-fidelity's kid_subset_size


@dataclass(frozen=True)
class KernelDistance:
    """KID and how it was drawn.

    Attributes
    ----------
    mean : float
        Mean over subsets of the unbiased MMD^2 (what papers report as KID).
    std : float
        Population standard deviation over subsets (``np.std``, as torch-fidelity).
    subsets : int
    subset_size : int
        Rows drawn from each set per subset (after any reduction).
    requested_subset_size : int
        The size asked for; larger than `subset_size` when a set had fewer rows.
    """

    mean: float
    std: float
    subsets: int
    subset_size: int
    requested_subset_size: int


def polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a b^T / d + 1) ** 3``: KID's kernel (degree 3, gamma 1/d, coef0 1)."""
    return (a @ b.T / a.shape[1] + 1) ** 3


def unbiased_mmd2(k_aa: np.ndarray, k_ab: np.ndarray, k_bb: np.ndarray) -> float:
    """Unbiased MMD^2 from kernel matrices of two m-row samples.

    Within-set sums leave out the diagonal (divided by m(m-1)); the cross term
    keeps it (divided by m^2), as torch-fidelity's ``mmd2(mmd_est="unbiased")``.
    """
    m = k_aa.shape[0]
    within = (k_aa.sum() - np.trace(k_aa) + k_bb.sum() - np.trace(k_bb)) / (m * (m - 1))
    return float(within - 2 * k_ab.sum() / (m * m))


def kernel_distance(
    features: np.ndarray,
    reference: np.ndarray,
    *,
    subsets: int = SUBSETS,
    subset_size: int = SUBSET_SIZE,
    seed: int = 0,
) -> KernelDistance:
    """KID between two feature sets, mean and standard deviation over random subsets.

    Parameters
    ----------
    features : (N, d) array_like of float
        Generated images' features (torch-fidelity's ``input1``).
    reference : (M, d) array_like of float
        Real images' features (torch-fidelity's ``input2``).
    subsets : int, optional
        Random subset pairs (default 100, torch-fidelity's).
    subset_size : int, optional
        Rows per subset (default 1000, torch-fidelity's). If either set has
        fewer rows, it is reduced to ``min(N, M)`` with a logged warning and
        the reduction is recorded in the result; torch-fidelity refuses instead.
    seed : int, optional

    Returns
    -------
    KernelDistance

    Raises
    ------
    ValueError
        If the dimensions differ, `subsets` < 1 or `subset_size` < 2.

    Notes
    -----
    When `subset_size` equals both N and M every subset is the whole set, so
    the standard deviation is 0: it then says nothing about uncertainty.
    """
    features = check_features(features)
    reference = check_features(reference, "reference")
    if features.shape[1] != reference.shape[1]:
        raise ValueError(f"Expected feature sets of one dimension, got {features.shape[1]} and {reference.shape[1]}.")
    if subsets < 1 or subset_size < 2:
        raise ValueError(f"Expected `subsets` >= 1 and `subset_size` >= 2, got {subsets} and {subset_size}.")
    n, m = len(features), len(reference)
    size = min(subset_size, n, m)
    if size < subset_size:
        logger.warning("KID subset size reduced from %d to %d: only %d generated and %d real feature rows.",
                       subset_size, size, n, m)  # fmt: skip
    rng = np.random.RandomState(seed)  # torch-fidelity's generator and draw order
    mmds = np.empty(subsets)
    for i in range(subsets):
        a = features[rng.choice(n, size, replace=False)]
        b = reference[rng.choice(m, size, replace=False)]
        mmds[i] = unbiased_mmd2(polynomial_kernel(a, a), polynomial_kernel(a, b), polynomial_kernel(b, b))
    return KernelDistance(float(mmds.mean()), float(mmds.std()), subsets, size, subset_size)
