"""Fréchet distance against pytorch-fid and torch-fidelity; its bootstrap and FID-infinity."""

import numpy as np
import pytest
from pytorch_fid.fid_score import calculate_frechet_distance
from torch_fidelity.metric_fid import fid_statistics_to_metric

from p2p_eval.metrics.frechet import GaussianStats, frechet_distance, gaussian_stats, sample_size_warnings
from p2p_eval.metrics.frechet_bootstrap import frechet_bootstrap, resampled_frechet_distances, split_half_frechet
from p2p_eval.metrics.frechet_infinity import frechet_infinity
from p2p_eval.resampling import resample_weights, split_half_masks

# pytorch-fid passes scipy's deprecated `disp` to sqrtm
pytestmark = pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated:DeprecationWarning")


def _feature_sets(n, m, d, seed=0):
    """Correlated, non-negative features (like post-ReLU pool features) from two different distributions."""
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) / np.sqrt(d)
    a = np.abs(rng.standard_normal((n, d)) @ mixing + 0.3)
    b = np.abs(1.1 * rng.standard_normal((m, d)) @ mixing + 0.35)
    return a, b


def _references(a: GaussianStats, b: GaussianStats) -> tuple[float, float]:
    pytorch_fid = calculate_frechet_distance(a.mean, a.cov, b.mean, b.cov)
    torch_fidelity = fid_statistics_to_metric({"mu": a.mean, "sigma": a.cov}, {"mu": b.mean, "sigma": b.cov}, False)
    return float(pytorch_fid), torch_fidelity["frechet_inception_distance"]


@pytest.mark.parametrize(("n", "m", "d"), [(400, 300, 64), (90, 120, 256)])  # more and fewer rows than dims
def test_frechet_distance_matches_pytorch_fid_and_torch_fidelity(n, m, d):
    a, b = map(gaussian_stats, _feature_sets(n, m, d))
    ours = frechet_distance(a, b)
    pytorch_fid, torch_fidelity = _references(a, b)
    assert ours == pytest.approx(pytorch_fid, rel=1e-6)
    assert ours == pytest.approx(torch_fidelity, rel=1e-6)


@pytest.mark.slow
def test_frechet_distance_matches_pytorch_fid_at_inception_dimension():
    a, b = map(gaussian_stats, _feature_sets(2500, 2200, 2048, seed=1))
    assert frechet_distance(a, b) == pytest.approx(_references(a, b)[0], rel=1e-6)


def test_gaussian_stats_are_numpy_mean_and_unbiased_cov():
    x = _feature_sets(30, 2, 5)[0].astype(np.float32)
    stats = gaussian_stats(x)
    assert stats.mean.dtype == np.float64 and stats.n == 30
    np.testing.assert_array_equal(stats.cov, np.cov(x.astype(np.float64), rowvar=False))
    assert frechet_distance(stats, stats) == pytest.approx(0, abs=1e-9)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match=r"shape \(N, d\) with N >= 2, got shape \(1, 4\)"):
        gaussian_stats(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="finite `features`, got 1 NaN"):
        gaussian_stats(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="one dimension, got 3 and 2"):
        frechet_distance(GaussianStats(np.zeros(3), np.eye(3), 5), GaussianStats(np.zeros(2), np.eye(2), 5))


def test_sample_size_warnings():
    assert sample_size_warnings(2000, 2048) == (sample_size_warnings(2000, 2048)[0],)
    assert "singular" in sample_size_warnings(2000, 2048)[0]
    assert "biased upward" in sample_size_warnings(1999, 64)[0]
    assert sample_size_warnings(5000, 2048) == ()


def _explicit_replicates(x, y, weights, ref_weights=None):
    """FID of each replicate with its rows actually repeated: the slow definition."""
    out = []
    for b, w in enumerate(weights):
        rows = np.repeat(np.arange(len(x)), w)
        if isinstance(y, GaussianStats):
            ref = y
        else:
            ref_rows = rows if ref_weights is None else np.repeat(np.arange(len(y)), ref_weights[b])
            ref = gaussian_stats(y[ref_rows])
        out.append(frechet_distance(gaussian_stats(x[rows]), ref))
    return np.array(out)


@pytest.mark.parametrize("reference_kind", ["paired", "independent", "statistics"])
def test_bootstrap_replicates_are_fids_of_resampled_rows(reference_kind):
    x, y = _feature_sets(40, 40 if reference_kind == "paired" else 33, 24, seed=2)
    reference = gaussian_stats(y) if reference_kind == "statistics" else y
    n_resamples, seed = 30, 5
    result = frechet_bootstrap(x, reference, paired=reference_kind == "paired", n_resamples=n_resamples, seed=seed)
    weights = resample_weights(len(x), n_resamples, seed)
    ref_weights = resample_weights(len(y), n_resamples, seed + 1) if reference_kind == "independent" else None
    explicit = _explicit_replicates(x, reference, weights, ref_weights)
    low, high = np.percentile(explicit, [2.5, 97.5])
    # Two routes to the same numbers (nuclear norm of cross products vs eigenvalues of
    # covariances) agree to rounding amplified by sqrt near the covariances' zero eigenvalues.
    assert result.percentile == pytest.approx((low, high), rel=1e-7)
    assert result.replicate_mean == pytest.approx(explicit.mean(), rel=1e-7)
    assert result.interval.value == frechet_distance(gaussian_stats(x), gaussian_stats(y))
    shift = explicit.mean() - result.interval.value
    assert (result.interval.low, result.interval.high) == pytest.approx((low - shift, high - shift), rel=1e-7)


def test_bootstrap_interval_is_centred_on_the_point_and_reproducible():
    # 300 images in 256 dimensions: replicates are strongly biased upward, so the
    # raw percentiles miss the point estimate; the reported interval must not.
    x, y = _feature_sets(300, 300, 256, seed=3)
    result = frechet_bootstrap(x, y, paired=True, n_resamples=60, seed=0)
    assert result.percentile[0] > result.interval.value  # the bias the centring removes
    assert result.interval.low < result.interval.value < result.interval.high
    assert frechet_bootstrap(x, y, paired=True, n_resamples=60, seed=0) == result
    assert frechet_bootstrap(x, y, paired=True, n_resamples=60, seed=1) != result


def test_bootstrap_refuses_impossible_pairings():
    x, y = _feature_sets(10, 12, 4)
    with pytest.raises(ValueError, match="paired features of equal N, got 10 and 12"):
        frechet_bootstrap(x, y, paired=True, n_resamples=2)
    with pytest.raises(ValueError, match="reference features .* when `paired`"):
        frechet_bootstrap(x, gaussian_stats(y), paired=True, n_resamples=2)
    with pytest.raises(ValueError, match="reference of dimension 4, got 3"):
        frechet_bootstrap(x, y[:, :3], n_resamples=2)


def test_frechet_infinity_removes_the_small_n_bias_on_known_gaussians():
    # Population statistics are exact, so the true distance is known; FID_N
    # overshoots it by its 1/N bias, FID-infinity should not.
    d = 64
    rng = np.random.default_rng(1)
    root = rng.standard_normal((d, d)) / np.sqrt(d)
    cov = root @ root.T + 0.1 * np.eye(d)
    real = GaussianStats(np.zeros(d), cov, 10**9)
    true = frechet_distance(GaussianStats(np.full(d, 0.05), 1.2 * cov, 10**9), real)
    for seed in range(4):
        sample = np.random.default_rng(100 + seed).multivariate_normal(np.full(d, 0.05), 1.2 * cov, size=4000)
        result = frechet_infinity(sample, real, min_size=500, seed=seed)
        assert len(result.sizes) == 15 and result.sizes[0] == 500 and result.sizes[-1] == 4000
        assert result.distances[-1] == pytest.approx(frechet_distance(gaussian_stats(sample), real))
        bias_at_n = result.distances[-1] - true
        assert bias_at_n > 0.15 and result.slope > 0
        assert abs(result.value - true) < bias_at_n / 3


def test_frechet_infinity_fits_the_line_through_its_points():
    x, y = _feature_sets(600, 500, 8, seed=4)
    result = frechet_infinity(x, y, min_size=100, num_points=5, seed=0)
    predicted = result.value + result.slope / result.sizes
    residual = result.distances - predicted
    assert abs(residual.sum()) < 1e-9 and abs((residual / result.sizes).sum()) < 1e-9  # OLS normal equations
    with pytest.raises(ValueError, match="more than `min_size` = 5000 feature rows to extrapolate from, got 600"):
        frechet_infinity(x, y)


def test_resampled_distances_take_any_weights_and_split_halves_are_fids_of_halves():
    x, y = _feature_sets(30, 50, 12, seed=4)
    reference = gaussian_stats(y)
    weights = np.array([np.ones(30), np.r_[np.ones(15), np.zeros(15)], np.r_[np.full(10, 3), np.zeros(20)]])
    explicit = [frechet_distance(gaussian_stats(np.repeat(x, w.astype(int), axis=0)), reference) for w in weights]
    # Two routes to one number (N x N vs d x d eigenvalues): rounding amplified by square roots near 0.
    assert resampled_frechet_distances(x, reference, weights) == pytest.approx(explicit, rel=1e-7)
    with pytest.raises(ValueError, match="at least 2 rows"):
        resampled_frechet_distances(x, reference, np.eye(30)[:1])
    halves = split_half_frechet(y, n_splits=5, seed=3)
    masks = split_half_masks(50, 5, seed=3)
    assert halves == pytest.approx([frechet_distance(gaussian_stats(y[m]), gaussian_stats(y[~m])) for m in masks],
                                   rel=1e-9)
    with pytest.raises(ValueError, match="at least 4 rows"):
        split_half_frechet(y[:3], n_splits=2)


def test_the_split_half_ground_truth_is_no_floor_for_a_run():
    """Halves of N/2 photos carry more small-N bias than a run's N frames against all N photos: a run
    drawn from the real photos' own distribution scores about half the split-half FID. The ground-truth
    row was described as "a floor for the runs' FIDs", so a run below it read as better than real."""
    from p2p_eval.measures.fid.measure import REAL_ROW

    real, same_distribution = np.split(_feature_sets(800, 2, 64, seed=1)[0], 2)  # one distribution, 400 + 400
    run = frechet_distance(gaussian_stats(same_distribution), gaussian_stats(real))
    halves = float(np.median(split_half_frechet(real, n_splits=20, seed=0)))
    assert run < 0.7 * halves
    assert "floor" not in REAL_ROW.replace("not a floor", "")
