"""HYPE scoring on per-trial records: the reader, hand-computed scores, scipy as reference, the CLI."""

import csv
import json

import numpy as np
import pytest
from scipy import stats as scipy_stats

from p2p_eval.cli import main
from p2p_eval.errors import InputError
from p2p_eval.results import load_results
from study_app.hype import hype_entries, modal_exposure, record_summary, rater_states
from study_app.records import COLUMNS, TrialRecord, read_records


def _trial(rater, algorithm, image, wrong, **fields):
    answer = ("real" if image == "fake" else "fake") if wrong else image
    return TrialRecord(rater, algorithm, image, answer, **fields)


def _simulated_inf(rates: dict[str, tuple[float, float]], n_raters: int, seed: int) -> list[TrialRecord]:
    """HYPE-inf records: per model (error on fakes, error on reals), 50 fakes + 50 reals per rater."""
    rng = np.random.default_rng(seed)
    records = []
    for algorithm, (fake_error, real_error) in rates.items():
        for r in range(n_raters):
            shift = rng.normal(0, 0.05)  # raters differ
            for t in range(100):
                image = "fake" if t % 2 else "real"
                p = (fake_error if image == "fake" else real_error) + shift
                records.append(_trial(f"{algorithm}-{r}", algorithm, image, rng.random() < p))
    return records


def _write_csv(path, records, extra=None):
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        for r in records:
            writer.writerow({"rater": r.rater, "algorithm": r.algorithm, "image": r.image, "answer": r.answer,
                             "block": r.block, "phase": r.phase, "exposure_ms": r.exposure_ms or "",
                             "painted_ms": r.painted_ms or "", "correct": int(r.correct),
                             "excluded": ";".join(r.excluded), **(extra or {})})


# ---- the record interface ----------------------------------------------------------------


def test_csv_and_json_read_the_same_records(tmp_path):
    records = [_trial("r1", "A", "fake", True, block=1, exposure_ms=516.6667, painted_ms=515.9),
               _trial("r1", "A", "real", False, block=1, exposure_ms=500.0, excluded=("off-timing", "re-exposed")),
               _trial("r2", "A", "real", False, phase="qualification")]
    _write_csv(tmp_path / "t.csv", records)
    assert read_records(tmp_path / "t.csv") == records
    objects = [{"rater": r.rater, "algorithm": r.algorithm, "image": r.image, "answer": r.answer, "block": r.block,
                "phase": r.phase, "exposure_ms": r.exposure_ms, "painted_ms": r.painted_ms,
                "excluded": list(r.excluded), "correct": r.correct} for r in records]
    (tmp_path / "t.json").write_text(json.dumps({"trials": objects}))
    assert read_records(tmp_path / "t.json") == records
    (tmp_path / "list.json").write_text(json.dumps(objects))
    assert read_records(tmp_path / "list.json") == records


@pytest.mark.parametrize("fields, message", [
    ({"image": "Fake"}, "expected `image` to be one of ['real', 'fake'], got 'Fake'"),
    ({"answer": ""}, "`answer` is missing"),
    ({"answer": "real", "correct": "1"}, "the record contradicts itself"),
    ({"correct": "maybe"}, "expected `correct` to be 1/0 or true/false"),
    ({"block": "-1"}, "expected `block` to be a whole number >= 0, got '-1'"),
    ({"block": "1.5"}, "expected `block` to be a whole number >= 0"),
    ({"exposure_ms": "-5"}, "expected `exposure_ms` to be a positive number of ms"),
    ({"painted_ms": "nan"}, "expected `painted_ms` to be a positive number of ms"),
    ({"phase": "warmup"}, "expected `phase` to be one of ['main', 'practice', 'qualification']"),
])
def test_bad_records_are_refused_with_file_row_and_fix(tmp_path, fields, message):
    row = {"rater": "r1", "algorithm": "A", "image": "fake", "answer": "fake", **fields}
    path = tmp_path / "t.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        writer.writeheader()
        writer.writerow({"rater": "r0", "algorithm": "A", "image": "real", "answer": "real",
                         **{k: "" for k in fields if k not in ("image", "answer")}})
        writer.writerow(row)
    with pytest.raises(InputError) as error:
        read_records(path)
    assert f"{path}: row 3" in str(error.value) and message in str(error.value)


def test_a_misspelt_column_is_refused_not_ignored(tmp_path):
    (tmp_path / "t.csv").write_text("rater,algorithm,image,answer,exposure\nr1,A,fake,fake,500\n")
    with pytest.raises(InputError, match=r"t.csv: header: unknown column\(s\) \['exposure'\]"):
        read_records(tmp_path / "t.csv")
    (tmp_path / "t.json").write_text('[{"rater": "r1", "algorithm": "A", "image": "fake", "answer": "fake", "rt": 1}]')
    with pytest.raises(InputError, match=r"t.json: trial 0: unknown column\(s\) \['rt'\]"):
        read_records(tmp_path / "t.json")


def test_a_trial_listed_twice_is_refused(tmp_path):
    header = "rater,algorithm,image,answer,block,trial\n"
    (tmp_path / "t.csv").write_text(header + "r1,A,fake,fake,0,7\nr1,A,fake,fake,1,7\nr1,A,real,fake,1,7\n")
    with pytest.raises(InputError, match=r"t.csv: row 4: the same trial as row 3 \(rater 'r1', trial 7\)"):
        read_records(tmp_path / "t.csv")
    (tmp_path / "ok.csv").write_text(header + "r1,A,fake,fake,0,7\nr2,A,fake,fake,0,7\nr1,A,real,real,0,\n")
    assert len(read_records(tmp_path / "ok.csv")) == 3  # other rater; no trial number: not checked


def test_files_that_are_not_records_are_refused(tmp_path):
    (tmp_path / "t.txt").write_text("rater\n")
    (tmp_path / "empty.csv").write_text("rater,algorithm,image,answer\n")
    (tmp_path / "ragged.csv").write_text("rater,algorithm,image,answer\nr1,A,fake\n")
    (tmp_path / "object.json").write_text('{"rater": "r1"}')
    for name, message in (("t.txt", "must be a .csv or .json"), ("empty.csv", "holds no trials"),
                          ("ragged.csv", "row 2 has fewer fields"), ("object.json", "expected a JSON list"),
                          ("missing.csv", "file not found")):
        with pytest.raises(InputError, match=message):
            read_records(tmp_path / name)


# ---- scores by hand ----------------------------------------------------------------------


def test_hype_inf_by_hand_with_exclusions_and_phases():
    records = (
        [_trial("a", "M", "fake", w) for w in (True, False, False, False)]
        + [_trial("a", "M", "real", w) for w in (True, True, False, False)]
        + [_trial("b", "M", "fake", True), _trial("b", "M", "fake", True)]
        + [_trial("b", "M", "real", False), _trial("b", "M", "real", False)]
        + [_trial("b", "M", "real", True, excluded=("too-fast",)),  # removed: not scored
           _trial("b", "M", "fake", True, phase="qualification"),  # not main: not scored
           _trial("c", "M", "fake", True, excluded=("qualification",))]  # rater c removed entirely
    )
    (entry,), tests = hype_entries(records, "hype-inf", n_resamples=500)
    assert entry["hype_inf"] == pytest.approx(5 / 12)  # (1 + 2 + 2 + 0) wrong of 12 scored trials
    assert (entry["fake_error"], entry["real_error"]) == (pytest.approx(3 / 6), pytest.approx(2 / 6))
    assert (entry["n_raters"], entry["n_raters_excluded"], entry["n_trials"], entry["n_trials_excluded"]) == (2, 1, 12, 2)
    assert (entry["n_fake"], entry["n_real"], entry["hyper_real"]) == (6, 6, False)
    assert entry["rater_sd"] == pytest.approx(np.std([3 / 8, 2 / 4], ddof=1))
    assert tests["left_out"] == [] and tests["anova"] is None and tests["t_test"] is None  # one model
    summary = record_summary(records)
    assert summary["phases"] == {"main": 14, "practice": 0, "qualification": 1}
    assert summary["exclusions"] == {"qualification": {"trials": 1, "raters": 1}, "too-fast": {"trials": 1, "raters": 0}}


def test_hyper_real_above_one_half():
    records = [_trial("a", "M", "fake", True), _trial("a", "M", "real", True), _trial("a", "M", "fake", False)]
    (entry,), _ = hype_entries(records, "hype-inf", n_resamples=100)
    assert entry["hype_inf"] == pytest.approx(2 / 3) and entry["hyper_real"] is True


def test_modal_exposure_and_its_tie_rule():
    assert modal_exposure([500, 470, 470, 480]) == 470
    assert modal_exposure([470, 480, 470, 480, 500]) == 475  # tie: the mean of the tied modes
    assert modal_exposure([516.6666667, 516.66666668, 500]) == pytest.approx(516.667)  # CSV rounding noise
    with pytest.raises(ValueError):
        modal_exposure([])


def test_hype_time_by_hand():
    def block(rater, number, exposures):
        return [_trial(rater, "M", "fake", False, block=number, exposure_ms=e) for e in exposures]

    records = (block("a", 0, [500, 470, 470, 480]) + block("a", 1, [470, 480, 470, 480, 500])
               + block("b", 0, [300, 300, 310]) + block("b", 2, [320, 320])
               + [_trial("b", "M", "real", True, block=2, exposure_ms=900, excluded=("off-timing",))])
    states = rater_states(records, "hype-time")
    assert states["M"]["a"][0] == pytest.approx((470 + 475) / 2) and states["M"]["b"][0] == pytest.approx(310)
    (entry,), _ = hype_entries(records, "hype-time", n_resamples=500)
    assert entry["hype_time_ms"] == pytest.approx((472.5 + 310) / 2)  # mean over raters of block means
    assert entry["n_blocks"] == 4 and entry["n_trials_excluded"] == 1


def test_protocol_mismatch_is_loud():
    timed = [_trial("a", "M", "fake", False, exposure_ms=500.0)]
    untimed = [_trial("a", "M", "fake", False)]
    with pytest.raises(InputError, match="hype-inf trials have unlimited viewing"):
        hype_entries(timed, "hype-inf")
    with pytest.raises(InputError, match="hype-time needs every main trial's requested exposure_ms"):
        hype_entries(untimed, "hype-time")


# ---- intervals and tests against scipy ------------------------------------------------------


def test_rater_bootstrap_matches_scipy_percentile_bootstrap():
    # With equal trials per rater the pooled error is the mean of per-rater errors: scipy's
    # one-level percentile bootstrap of that mean is the same statistic.
    records = _simulated_inf({"M": (0.4, 0.3)}, n_raters=30, seed=0)
    (entry,), _ = hype_entries(records, "hype-inf", n_resamples=20_000, seed=1)
    per_rater = [np.mean([not r.correct for r in records if r.rater == f"M-{i}"]) for i in range(30)]
    theirs = scipy_stats.bootstrap((per_rater,), np.mean, n_resamples=20_000, method="percentile", random_state=2)
    assert entry["intervals"]["hype_inf"] == pytest.approx(
        [theirs.confidence_interval.low, theirs.confidence_interval.high], abs=0.003)
    assert entry["bootstrap_sd"] == pytest.approx(theirs.standard_error, rel=0.05)


def test_model_comparisons_are_scipys_on_per_rater_scores():
    records = _simulated_inf({"A": (0.6, 0.4), "B": (0.3, 0.2), "C": (0.32, 0.22)}, n_raters=20, seed=3)
    entries, tests = hype_entries(records, "hype-inf", n_resamples=2000)
    per_rater = {m: [np.mean([not r.correct for r in records if r.rater == f"{m}-{i}"]) for i in range(20)]
                 for m in "ABC"}
    anova = scipy_stats.f_oneway(*per_rater.values())
    assert tests["anova"]["p_value"] == pytest.approx(anova.pvalue) and tests["anova"]["df"] == [2, 57]
    tukey = scipy_stats.tukey_hsd(*per_rater.values())
    pairs = {(t["a"], t["b"]): t for t in tests["tukey_hsd"]}
    assert pairs["A", "B"]["p_value"] == pytest.approx(tukey.pvalue[0, 1]) and pairs["A", "B"]["p_value"] < 0.001
    assert pairs["B", "C"]["p_value"] > 0.05 and pairs["B", "C"]["difference"] == pytest.approx(
        np.mean(per_rater["B"]) - np.mean(per_rater["C"]))
    bootstrap = {p["other"]: p for p in entries[0]["pairwise"]}
    assert bootstrap["B"]["p_value"] < 0.001 and bootstrap["B"]["p_greater"] == 1.0
    _, two = hype_entries([r for r in records if r.algorithm != "C"], "hype-inf", n_resamples=200)
    student = scipy_stats.ttest_ind(per_rater["A"], per_rater["B"])
    assert two["anova"] is None and two["t_test"]["p_value"] == pytest.approx(student.pvalue)
    assert two["t_test"]["df"] == 38


def test_a_model_with_one_rater_is_left_out_of_the_tests():
    records = _simulated_inf({"A": (0.5, 0.4), "B": (0.3, 0.2)}, n_raters=5, seed=4)
    records += [_trial("solo", "C", "fake", True), _trial("solo", "C", "real", False)]
    _, tests = hype_entries(records, "hype-inf", n_resamples=200)
    assert tests["left_out"] == ["C"] and tests["t_test"]["a"] == "A" and tests["anova"] is None


# ---- `p2p-eval study results --records` -------------------------------------------------------


def test_results_command_analyses_records(tmp_path, capsys):
    records = _simulated_inf({"StyleGAN": (0.62, 0.39), "ProGAN": (0.45, 0.3)}, n_raters=12, seed=5)
    _write_csv(tmp_path / "trials.csv", records)
    out = tmp_path / "hype.json"
    assert main(["study", "results", "--records", str(tmp_path / "trials.csv"), "--protocol", "hype-inf",
                 "--json", str(out), "--resamples", "1000", "--seed", "7"]) == 0
    document = load_results(out, kinds=("hype-inf",))
    assert [r["name"] for r in document["runs"]] == ["StyleGAN", "ProGAN"]
    assert document["protocol"]["bootstrap"] == {"scheme": "raters with replacement", "resamples": 1000, "seed": 7,
                                                 "confidence": 0.95}
    assert document["data"]["records"]["sha256"] and document["data"]["n_records"] == 2400
    assert document["comparisons"]["t_test"]["p_value"] < 0.05
    printed = capsys.readouterr().out
    assert "StyleGAN: HYPE-inf" in printed and "hyper-real" in printed and "unpaired t-test" in printed


def test_results_command_refuses_outputs_that_would_replace_each_other_or_its_records(tmp_path, capsys):
    """``study results --json x --csv x`` wrote the trials CSV over the results; ``--json trials.csv``
    (the --records file) replaced the answers the analysis read. Refused before any work, as scoring does."""
    _write_csv(tmp_path / "trials.csv", [_trial("a", "M", "fake", True)])
    records = (tmp_path / "trials.csv").read_bytes()
    same = str(tmp_path / "out")
    assert main(["study", "results", str(tmp_path / "study.toml"), "--json", same, "--csv", same]) == 2
    assert f"--json and --csv both name {same}" in capsys.readouterr().err
    assert main(["study", "results", "--records", str(tmp_path / "trials.csv"), "--protocol", "hype-inf",
                 "--json", str(tmp_path / "." / "trials.csv")]) == 2
    assert "this file is also an input (--records)" in capsys.readouterr().err
    assert (tmp_path / "trials.csv").read_bytes() == records and not (tmp_path / "out").exists()


def test_results_command_refuses_unclear_requests(tmp_path, capsys):
    _write_csv(tmp_path / "trials.csv", [_trial("a", "M", "fake", True)])
    json_out = ["--json", str(tmp_path / "o.json")]
    assert main(["study", "results", "--records", str(tmp_path / "trials.csv"), *json_out]) == 2  # no protocol
    assert main(["study", "results", *json_out]) == 2  # neither config nor records
    assert main(["study", "results", str(tmp_path / "study.toml"), "--records", str(tmp_path / "trials.csv"),
                 "--protocol", "hype-inf", *json_out]) == 2  # both
    assert "not both or neither" in capsys.readouterr().err
    assert main(["study", "results", str(tmp_path / "study.toml"), "--seed", "3", *json_out]) == 2
    assert "a study's protocol and seed are in its config" in capsys.readouterr().err
    assert main(["study", "results", "--records", str(tmp_path / "trials.csv"), "--protocol", "hype-inf",
                 "--csv", str(tmp_path / "x.csv"), *json_out]) == 2
    assert not (tmp_path / "o.json").exists()
