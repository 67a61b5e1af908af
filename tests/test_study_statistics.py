"""The study's "±" is the authors' statistic: checked against a transcription of process_csv.py and by hand.

phillipi/AMT_Real_vs_Fake process_csv.py (commit 4f5f25c) is the study code
behind the pix2pix paper. Its `calculate_results` and `bootstrap` are
transcribed below from the original lines (tabs become spaces; the global
``np.random`` becomes a seeded ``RandomState`` passed in), so the reference
shares no code with study_app.
"""

import numpy as np
import pytest

from study_app.analysis import RaterScore, algorithm_results
from study_app.comparisons import bootstrap_sd, p_greater

# ---- process_csv.py, lines 72-97 and 119-135, transcribed ---------------------------------


def calculate_results(gts, ans, method_nums):
    fools = []
    for mm in range(int(np.max(method_nums) + 1)):
        mask = (method_nums == mm)
        acc = np.mean((gts == ans) * mask) / (np.mean(mask) + .000001)
        fool = 1 - acc
        fools.append(fool)

    return fools


def bootstrap(gts, ans, method_nums, random):
    N, A = gts.shape
    gts_out = gts.copy()
    ans_out = ans.copy()
    method_nums_out = method_nums.copy()

    a_inds = random.randint(A, size=A)
    n_inds = random.randint(N, size=(N, A))
    for (aa, a_ind) in enumerate(a_inds):
        gts_out[:, aa] = gts[n_inds[:, aa], a_ind]
        ans_out[:, aa] = ans[n_inds[:, aa], a_ind]
        method_nums_out[:, aa] = method_nums[n_inds[:, aa], a_ind]

    return gts_out, ans_out, method_nums_out


def process_csv_statistics(gts, ans, method_nums, n_bootstrap, seed):
    """Point fool rates, "+/-" and the `betters` matrix, as process_csv.py prints them."""
    random = np.random.RandomState(seed)
    fools = calculate_results(gts, ans, method_nums)
    bootstrap_fools = []
    for a in range(n_bootstrap):
        bootstrap_fools.append(calculate_results(*bootstrap(gts, ans, method_nums, random)))
    bootstrap_fools = np.array(bootstrap_fools)
    fool_stds = np.std(bootstrap_fools, axis=0)
    n_methods = bootstrap_fools.shape[1]
    betters = np.zeros((n_methods, n_methods))
    for mm in range(n_methods):
        for nn in range(n_methods):
            betters[mm, nn] = np.mean(bootstrap_fools[:, mm] > bootstrap_fools[:, nn]) + .5 * np.mean(
                bootstrap_fools[:, mm] == bootstrap_fools[:, nn])
    return np.array(fools), fool_stds, betters


# ---------------------------------------------------------------------------------------------


def _study(rates_per_algorithm: dict[str, np.ndarray], n_trials: int, seed: int):
    """The same simulated answers as process_csv's arrays (trials x Turkers) and as RaterScores.

    ``gts`` is 1 where the real image was on the right, ``ans`` 1 where the
    rater picked the left image as the fake (``ans = 1 - (selection == 'right')``,
    line 37): right when they agree, fooled otherwise.
    """
    rng = np.random.default_rng(seed)
    columns, methods, scores = [], [], []
    for m, (name, rates) in enumerate(rates_per_algorithm.items()):
        for i, rate in enumerate(rates):
            gt = rng.integers(0, 2, n_trials)
            fooled = rng.random(n_trials) < rate
            columns.append((gt, np.where(fooled, 1 - gt, gt)))
            methods.append(m)
            scores.append(RaterScore(f"{name}{i}", name, n_trials, int(fooled.sum()), 0, 0, False))
    gts = np.array([c[0] for c in columns], dtype=float).T
    ans = np.array([c[1] for c in columns], dtype=float).T
    method_nums = np.tile(np.array(methods, dtype=float), (n_trials, 1))
    return (gts, ans, method_nums), scores


def test_one_algorithm_matches_process_csv():
    # One method: process_csv's scheme and ours are the same distribution (Turkers, then their trials).
    rng = np.random.default_rng(0)
    arrays, scores = _study({"A": rng.beta(2, 6, size=40)}, n_trials=40, seed=1)
    fools, stds, _ = process_csv_statistics(*arrays, n_bootstrap=3000, seed=0)
    (entry,) = algorithm_results(scores, ("A",), n_resamples=10_000, seed=0)
    assert entry["fool_rate"] == pytest.approx(fools[0], abs=1e-5)  # process_csv adds .000001 to the mask mean
    # Monte Carlo error of an SD from B replicates is about SD / sqrt(2B): 1.3% at B = 3000.
    assert entry["bootstrap_sd"] == pytest.approx(stds[0], rel=0.06)


def test_two_algorithms_and_their_comparison_match_process_csv():
    # process_csv resamples all Turkers at once (its HITs mix methods); each algorithm has its own
    # raters here, so they are resampled apart. The SDs and P(A > B) agree all the same.
    rng = np.random.default_rng(2)
    arrays, scores = _study({"L1": rng.beta(2, 6, size=25), "cGAN": rng.beta(3, 5, size=25)}, n_trials=40, seed=3)
    fools, stds, betters = process_csv_statistics(*arrays, n_bootstrap=3000, seed=0)
    entries = algorithm_results(scores, ("L1", "cGAN"), n_resamples=10_000, seed=0)
    assert [e["fool_rate"] for e in entries] == pytest.approx(list(fools), abs=1e-5)
    assert [e["bootstrap_sd"] for e in entries] == pytest.approx(list(stds), rel=0.08)
    (versus,) = entries[0]["pairwise"]
    assert versus["other"] == "cGAN" and versus["p_greater"] == pytest.approx(betters[0, 1], abs=0.03)
    assert entries[1]["pairwise"][0]["p_greater"] == pytest.approx(betters[1, 0], abs=0.03)


def test_two_raters_by_hand():
    # Rater a: 0 of 2 fooled; rater b: 2 of 2. A replicate draws {a, a} (rate 0), {b, b} (1) or one of
    # each (0.5, their trials redrawn give 0 and 2 again): probabilities 1/4, 1/4, 1/2, so SD = sqrt(1/8).
    scores = [RaterScore("a", "A", 2, 0, 0, 0, False), RaterScore("b", "A", 2, 2, 0, 0, False)]
    (entry,) = algorithm_results(scores, ("A",), n_resamples=40_000, seed=0)
    assert entry["fool_rate"] == 0.5
    assert entry["bootstrap_sd"] == pytest.approx(np.sqrt(1 / 8), abs=0.005)
    assert entry["se_over_raters"] == pytest.approx(0.5)  # sd(0, 1) / sqrt(2)
    assert entry["intervals"]["fool_rate"] == [0.0, 1.0]


def test_point_estimate_pools_trials():
    # Pooled over trials (process_csv line 76), not the mean of per-rater rates (0.25 and 0.5).
    scores = [RaterScore("a", "A", 40, 10, 0, 0, False), RaterScore("b", "A", 2, 1, 0, 0, False)]
    (entry,) = algorithm_results(scores, ("A",), n_resamples=100)
    assert entry["fool_rate"] == pytest.approx(11 / 42)


def test_ties_count_half():
    never = [RaterScore(f"r{i}", name, 10, 0, 0, 0, False) for name in ("X", "Y") for i in range(5)]
    always = [RaterScore(f"z{i}", "Z", 10, 10, 0, 0, False) for i in range(5)]
    entries = {e["name"]: {p["other"]: p for p in e["pairwise"]}
               for e in algorithm_results(never + always, ("X", "Y", "Z"), n_resamples=500)}
    assert entries["X"]["Y"]["p_greater"] == 0.5 and entries["Y"]["X"]["p_greater"] == 0.5  # every replicate ties
    assert entries["Z"]["X"]["p_greater"] == 1.0 and entries["X"]["Z"]["p_greater"] == 0.0
    assert p_greater(np.array([1.0, 0.0, 0.5]), np.array([0.0, 0.0, 1.0])) == 0.5


def test_homogeneous_raters_closed_form():
    # Every rater fooled with probability p: the two-level bootstrap variance is, on average,
    # p(1-p)/(Rn) * ((R-1)/R + (n-1)/n): about twice the binomial variance the SE over raters
    # estimates (the issue: 0.93% SE where the authors' statistic gives 1.25%).
    p, raters, trials = 0.2, 50, 40
    rng = np.random.default_rng(4)
    variances, ses = [], []
    for study in range(60):
        fooled = rng.binomial(trials, p, size=raters)
        (entry,) = algorithm_results([RaterScore(f"r{i}", "A", trials, int(k), 0, 0, False)
                                      for i, k in enumerate(fooled)], ("A",), n_resamples=4000, seed=study)
        variances.append(entry["bootstrap_sd"] ** 2)
        ses.append(entry["se_over_raters"])
    binomial = p * (1 - p) / (raters * trials)
    assert np.mean(variances) == pytest.approx(binomial * ((raters - 1) / raters + (trials - 1) / trials), rel=0.05)
    assert np.mean(ses) == pytest.approx(np.sqrt(binomial), rel=0.05)


def test_bootstrap_sd_is_numpy_std_with_ddof_0():
    replicates = np.array([0.1, 0.2, 0.4, np.nan])
    assert bootstrap_sd(replicates) == pytest.approx(np.std([0.1, 0.2, 0.4]))
    assert bootstrap_sd(np.array([np.nan])) is None
