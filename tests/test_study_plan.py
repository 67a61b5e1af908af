"""The study planner: closed-form binomial cases, the paper's and HYPE's published figures, the CLI."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from p2p_eval.cli import main
from p2p_eval.paper import PAPER_ERRORS, TABLES
from p2p_eval.results import write_results
from study_app.analysis import hype_document
from study_app.plan import PROTOCOLS, Pay, Raters, default_rater_sd, estimate, fewest_raters, pilot_raters, power
from study_app.records import TrialRecord
from study_app.simulate import rater_rates

FAST = dict(n_studies=300, n_resamples=2000, seed=0)


def test_hype_inf_with_identical_raters_is_binomial():
    # One-level rater bootstrap of a pooled rate, every rater at p: its variance averages
    # (R-1)/R * p(1-p)/(R n), the binomial variance shrunk by the plug-in's (R-1)/R.
    p, raters, trials = 0.3, 30, 100
    sd = np.sqrt((raters - 1) / raters * p * (1 - p) / (raters * trials))
    result = estimate(PROTOCOLS["hype-inf"], Raters(p, 0.0), raters, trials=trials, **FAST)
    assert result.bootstrap_sd == pytest.approx(sd, rel=0.04)
    assert result.half_width == pytest.approx(scipy_stats.norm.ppf(0.975) * sd, rel=0.05)
    assert result.correct_per_rater == pytest.approx(70, abs=0.5)


def test_two_level_bootstrap_with_identical_raters_doubles_the_binomial_variance():
    # Resampling raters adds their observed spread (binomial noise); redrawing their trials adds it
    # again: p(1-p)/(R n) * ((R-1)/R + (n-1)/n).
    p, raters, trials = 0.189, 50, 40
    sd = np.sqrt(p * (1 - p) / (raters * trials) * ((raters - 1) / raters + (trials - 1) / trials))
    result = estimate(PROTOCOLS["pix2pix-2017"], Raters(p, 0.0), raters, trials=trials, **FAST)
    assert result.bootstrap_sd == pytest.approx(sd, rel=0.04)


def test_power_with_identical_raters_is_the_normal_approximation():
    p, difference, raters, trials = 0.3, 0.03, 30, 100
    variances = [(raters - 1) / raters * q * (1 - q) / (raters * trials) for q in (p, p + difference)]
    z = difference / np.sqrt(sum(variances))
    expected = scipy_stats.norm.cdf(z - 1.96) + scipy_stats.norm.cdf(-z - 1.96)  # 0.71
    got = power(PROTOCOLS["hype-inf"], Raters(p, 0.0), Raters(p + difference, 0.0), raters, trials=trials, **FAST)
    assert got == pytest.approx(expected, abs=0.08)


def test_the_default_rater_spread_reproduces_the_papers_plus_minus():
    # The paper's seven "±" (Tables 4-5) read as process_csv's bootstrap SD at 50 Turkers x 40 trials.
    # Measured (paper vs predicted, %): 1.0/0.9, 0.3/0.5, 1.3/1.4, 2.5/2.3, 2.4/2.2, 2.7/2.7, 1.6/2.5.
    protocol, ratios = PROTOCOLS["pix2pix-2017"], []
    for key in ("amt-maps", "amt-colorization"):
        for row in TABLES[key].rows:
            for rate, published in zip(row.numbers, PAPER_ERRORS[key][row.label]):
                raters = Raters(rate / 100, default_rater_sd(rate / 100))
                predicted = estimate(protocol, raters, 50, trials=40, n_studies=100, n_resamples=1000).bootstrap_sd
                ratios.append(100 * predicted / published)
    assert len(ratios) == 7 and all(1 / 1.7 < r < 1.7 for r in ratios)
    assert 0.9 <= np.median(ratios) <= 1.1


def test_fewest_raters_finds_the_threshold():
    for grid in ((), (10, 20, 30, 50, 100), (50,), (2, 3)):
        calls = []

        def meets(n):
            calls.append(n)
            return n >= 37

        assert fewest_raters(meets, grid) == 37
    assert fewest_raters(lambda n: True, (10,)) == 2
    with pytest.raises(ValueError, match="at most 2000 raters"):
        fewest_raters(lambda n: False)


def test_cost_reproduces_hypes_figures():
    # HYPE pays $1 + $0.02 per right answer; a HYPE-inf evaluator right on 50 of 100 earns $2: 30 x $2.
    assert 30 * Pay(1.0, 0.02).session_cost(50) == pytest.approx(60.0)
    assert 30 * Pay(12.0).session_cost(300) == pytest.approx(360.0)  # HYPE-time: ~1 h at ~$12/h
    assert Pay(1.0, 0.0, fee=0.2).session_cost(0) == pytest.approx(1.2)


def test_rater_rates_follow_the_requested_spread():
    rates = rater_rates(np.random.default_rng(0), 0.3, 0.1, (200_000,))
    assert rates.mean() == pytest.approx(0.3, abs=0.002) and rates.std() == pytest.approx(0.1, rel=0.02)
    with pytest.raises(ValueError, match="between-rater SD"):
        rater_rates(np.random.default_rng(0), 0.3, 0.5, (3,))


def _pilot_records(spread: float, seed: int) -> list[TrialRecord]:
    rng = np.random.default_rng(seed)
    records = []
    for algorithm, mean in (("A", 0.4), ("B", 0.25)):
        for r, rate in enumerate(rater_rates(rng, mean, spread, (60,))):
            for t in range(100):
                image = "fake" if t % 2 else "real"
                wrong = rng.random() < rate
                answer = ("real" if image == "fake" else "fake") if wrong else image
                records.append(TrialRecord(f"{algorithm}{r}", algorithm, image, answer))
    return records


def test_a_pilot_gives_the_means_and_the_between_rater_spread():
    document = hype_document(_pilot_records(0.1, seed=1), "hype-inf", source={}, n_resamples=200)
    found = dict(pilot_raters(document))
    assert found["A"].mean == pytest.approx(0.4, abs=0.03) and found["B"].mean == pytest.approx(0.25, abs=0.03)
    # Observed per-rater SD ~0.11 holds binomial noise (0.049 at 100 trials); what is left is the raters'.
    assert found["A"].rater_sd == pytest.approx(0.1, abs=0.025) and found["B"].rater_sd == pytest.approx(0.1, abs=0.025)


def test_plan_command(tmp_path, capsys):
    fast = ["--studies", "30", "--resamples", "300"]
    assert main(["study", "plan", "--protocol", "hype-inf", "--expected", "0.5", "--algorithms", "2",
                 "--half-width", "0.05", "--difference", "0.1", "--power", "0.8", "--pay", "1",
                 "--pay-per-correct", "0.02", "--fee", "0.2", *fast]) == 0
    out = capsys.readouterr().out
    assert "raters needed for a 95% interval half width <= 5.0%:" in out
    assert "power to tell 50.0% from 60.0% at 30 raters per algorithm" in out
    assert "raters needed for power 0.8" in out and "fee 20%" in out
    pilot = tmp_path / "pilot.json"
    write_results(pilot, hype_document(_pilot_records(0.1, seed=2), "hype-inf", source={}, n_resamples=200))
    assert main(["study", "plan", "--protocol", "hype-inf", "--pilot", str(pilot), *fast]) == 0
    out = capsys.readouterr().out
    assert "  A: expected 39.5%" in out and "  B: expected 24.9%" in out and "cost at 30 raters per algorithm" in out
    assert main(["study", "plan", "--protocol", "hype-time", "--expected", "350", "--pay", "12", "--studies", "10",
                 "--resamples", "200"]) == 0
    out = capsys.readouterr().out
    assert "+10 ms step is shorter than one frame" in out and "30 x $12.00 = $360.00" in out


@pytest.mark.parametrize("arguments, message", [
    (["--protocol", "hype-inf"], "give the expected scores (--expected) or a pilot"),
    (["--protocol", "hype-inf", "--expected", "1.5"], "expected a fraction in (0, 1) for hype-inf"),
    (["--protocol", "hype-time", "--expected", "0.3"], "expected ms in [100, 1000] for hype-time"),
    (["--protocol", "hype-inf", "--expected", "0.3,0.4", "--algorithms", "3"], "--algorithms 3 but --expected gives 2"),
    (["--protocol", "hype-inf", "--expected", "0.3", "--rater-sd", "0.6"], "cannot plan this: Expected a between-rater SD"),
    (["--protocol", "hype-inf", "--expected", "0.95", "--rater-sd", "0.2", "--difference", "0.04"],
     "for mean 0.99"),  # the second algorithm's raters cannot spread that much
    (["--protocol", "pix2pix-2017", "--pilot", "PILOT"], "hype-inf results cannot pilot a pix2pix-2017 study"),
])
def test_plan_command_refuses_bad_requests(tmp_path, capsys, arguments, message):
    pilot = tmp_path / "pilot.json"
    write_results(pilot, hype_document(_pilot_records(0.1, seed=3), "hype-inf", source={}, n_resamples=50))
    arguments = [str(pilot) if a == "PILOT" else a for a in arguments]
    assert main(["study", "plan", *arguments, "--studies", "5", "--resamples", "100"]) == 2
    assert message in capsys.readouterr().err


def test_hype_inf_interval_width_levels_off_near_hypes_30_raters():
    # HYPE: the CI width converges near 30 evaluators. At 50% error and the default rater spread, 10 -> 20 raters
    # narrows the half width by more than 2 points, 30 -> 40 by less than 1 (README: 11.3, 8.1, 6.7 ... at 10, 20, 30).
    protocol = PROTOCOLS["hype-inf"]
    raters = Raters(0.5, default_rater_sd(0.5))
    widths = {n: 100 * estimate(protocol, raters, n, trials=100, n_studies=100, n_resamples=1000).half_width
              for n in (10, 20, 30, 40)}
    assert widths[10] - widths[20] > 2 and 0 < widths[30] - widths[40] < 1, widths
    assert 5.5 < widths[30] < 8, widths


@pytest.mark.parametrize("value, bound", [("1000000", "at most 100000"), ("5", ">= 100"), ("0", ">= 100")])
def test_plan_resamples_are_bounded_both_ways(capsys, value, bound):
    """``study plan --resamples`` took any whole number >= 1: 5 replicates give no interval worth planning
    on, and 1000000 per simulated study ran out of memory."""
    with pytest.raises(SystemExit) as stop:
        main(["study", "plan", "--protocol", "hype-inf", "--expected", "0.3", "--resamples", value])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "--resamples" in err and bound in err and repr(value) in err
