"""The HYPE-time staircase rule, frame rounding, and simulated raters recovering their thresholds."""

import doctest

import numpy as np
import pytest

from study_app import comparisons, hype, plan, simulate, staircase
from study_app.hype import hype_entries, rater_bootstrap
from study_app.records import TrialRecord
from study_app.simulate import psychometric_correct, run_staircases, simulate_hype_time
from study_app.staircase import (HYPE_TIME, Staircase, convergence_probability, frame_exposure, frame_warnings,
                                 staircase_step)


@pytest.mark.parametrize("module", [staircase, hype, comparisons, simulate, plan])
def test_docstring_examples(module):
    assert doctest.testmod(module).failed == 0


def test_a_scripted_sequence_moves_as_specified():
    # +10 ms after a wrong answer, -30 ms after three right in a row, the run restarting after either.
    answers = "W RRR RRW RRR R W RRR".replace(" ", "")
    expected = [510, 510, 510, 480, 480, 480, 490, 490, 490, 460, 460, 470, 470, 470, 440]
    level, streak, levels = HYPE_TIME.start_ms, 0, []
    for answer in answers:
        level, streak = staircase_step(level, streak, answer == "R")
        levels.append(level)
    assert levels == expected
    assert isinstance(level, float) and isinstance(streak, int)  # plain numbers for a page's JSON


def test_bounds_hold():
    assert staircase_step(1000.0, 0, False) == (1000.0, 0)
    assert staircase_step(100.0, 2, True) == (100.0, 0)
    assert staircase_step(120.0, 2, True) == (100.0, 0)


def test_arrays_step_like_scalars():
    rng = np.random.default_rng(0)
    answers = rng.random((50, 8)) < 0.7
    levels, streaks = np.full(8, 500.0), np.zeros(8, int)
    scalar = [(500.0, 0)] * 8
    for row in answers:
        levels, streaks = staircase_step(levels, streaks, row)
        scalar = [staircase_step(level, streak, bool(a)) for (level, streak), a in zip(scalar, row)]
    assert levels.tolist() == [s[0] for s in scalar] and streaks.tolist() == [s[1] for s in scalar]


def test_rule_is_validated():
    with pytest.raises(ValueError, match="min_ms <= start_ms <= max_ms"):
        Staircase(start_ms=50.0)
    with pytest.raises(ValueError, match="positive steps"):
        Staircase(up_ms=0.0)


def test_convergence_probability():
    # p**3 of a downward move (-30) balances 1 - p**3 of an upward one (+10): p**3 = 1/4.
    assert convergence_probability() == pytest.approx(0.25 ** (1 / 3))
    assert convergence_probability(Staircase(down_ms=10.0)) == pytest.approx(0.5 ** (1 / 3))  # 79.4%


def test_frame_rounding():
    sixty = 1000 / 60
    assert frame_exposure(510.0, sixty) == (31, pytest.approx(516.667, abs=1e-3))  # 30.6 frames -> 31
    assert frame_exposure(500.0, sixty) == (30, pytest.approx(500.0))
    assert frame_exposure(100.0, sixty)[0] == 6 and frame_exposure(1000.0, sixty)[0] == 60
    assert frame_exposure(25.0, 10.0)[0] == 10  # never below the floor (100 ms = 10 frames)
    assert frame_exposure(105.0, 10.0)[0] == 11  # halves round up
    assert frame_exposure(480.0, None) == (None, 480.0)
    frames, shown = frame_exposure(np.array([100.0, 490.0, 1000.0]), 1000 / 144)
    assert frames.tolist() == [15, 71, 144]  # 100 ms at 144 Hz is 14.4 frames: 15 keep it >= 100 ms
    assert shown[0] >= 100 and shown[2] <= 1000
    with pytest.raises(ValueError):
        frame_exposure(500.0, 0.0)


def test_frame_warnings_say_when_a_step_cannot_be_shown():
    at_60 = frame_warnings(1000 / 60)
    assert len(at_60) == 1 and "+10 ms step is shorter than one frame (16.67 ms at 60 Hz)" in at_60[0]
    at_144 = frame_warnings(1000 / 144)
    assert len(at_144) == 1 and "100 ms floor is shown as 104.2 ms" in at_144[0]
    assert frame_warnings(None) == [] and frame_warnings(10.0) == []


def test_psychometric_function_meets_the_convergence_probability_at_the_threshold():
    assert psychometric_correct(np.array(350.0), 350.0, 3.0) == pytest.approx(convergence_probability())
    assert psychometric_correct(np.array(1e-9), 350.0, 3.0) == pytest.approx(0.5)


@pytest.mark.parametrize("threshold", [250.0, 400.0])
def test_steep_raters_settle_at_their_threshold(threshold):
    scores, _, _ = simulate_hype_time(np.random.default_rng(1), threshold, 0.0, n_raters=400, n_studies=1, slope=6.0)
    assert scores.mean() == pytest.approx(threshold, abs=10)  # measured: +2.3 and +6.3 ms


def test_analysis_of_simulated_trials_gives_the_simulators_scores():
    rng = np.random.default_rng(2)
    thresholds = rng.normal(350, 50, size=(4, 3))  # 4 raters x 3 blocks
    shown, correct = run_staircases(rng, thresholds, n_trials=150, slope=3.0, frame_ms=1000 / 60)
    records = [TrialRecord(f"r{r}", "M", "fake", "fake" if correct[r, b, t] else "real", block=b,
                           exposure_ms=float(f"{shown[r, b, t]:.4f}"))  # through CSV-like text
               for r in range(4) for b in range(3) for t in range(150)]
    (entry,), _ = hype_entries(records, "hype-time", n_resamples=200)
    modes = [[hype.modal_exposure(shown[r, b]) for b in range(3)] for r in range(4)]
    assert entry["hype_time_ms"] == pytest.approx(np.mean(modes), abs=1e-3)


def test_intervals_cover_the_hype_time_score_at_the_nominal_rate():
    # Raters' thresholds ~ N(350, 50) ms, psychometric slope 3, a 60 Hz display, 30 raters per study
    # as HYPE. The score the study estimates is the population's expected HYPE-time (the staircase
    # and the mode add a bias of their own, so it is not exactly 350): from 6,000 simulated raters.
    kwargs = dict(slope=3.0, frame_ms=1000 / 60)
    truth = simulate_hype_time(np.random.default_rng(10), 350, 50, n_raters=6000, n_studies=1, **kwargs)[0].mean()
    assert 350 < truth < 400  # measured: 373 ms
    scores, _, _ = simulate_hype_time(np.random.default_rng(11), 350, 50, n_raters=30, n_studies=400, **kwargs)
    covered = 0
    for s, study in enumerate(scores):
        replicates = rater_bootstrap(np.stack([study, np.ones(30)], axis=1), "hype-time", n_resamples=2000, seed=s)
        low, high = np.percentile(replicates["hype_time_ms"], [2.5, 97.5])
        covered += low <= truth <= high
    assert 0.90 <= covered / len(scores) <= 0.98  # measured: 0.93 (a percentile bootstrap of 30 is a bit narrow)
