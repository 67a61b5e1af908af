"""Study results: hand-computed scores, intervals against scipy, coverage, pairwise tests, the CLI."""

import csv

import numpy as np
import pytest
from scipy import stats as scipy_stats

from p2p_eval.cli import main
from p2p_eval.results import load_results
from p2p_eval.stats import percentile_interval, two_level_bootstrap
from study_app.analysis import RaterScore, algorithm_results, rater_scores
from study_app.config import Protocol
from study_helpers import ADMIN_TOKEN, RaterActions, app, study_config  # noqa: F401


def _scores(name: str, fooled: list[int], trials: int = 40) -> list[RaterScore]:
    return [RaterScore(f"{name}{i}", name, trials, k, 0, 0, False) for i, k in enumerate(fooled)]


def test_fool_rate_and_se_by_hand():
    (entry,) = algorithm_results(_scores("A", [10, 20, 30]), ("A",), n_resamples=2000)
    assert entry["fool_rate"] == pytest.approx(0.5)
    assert entry["se_over_raters"] == pytest.approx(0.25 / np.sqrt(3))  # sd(.25, .5, .75) / sqrt(3)
    assert (entry["n_raters"], entry["n_trials"], entry["n_fooled"]) == (3, 120, 60)
    assert entry["intervals"]["fool_rate"][0] < 0.5 < entry["intervals"]["fool_rate"][1]


def test_one_trial_per_rater_matches_scipy_percentile_bootstrap():
    # With one trial per rater the second level is a no-op: both are the one-level bootstrap.
    rng = np.random.default_rng(0)
    fooled = (rng.random(200) < 0.3).astype(int)
    ours = percentile_interval(two_level_bootstrap(fooled, np.ones(200, int), n_resamples=20_000, seed=1))
    theirs = scipy_stats.bootstrap((fooled,), np.mean, n_resamples=20_000, method="percentile",
                                   random_state=2).confidence_interval
    assert ours == pytest.approx((theirs.low, theirs.high), abs=0.01)


def test_two_level_interval_is_wider_than_one_level_over_raters():
    # Resampling trials too adds within-rater variance once more: wider, by at most sqrt(2).
    rng = np.random.default_rng(3)
    fooled = rng.binomial(40, rng.beta(2, 8, size=50))
    low, high = percentile_interval(two_level_bootstrap(fooled, np.full(50, 40), n_resamples=20_000, seed=1))
    one = scipy_stats.bootstrap((fooled / 40,), np.mean, n_resamples=20_000, method="percentile",
                                random_state=2).confidence_interval
    ratio = (high - low) / (one.high - one.low)
    assert 1.0 < ratio < 1.45


def test_interval_covers_the_true_rate_near_nominal():
    # Raters differ (fool rates ~ Beta(2, 8), mean 0.2), 30 raters x 40 trials, as in the paper.
    rng = np.random.default_rng(0)
    studies, covered = 200, 0
    for s in range(studies):
        fooled = rng.binomial(40, rng.beta(2, 8, size=30))
        (entry,) = algorithm_results(_scores("A", list(fooled)), ("A",), n_resamples=2000, seed=s)
        low, high = entry["intervals"]["fool_rate"]
        covered += low <= 0.2 <= high
    # Two-level resampling is slightly conservative (measured: 0.975 here).
    assert 0.92 <= covered / studies <= 0.99


def test_pairwise_tests_separate_different_rates_only():
    rng = np.random.default_rng(1)
    low = list(rng.binomial(40, 0.1, size=30))
    high = list(rng.binomial(40, 0.35, size=30))
    same = list(rng.binomial(40, 0.1, size=30))
    entries = algorithm_results(_scores("L1", low) + _scores("cGAN", high) + _scores("L1b", same),
                                ("L1", "cGAN", "L1b"), n_resamples=5000)
    by_name = {e["name"]: {p["other"]: p for p in e["pairwise"]} for e in entries}
    versus = by_name["cGAN"]["L1"]
    assert versus["p_value"] < 0.001 and versus["interval"][0] > 0 and versus["p_greater"] == 1.0
    assert versus["difference"] == pytest.approx(np.mean(high) / 40 - np.mean(low) / 40)
    assert by_name["L1"]["L1b"]["p_value"] > 0.05
    assert by_name["L1"]["cGAN"]["difference"] == pytest.approx(-versus["difference"])


def _row(session, kind, correct, phase="main", algorithm="A"):
    return {"session_id": session, "algorithm": algorithm, "phase": phase, "kind": kind, "correct": correct,
            "session_status": "complete"}


def test_vigilance_failures_are_flagged_and_excluded():
    rows = ([_row("s1", "normal", False)] * 3 + [_row("s1", "vigilance", True)] * 2
            + [_row("s2", "normal", False)] * 3 + [_row("s2", "vigilance", False)] * 2
            + [_row("s3", "normal", True, phase="practice")])
    scores = {s.session_id: s for s in rater_scores(rows, Protocol(vigilance_max_misses=1))}
    assert not scores["s1"].excluded and scores["s2"].excluded and scores["s2"].vigilance_misses == 2
    assert "s3" not in scores or scores["s3"].n_trials == 0  # practice never counts
    (entry,) = algorithm_results(list(scores.values()), ("A",), n_resamples=100)
    assert (entry["n_raters"], entry["n_raters_excluded"], entry["vigilance_pass_rate"]) == (1, 1, 0.5)
    kept = rater_scores(rows, Protocol(vigilance_max_misses=1, exclude_vigilance_failures=False))
    assert not any(s.excluded for s in kept)


def test_results_command_writes_the_document_and_csv(app, study_config, tmp_path, capsys):
    for i in range(4):  # a fresh client is a fresh browser: another rater
        rater = RaterActions(app.test_client())
        rater.complete(rater.start(), choose=lambda trial: "left" if trial["index"] % 2 else "right")
    rater = RaterActions(app.test_client())
    rater.trial(rater.start())  # one unfinished session: in the CSV, not in the results
    out, trials = tmp_path / "study.json", tmp_path / "trials.csv"
    assert main(["study", "results", str(study_config), "--json", str(out), "--csv", str(trials),
                 "--resamples", "500"]) == 0
    document = load_results(out, kinds=("study",))
    runs = {r["name"]: r for r in document["runs"]}
    assert sum(r["n_raters"] for r in runs.values()) == 4 and sum(r["n_trials"] for r in runs.values()) == 16
    for run in runs.values():
        assert {"name", "n_raters", "n_raters_excluded", "n_trials", "n_fooled", "fool_rate", "bootstrap_sd",
                "se_over_raters", "intervals", "pairwise"} <= run.keys()
    assert document["protocol"]["bootstrap"]["resamples"] == 500
    assert document["data"]["timing"]["median_ms"] == 200.0
    rows = list(csv.DictReader(trials.open()))
    assert len(rows) == 4 * 6 and {r["phase"] for r in rows} == {"practice", "main"}
    assert "fooled (± bootstrap SD, raters then trials" in capsys.readouterr().out


def test_admin_table_shows_the_bootstrap_sd(app):
    for i in range(4):
        rater = RaterActions(app.test_client())
        rater.complete(rater.start(), choose=lambda trial: "left" if trial["index"] % 3 else "right")
    client = app.test_client()
    page = client.get(f"/admin/?token={ADMIN_TOKEN}").get_data(as_text=True)
    document = client.get(f"/admin/results.json?token={ADMIN_TOKEN}").get_json()  # same seed and resamples
    assert "% fooled ± bootstrap SD" in page and "± SE" not in page
    assert sum(r["n_raters"] for r in document["runs"]) == 4
    for run in document["runs"]:
        if run["fool_rate"] is not None:
            assert f"{100 * run['fool_rate']:.1f}% ± {100 * run['bootstrap_sd']:.1f}%" in page
            low, high = run["intervals"]["fool_rate"]
            assert f"{100 * low:.1f}–{100 * high:.1f}%" in page


def test_results_command_checks_its_outputs_and_arguments_before_any_work(study_config, tmp_path, capsys):
    # #14.12, .15: a --json naming a folder failed after the analysis; --seed -1 after the bootstrap.
    (tmp_path / "a-file").write_text("")
    for option, path in (("--json", tmp_path), ("--csv", tmp_path / "a-file" / "trials.csv")):
        argv = ["--json", str(tmp_path / "s.json"), option, str(path)] if option == "--csv" else [option, str(path)]
        assert main(["study", "results", str(study_config), *argv]) == 2
        assert f"{option} {path}" in capsys.readouterr().err  # before the database was opened: it has no answers
    with pytest.raises(SystemExit) as stop:
        main(["study", "results", "--records", "r.csv", "--protocol", "hype-inf", "--json", "x.json", "--seed", "-1"])
    assert stop.value.code == 2 and "--seed" in capsys.readouterr().err
