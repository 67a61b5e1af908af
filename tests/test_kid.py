"""KID against torch-fidelity and a hand-written MMD, subset-size reduction recorded."""

import logging

import numpy as np
import pytest
import torch
from torch_fidelity.metric_kid import kid_features_to_metric

from p2p_eval.metrics.kernel import kernel_distance, polynomial_kernel, unbiased_mmd2


def _feature_sets(n, m, d, seed=0):
    rng = np.random.default_rng(seed)
    return np.abs(rng.standard_normal((n, d))), np.abs(1.1 * rng.standard_normal((m, d)) + 0.05)


@pytest.mark.parametrize(("n", "m", "subset_size"), [(300, 250, 100), (120, 120, 120)])
def test_kid_matches_torch_fidelity_with_the_same_seed(n, m, subset_size):
    x, y = _feature_sets(n, m, 64)
    ours = kernel_distance(x, y, subsets=20, subset_size=subset_size, seed=7)
    # float64 tensors: torch-fidelity computes in the features' dtype, and float32 kernels
    # lose digits to the cancellation inside MMD^2 (p2p-eval always uses float64).
    theirs = kid_features_to_metric(
        torch.from_numpy(x), torch.from_numpy(y), kid_subsets=20, kid_subset_size=subset_size, rng_seed=7, verbose=False
    )
    assert ours.mean == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-6)
    assert ours.std == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-6, abs=1e-12)
    assert (ours.subsets, ours.subset_size, ours.requested_subset_size) == (20, subset_size, subset_size)


def test_unbiased_mmd2_by_hand():
    a = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    b = np.array([[0.0, 0.0], [2.0, 1.0], [1.0, 3.0]])

    def k(u, v):  # the kernel, written out
        return (u @ v / 2 + 1) ** 3

    m = 3
    within = sum(k(a[i], a[j]) + k(b[i], b[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    cross = sum(k(a[i], b[j]) for i in range(m) for j in range(m)) / (m * m)
    expected = within - 2 * cross
    got = unbiased_mmd2(polynomial_kernel(a, a), polynomial_kernel(a, b), polynomial_kernel(b, b))
    assert got == pytest.approx(expected, rel=1e-12)
    assert kernel_distance(a, b, subsets=3, subset_size=3).mean == pytest.approx(expected, rel=1e-12)


def test_kid_is_unbiased_near_zero_for_one_distribution():
    rng = np.random.default_rng(3)
    x, y = np.abs(rng.standard_normal((400, 32))), np.abs(rng.standard_normal((400, 32)))
    result = kernel_distance(x, y, subsets=50, subset_size=200)
    assert abs(result.mean) < 3 * result.std  # FID would be clearly positive here


def test_subset_size_above_n_is_reduced_and_recorded(caplog):
    x, y = _feature_sets(50, 80, 8)
    with caplog.at_level(logging.WARNING):
        result = kernel_distance(x, y, subsets=5)  # default 1000 per subset
    assert (result.subset_size, result.requested_subset_size) == (50, 1000)
    assert "KID subset size reduced from 1000 to 50" in caplog.text
    with pytest.raises(ValueError, match="`subsets` >= 1 and `subset_size` >= 2, got 0 and 10"):
        kernel_distance(x, y, subsets=0, subset_size=10)
    with pytest.raises(ValueError, match="one dimension, got 8 and 3"):
        kernel_distance(x, y[:, :3])
