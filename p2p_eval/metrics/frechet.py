"""Fréchet distance between feature sets (FID's formula) and its small-sample warnings.

A set of features is summarised by its mean and covariance (`GaussianStats`);
the distance between two such Gaussians is

    d^2 = ||mu_1 - mu_2||^2 + Tr(S_1) + Tr(S_2) - 2 Tr((S_1 S_2)^(1/2))

(Heusel et al., NeurIPS 2017; Dowson & Landau, 1982). pytorch-fid computes the
last trace with ``scipy.linalg.sqrtm(sigma1.dot(sigma2))``, torch-fidelity with
``np.linalg.eigvals(sigma1.dot(sigma2))``; here it is the sum of square roots
of the eigenvalues of the symmetric PSD matrix S_1^(1/2) S_2 S_1^(1/2), which
has the same eigenvalues as S_1 S_2, so two symmetric eigendecompositions
replace a general (complex) one. The value agrees with pytorch-fid's to 1e-6
relative (tested), and stays real and finite when a covariance is singular
(fewer images than feature dimensions), where ``sqrtm`` needs pytorch-fid's
``eps`` retry.
"""

from dataclasses import dataclass

import numpy as np

# Chong & Forsyth (CVPR 2020) show FID's bias shrinking like 1/N and still
# clearly visible at a few thousand images; 2,000 is a common floor in practice.
MIN_IMAGES_FOR_FID = 2000


@dataclass(frozen=True)
class GaussianStats:
    """Mean and covariance of a feature set, with how many rows they came from.

    Attributes
    ----------
    mean : (d,) float64 ndarray
    cov : (d, d) float64 ndarray
        Unbiased sample covariance (divides by ``n - 1``, as ``np.cov``).
    n : int
        Number of feature rows.
    """

    mean: np.ndarray
    cov: np.ndarray
    n: int

    def __post_init__(self):
        d = self.mean.shape[0] if self.mean.ndim == 1 else -1
        if self.mean.ndim != 1 or self.cov.shape != (d, d):
            raise ValueError(
                f"Expected `mean` of shape (d,) and `cov` of shape (d, d), got {self.mean.shape} and {self.cov.shape}."
            )
        if self.n < 2:
            raise ValueError(f"Expected `n` >= 2 feature rows, got {self.n}.")


def check_features(features: np.ndarray, name: str = "features") -> np.ndarray:
    """`features` as a finite (N, d) float64 array, N >= 2.

    Raises
    ------
    ValueError
        If it is not 2-d, has fewer than 2 rows, or holds NaN or infinity.
    """
    array = np.asarray(features)
    if array.ndim != 2 or array.shape[0] < 2:
        raise ValueError(f"Expected `{name}` of shape (N, d) with N >= 2, got shape {array.shape}.")
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        bad = np.count_nonzero(~np.isfinite(array))
        raise ValueError(f"Expected finite `{name}`, got {bad} NaN or infinite values.")
    return array


def gaussian_stats(features: np.ndarray) -> GaussianStats:
    """Mean and unbiased covariance of feature rows, in float64.

    Parameters
    ----------
    features : (N, d) array_like of float
        One row per image, N >= 2.

    Returns
    -------
    GaussianStats

    Examples
    --------
    >>> s = gaussian_stats(np.array([[0.0, 1.0], [2.0, 3.0]]))
    >>> s.mean.tolist(), s.cov.tolist(), s.n
    ([1.0, 2.0], [[2.0, 2.0], [2.0, 2.0]], 2)
    """
    features = check_features(features)
    return GaussianStats(features.mean(axis=0), np.cov(features, rowvar=False), features.shape[0])


def psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix.

    Eigenvalues below zero (rounding of a singular covariance) are taken as zero.
    """
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T


def trace_sqrt_product(cov_a: np.ndarray, cov_b: np.ndarray) -> float:
    """Tr((S_a S_b)^(1/2)) for symmetric PSD S_a, S_b, via S_a^(1/2) S_b S_a^(1/2)."""
    root = psd_sqrt(cov_a)
    middle = root @ cov_b @ root
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sqrt(np.clip(eigenvalues, 0, None)).sum())


def frechet_distance(a: GaussianStats, b: GaussianStats) -> float:
    """Fréchet distance between two Gaussians (FID when the features are Inception pool features).

    Parameters
    ----------
    a, b : GaussianStats
        Of the same dimension.

    Returns
    -------
    distance : float
        Squared Fréchet distance (what FID reports), >= 0 up to rounding.

    Raises
    ------
    ValueError
        If the dimensions differ.

    Examples
    --------
    >>> a = GaussianStats(np.zeros(2), np.eye(2), n=10)
    >>> b = GaussianStats(np.array([3.0, 4.0]), 4 * np.eye(2), n=10)
    >>> round(frechet_distance(a, b), 12)  # 25 + (1 + 1) + (4 + 4) - 2 * (2 + 2)
    27.0
    """
    if a.mean.shape != b.mean.shape:
        raise ValueError(f"Expected statistics of one dimension, got {a.mean.shape[0]} and {b.mean.shape[0]}.")
    diff = a.mean - b.mean
    return float(diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2 * trace_sqrt_product(a.cov, b.cov))


def sample_size_warnings(n_images: int, dim: int, *, min_images: int = MIN_IMAGES_FOR_FID) -> tuple[str, ...]:
    """Why an FID from `n_images` images should not be compared with published ones.

    FID is biased upward, roughly like 1/N (Chong & Forsyth, CVPR 2020), so
    two FIDs are comparable only at the same N; below `min_images` the bias is
    large, and with fewer images than feature dimensions the covariance is
    singular (rank at most N - 1).

    Parameters
    ----------
    n_images : int
        Rows of the smaller of the two feature sets.
    dim : int
        Feature dimension (2048 for the Inception pool).
    min_images : int, optional

    Returns
    -------
    warnings : tuple of str
        Empty when neither applies.

    Examples
    --------
    >>> len(sample_size_warnings(500, 2048))
    2
    >>> sample_size_warnings(5000, 2048)
    ()
    """
    messages = []
    if n_images < min_images:
        messages.append(
            f"FID from {n_images} images (< {min_images}): FID is biased upward at small N "
            "(Chong & Forsyth 2020); compare only FIDs computed from the same number of images."
        )
    if n_images <= dim:
        messages.append(
            f"{n_images} images for {dim}-dimensional features: the covariance is singular "
            f"(rank <= {n_images - 1}); the FID is dominated by small-N bias."
        )
    return tuple(messages)
