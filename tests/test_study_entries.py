"""The human-study results kinds (study, hype-inf, hype-time) read through their typed entries.

What each checks on reading, what older study files read as, and the report
notes that say what each "±" is.
"""

import copy

import pytest
from results_factory import losses_document, study_document
from test_hype import _simulated_inf, _trial

from p2p_eval.cli import main
from p2p_eval.data.files import write_json
from p2p_eval.errors import InputError
from p2p_eval.measures import entry_type
from p2p_eval.results import Results, load_results, write_results
from reports.display import TableOptions, table_view
from reports.summary import summary_table
from reports.tables import document_table
from study_app.analysis import hype_document
from study_app.hype import hype_entries


def _timed(model: str, exposures: list[float], raters: int) -> list:
    return [_trial(f"{model}{r}", model, "fake", False, block=0, exposure_ms=e + 10 * r)
            for r in range(raters) for e in exposures]


@pytest.fixture(scope="module")
def hype() -> dict[str, dict]:
    inf = _simulated_inf({"A": (0.6, 0.4), "B": (0.3, 0.2), "C": (0.35, 0.25)}, n_raters=6, seed=0)
    timed = _timed("A", [400, 400, 410], 4) + _timed("B", [300, 310, 310], 4)
    return {"hype-inf": hype_document(inf, "hype-inf", source={"path": "inf.csv"}, n_resamples=300),
            "hype-time": hype_document(timed, "hype-time", source={"path": "time.csv"}, n_resamples=300)}


@pytest.mark.parametrize("kind", ["hype-inf", "hype-time"])
def test_hype_documents_round_trip_through_their_typed_entries(hype, kind):
    document = hype[kind]
    results = Results.from_dict(document)
    assert all(type(e) is entry_type(kind) for e in results.runs)
    assert results.to_dict()["runs"] == document["runs"]
    assert results.to_dict()["comparisons"] == document["comparisons"]
    assert document["comparisons"]["anova" if kind == "hype-inf" else "t_test"] is not None


def _first(document: dict) -> dict:
    return document["runs"][0]


@pytest.mark.parametrize("kind, change, message", [
    ("hype-inf", lambda d: _first(d).update(hype_inf=1.2), "'hype_inf' is 1.2, outside [0, 1]"),
    ("hype-inf", lambda d: _first(d).update(fake_error=-0.1), "'fake_error' is -0.1, outside [0, 1]"),
    ("hype-inf", lambda d: _first(d).update(bootstrap_sd=-0.01), "'bootstrap_sd' is -0.01, outside [0, 0.5]"),
    ("hype-inf", lambda d: _first(d)["intervals"].update(real_error=[0.5, 0.4]), "its low bound above its high"),
    ("hype-inf", lambda d: _first(d).update(hyper_real=not _first(d)["hyper_real"]), "'hyper_real' is"),
    ("hype-inf", lambda d: _first(d).update(n_fake=_first(d)["n_fake"] + 1), "'n_fake' + 'n_real'"),
    ("hype-inf", lambda d: _first(d)["pairwise"][0].update(p_greater=1.5), "p_greater is 1.5"),
    ("hype-inf", lambda d: d["comparisons"].update(models=["A", "Z"]), "names ['Z'], which are no runs"),
    ("hype-inf", lambda d: d["comparisons"]["anova"].update(p_value=2.0), "p_value is 2.0, outside [0, 1]"),
    ("hype-inf", lambda d: d["comparisons"]["tukey_hsd"][0].update(interval=[0.2, -0.2]), "low bound above"),
    ("hype-inf", lambda d: d["comparisons"].update(f_test=None), "comparisons must be an object of"),
    ("hype-time", lambda d: _first(d).update(hype_time_ms=50.0), "'hype_time_ms' is 50.0, outside [100, 1000]"),
    ("hype-time", lambda d: _first(d).update(rater_sd=-1.0), "'rater_sd' is -1.0"),
    ("hype-time", lambda d: d["comparisons"]["t_test"].update(a="Z"), "names ['Z'], which are no runs"),
])
def test_bad_hype_fields_are_refused_naming_the_file_and_field(hype, kind, change, message, tmp_path):
    document = copy.deepcopy(hype[kind])
    change(document)
    write_json(tmp_path / "bad.json", document)
    with pytest.raises(InputError) as err:
        load_results(tmp_path / "bad.json")
    assert message in str(err.value) and str(tmp_path / "bad.json") in str(err.value)


@pytest.mark.parametrize("change, message", [
    (lambda d: _first(d).update(n_fooled=3000), "'n_fooled' is 3000, more than the 2000 trials"),
    (lambda d: _first(d).update(se_over_raters=-0.1), "'se_over_raters' is -0.1"),
    (lambda d: _first(d).update(bootstrap_sd=0.7), "'bootstrap_sd' is 0.7, outside [0, 0.5]"),
    (lambda d: _first(d)["pairwise"][0].update(interval=[0.1, -0.1]), "pairwise 'L1+cGAN' interval is [0.1, -0.1]"),
    (lambda d: d.update(comparisons={"models": []}), "\"comparisons\" in study results, which have none"),
])
def test_bad_study_fields_are_refused(change, message, tmp_path):
    document = study_document({"L1": 0.028, "L1+cGAN": 0.061})
    change(document)
    write_json(tmp_path / "bad.json", document)
    with pytest.raises(InputError) as err:
        load_results(tmp_path / "bad.json")
    assert message in str(err.value)


def test_a_version_2_study_reads_se_as_se_over_raters(tmp_path):
    current = study_document({"L1": 0.028, "L1+cGAN": 0.061})
    old = copy.deepcopy(current) | {"version": 2}
    for entry in old["runs"]:
        entry["se"] = entry.pop("se_over_raters")
    write_json(tmp_path / "v2.json", old)
    assert load_results(tmp_path / "v2.json")["runs"] == current["runs"]


def test_a_version_1_study_with_an_algorithm_nobody_rated_reads(tmp_path):
    # Version 1 wrote "interval": null for it; version 2 read that as an interval of null and refused the file.
    old = copy.deepcopy(study_document({"L1": 0.028})) | {"version": 1}
    entry = old["runs"][0]
    entry.update(n_raters=0, n_trials=0, n_fooled=0, fool_rate=None, bootstrap_sd=None, se=entry.pop("se_over_raters"),
                 interval=None, pairwise=[])
    entry["se"] = None
    del entry["intervals"]
    write_json(tmp_path / "v1.json", old)
    (read,) = load_results(tmp_path / "v1.json")["runs"]
    assert read["intervals"] == {} and read["fool_rate"] is None and read["se_over_raters"] is None


def test_hype_trials_outside_the_staircase_are_refused_at_the_records():
    records = [_trial("a", "M", "fake", False, exposure_ms=e) for e in (500.0, 1200.0)]
    with pytest.raises(InputError, match=r"within the staircase's 100-1000 ms \(the first has 1200.0\)"):
        hype_entries(records, "hype-time")


def test_each_plus_minus_is_named_by_what_it_is(hype):
    study = study_document({"L1": 0.028, "L1+cGAN": 0.061})
    notes = table_view(document_table(study), TableOptions(), latex=True).notes
    assert "$\\pm$ bootstrap SD (raters, then trials)." in notes
    assert not any("half the width" in n for n in notes)
    # --intervals pm on HYPE: the HYPE score's ± is its stored SD, the other columns' half the interval.
    notes = table_view(document_table(hype["hype-inf"]), TableOptions(intervals="pm"), latex=True).notes
    assert "$\\pm$ bootstrap SD (raters resampled with replacement)." in notes
    assert "$\\pm$: half the width of the 95\\% bootstrap interval (the other columns)." in notes
    # A summary holding a study and FCN-scores, under pm: both notes, each for its columns.
    table = summary_table(["fcn.json", "study.json"], [losses_document(), study])
    notes = table_view(table, TableOptions(intervals="pm"), latex=True).notes
    assert "$\\pm$ bootstrap SD (raters, then trials)." in notes
    assert any(n.startswith("$\\pm$: half the width") and "(the other columns)" in n for n in notes)


def test_summary_keeps_hype_columns_and_names_files_by_kind(hype, tmp_path, capsys):
    paths = []
    for kind, document in hype.items():
        paths.append(tmp_path / f"{kind}.json")
        write_results(paths[-1], document)
    assert main(["report", "md", *map(str, paths)]) == 0
    text = capsys.readouterr().out
    assert "| HYPE∞: Std. | HYPE∞: 95% CI |" in text and "| HYPE\\_time: Std. | HYPE\\_time: 95% CI |" in text
    assert "Hype-inf: hype-inf.json" in text and "hype-time: hype-time.json" in text
