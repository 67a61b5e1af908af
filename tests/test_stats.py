import numpy as np
import pytest
from scipy import stats as scipy_stats

from p2p_eval import resampling, stats


def _mean_scorer(sums):
    # per-item state: (value, 1) -> mean = sum(values) / count
    return {"mean": sums[:, 0] / sums[:, 1]}


def _summed(per_item):
    """The weights-scorer of additive per-item state: the mean of the weighted sums."""
    return lambda weights: _mean_scorer(resampling.resampled_sums(per_item, weights))


def test_resampled_sums_equal_explicit_resampling():
    rng = np.random.default_rng(1)
    per_item = rng.integers(0, 10, size=(7, 3, 3))
    weights = resampling.resample_weights(7, 5, seed=3)
    explicit = np.stack([(per_item * w[:, None, None]).sum(0) for w in weights])
    np.testing.assert_array_equal(resampling.resampled_sums(per_item, weights), explicit)


def test_mean_interval_agrees_with_scipy_percentile_bootstrap():
    rng = np.random.default_rng(0)
    values = rng.normal(3.0, 1.0, size=200)
    per_item = np.stack([values, np.ones_like(values)], axis=1)
    ours = stats.bootstrap_scores(_summed(per_item), len(per_item), n_resamples=20_000, seed=1)["mean"]
    theirs = scipy_stats.bootstrap(
        (values,), np.mean, n_resamples=20_000, method="percentile", random_state=2
    ).confidence_interval
    assert ours.value == pytest.approx(values.mean())
    assert ours.low == pytest.approx(theirs.low, abs=0.01)
    assert ours.high == pytest.approx(theirs.high, abs=0.01)


def test_paired_test_detects_a_shift_and_not_its_absence():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, size=100)
    items = lambda v: np.stack([v, np.ones_like(v)], axis=1)  # noqa: E731
    shifted = stats.paired_bootstrap_test(_summed(items(base + 0.5)), _summed(items(base)), 100, seed=0)["mean"]
    same = stats.paired_bootstrap_test(_summed(items(base + rng.normal(0, 0.01, 100))), _summed(items(base)), 100,
                                       seed=0)["mean"]
    assert shifted.difference == pytest.approx(0.5)
    assert shifted.p_value < 0.01
    assert same.p_value > 0.05


def test_two_sided_p_never_zero_and_symmetric():
    assert stats.two_sided_p(np.ones(999)) == pytest.approx(2 / 1000)
    assert stats.two_sided_p(np.linspace(-1, 1, 1001)) == 1.0


def test_two_level_bootstrap_matches_explicit_resampling_in_distribution():
    successes, trials = np.array([10, 2, 30, 0]), np.array([40, 40, 40, 20])
    fast = stats.two_level_bootstrap(successes, trials, n_resamples=20_000, seed=0)
    rng = np.random.default_rng(1)
    outcomes = [np.r_[np.ones(s), np.zeros(t - s)] for s, t in zip(successes, trials)]
    slow = []
    for _ in range(4000):
        raters = rng.integers(0, 4, 4)
        drawn = [rng.choice(outcomes[r], size=len(outcomes[r])) for r in raters]
        slow.append(np.concatenate(drawn).mean())
    assert fast.mean() == pytest.approx(np.mean(slow), abs=0.005)
    assert fast.std() == pytest.approx(np.std(slow), rel=0.05)


def test_centred_scores_move_biased_replicates_onto_the_point():
    # A scorer whose replicates sit 3 above the point (a biased estimator like FID):
    # centred, the interval holds the point and a paired test of equal runs finds nothing.
    values = np.linspace(0, 1, 50)

    def biased(w):
        bias = np.where((w == 1).all(axis=1), 0.0, 3.0)
        return {"s": w @ values / w.sum(axis=1) + bias}

    raw = stats.bootstrap_scores(biased, 50, n_resamples=400, seed=0)["s"]
    centred = stats.bootstrap_scores(biased, 50, n_resamples=400, seed=0, centred=("s",))["s"]
    assert raw.low > raw.value  # the raw percentiles miss the point
    assert centred.low < centred.value < centred.high
    assert centred.high - centred.low == pytest.approx(raw.high - raw.low)
    assert (raw.low + raw.high) / 2 - (centred.low + centred.high) / 2 == pytest.approx(3.0, abs=0.01)

    def other(w):  # the same values, and a bias of 5 instead of 3 in the replicates
        return {"s": biased(w)["s"] + np.where((w == 1).all(axis=1), 0.0, 2.0)}

    moved = stats.paired_bootstrap_test(other, biased, 50, n_resamples=400, seed=0, centred=("s",))["s"]
    unmoved = stats.paired_bootstrap_test(other, biased, 50, n_resamples=400, seed=0)["s"]
    assert moved.difference == 0 and moved.low <= 0 <= moved.high and moved.p_value == 1.0
    assert unmoved.p_value < 0.01  # without centring, a difference in bias reads as a difference


def test_split_half_masks_take_half_at_random():
    masks = resampling.split_half_masks(9, 200, seed=0)
    assert masks.shape == (200, 9) and (masks.sum(axis=1) == 4).all()
    assert 0.35 < masks.mean(axis=0).min() and masks.mean(axis=0).max() < 0.55
    assert (resampling.split_half_masks(9, 200, seed=0) == masks).all()


def test_bootstrap_in_chunks_equals_one_call_and_stays_bounded():
    """Replicates are scored RESAMPLE_CHUNK at a time (memory independent of --resamples; 1000000 ran out
    of memory), with the same draws, so the same intervals and tests, as all the weights at once."""
    per_item = np.random.default_rng(1).normal(size=(37, 3))
    blocks = []

    def scorer(weights):
        blocks.append(len(weights))
        return {"mean": resampling.resampled_sums(per_item, weights)[:, 0] / per_item.shape[0]}

    weights = resampling.resample_weights(37, 2500, seed=4)
    chunks = list(resampling.resample_weight_chunks(37, 2500, seed=4, chunk=1000))
    assert [len(c) for c in chunks] == [1000, 1000, 500] and (np.concatenate(chunks) == weights).all()
    one_call = stats.percentile_interval(scorer(weights)["mean"])
    blocks.clear()
    interval = stats.bootstrap_scores(scorer, 37, n_resamples=2500, seed=4)["mean"]
    assert blocks == [1, resampling.RESAMPLE_CHUNK, resampling.RESAMPLE_CHUNK, 500]  # the point, then the blocks
    assert (interval.low, interval.high) == one_call
    paired = stats.paired_bootstrap_test(scorer, lambda w: {"mean": scorer(w)["mean"] * 0.5}, 37,
                                         n_resamples=2500, seed=4)["mean"]
    assert (paired.low, paired.high) == stats.percentile_interval(0.5 * scorer(weights)["mean"])
    halves = np.concatenate(list(resampling.split_half_mask_chunks(9, 250, seed=2, chunk=64)))
    assert (halves == resampling.split_half_masks(9, 250, seed=2)).all()


def test_bootstrap_settings_refuse_too_many_resamples():
    with pytest.raises(ValueError, match=r"\[100, 100000\], got 1000000"):
        stats.Bootstrap(resamples=1_000_000)
