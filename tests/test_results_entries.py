"""Typed results entries: one reader for every kind, old documents, and what it refuses."""

import copy
import json
import re

import pytest
from results_factory import colorfulness_document, fcn_document, losses_document, study_document

from p2p_eval.cli import main
from p2p_eval.data.files import read_json, write_json
from p2p_eval.errors import InputError
from p2p_eval.measures import RESULT_KINDS, entry_type
from p2p_eval.results import VERSION, Results, load_results, results_document, write_results


def _documents() -> dict[str, dict]:
    fcn = losses_document()
    fcn["runs"][1]["baseline_test"] = {"baseline": "unet-l1", "n_frames": 2, "pixel_acc": {
        "difference": 0.1, "interval": [0.05, 0.15], "p_value": 0.01}}
    return {"fcn-score": fcn, "colorfulness": colorfulness_document([("unet-l1", "unet-l1", 2.0)]),
            "study": study_document({"L1": 0.028, "L1+cGAN": 0.061})}


def _as_version_2(document: dict) -> dict:
    """A document as p2p-eval wrote it before schema version 3 (the field it renamed)."""
    old = copy.deepcopy(document) | {"version": 2}
    for entry in old["runs"]:
        if old["kind"] == "study":
            entry["se"] = entry.pop("se_over_raters")
    return old


def _as_version_1(document: dict) -> dict:
    """A document as p2p-eval wrote it before schema version 2 (the fields versions 2 and 3 renamed)."""
    old = _as_version_2(document) | {"version": 1}
    if old["kind"] in ("fcn-score", "label-score"):
        old["data"]["name"] = old["data"].pop("dataset_name")
    for entry in old["runs"]:
        if old["kind"] == "fcn-score" and entry.get("baseline_test"):
            entry["baseline_test"]["n_images"] = entry["baseline_test"].pop("n_frames")
        if old["kind"] == "study":
            entry["interval"] = entry.pop("intervals")["fool_rate"]
    return old


@pytest.mark.parametrize("kind", ["fcn-score", "colorfulness", "study"])
def test_every_kind_round_trips_through_its_typed_entry(kind):
    document = _documents()[kind]
    results = Results.from_dict(document)
    assert results.to_dict()["runs"] == document["runs"]
    assert all(type(e) is entry_type(kind) for e in results.runs)


@pytest.mark.parametrize("kind", ["fcn-score", "study"])
def test_version_1_documents_are_read_with_the_renamed_fields_and_render_alike(kind, tmp_path, capsys):
    current = _documents()[kind]
    write_json(tmp_path / "old.json", _as_version_1(current))
    write_results(tmp_path / "new.json", current)
    read = load_results(tmp_path / "old.json")
    assert read["version"] == VERSION and read["runs"] == current["runs"]
    tables = []
    for name in ("old.json", "new.json"):
        assert main(["report", "md", str(tmp_path / name)]) == 0
        tables.append(capsys.readouterr().out)
    assert tables[0] == tables[1] and "|" in tables[0]


def test_the_study_entry_reads_what_study_app_writes():
    from study_app.analysis import RaterScore, algorithm_results

    scores = [RaterScore(f"s{i}", "A", 40, k, 0, 0, False) for i, k in enumerate((10, 20, 30))]
    document = results_document("study", algorithm_results(scores, ("A",), n_resamples=200), protocol={}, data={})
    (entry,) = Results.from_dict(document).runs
    assert entry.scores["fool_rate"] == pytest.approx(0.5) and entry.n_raters == 3
    low, high = entry.intervals["fool_rate"]
    assert low < 0.5 < high


@pytest.mark.parametrize("change, message", [
    (lambda d: d["runs"][0].update(pixel_accuracy=0.5), "unknown field(s) ['pixel_accuracy']"),
    (lambda d: d["runs"][0].update(pixel_acc=1.7), "'pixel_acc' is 1.7, outside [0, 1]"),
    (lambda d: d["runs"][0]["intervals"].update(class_iou=[-0.2, 0.4]), "the interval of 'class_iou' is -0.2"),
    (lambda d: d["runs"][0]["intervals"].update(iou=[0.1, 0.2]), "names 'iou', which is no fcn-score score"),
    (lambda d: d["runs"][1]["baseline_test"]["pixel_acc"].update(p_value=2.0), "p_value is 2.0, outside [0, 1]"),
    (lambda d: d["runs"][1]["baseline_test"].update(n_images=2), "unknown field(s) ['n_images']"),
    (lambda d: d["runs"][0]["per_class"][3].update(iou=1.5), "per_class 'wall' iou is 1.5"),
    (lambda d: d["runs"][0].update(confusion=[[1, 2]]), "'confusion' must be 19 x 19 pixel counts"),
    (lambda d: d["runs"][2].update(name="unet-l1"), "several run entries are named ['unet-l1']"),
    (lambda d: d.update(kind="hype"), "results of kind 'hype'"),
    # fields of the envelope that tables read: a traceback in `report` before they were checked
    (lambda d: d["data"].update(left_out="x"), "'left_out' must be an object or null"),
    (lambda d: d["data"].update(left_out={"unet-l1": "8"}), "\"left_out 'unet-l1'\" must be a whole number >= 0"),
    (lambda d: d["data"].update(dataset_name=5), "'dataset_name' must be a string"),
    (lambda d: d["data"].update(n_frames=5), "'n_frames' is 5 but 'frames' lists 2"),
    (lambda d: d["protocol"].update(bootstrap="1000 resamples"), "'bootstrap' must be an object or null"),
    (lambda d: d["protocol"]["bootstrap"].update(confidence="high"), "'confidence' must be a number or null"),
    (lambda d: d["protocol"]["bootstrap"].update(confidence=95), "'confidence' must lie between 0 and 1"),
    # cross-checks of a hand-edited file: each was read as found and rendered
    (lambda d: d["runs"][2].update(n_images=9), "run 'unet-cgan': 'n_images' is 9, above the document's 2 frames"),
    (lambda d: d["data"].update(left_out={"unet-l1": 0, "ghost": 3}), "data 'left_out' names run(s) ['ghost']"),
    (lambda d: d["data"].update(n_frames=1, frames=None), "run 'unet-l1': 'n_images' is 2, above the document's 1"),
    (lambda d: d["runs"][1]["baseline_test"]["pixel_acc"].update(difference=0.3),
     "run 'unet-gan': baseline_test 'pixel_acc' difference is 0.3, outside its own interval [0.05, 0.15] (the "
     "paired bootstrap's interval lies around the difference it tests); the file is damaged or was edited."),
    (lambda d: d["runs"][1]["baseline_test"]["pixel_acc"].update(p_value=-0.01), "p_value is -0.01, outside [0, 1]"),
])
def test_contradictory_or_foreign_fields_are_refused_naming_the_run_and_field(change, message, tmp_path, capsys):
    document = copy.deepcopy(_documents()["fcn-score"])  # the factory's documents share their data and protocol
    change(document)
    write_json(tmp_path / "bad.json", document)
    with pytest.raises(InputError) as err:
        load_results(tmp_path / "bad.json")
    assert message in str(err.value) and str(tmp_path / "bad.json") in str(err.value)
    assert not re.search(r"\{[A-Za-z_][\w.]*\}", str(err.value)), "a placeholder was left unfilled (no f-string)"
    assert main(["report", "latex", str(tmp_path / "bad.json"), "--out", str(tmp_path / "t.tex")]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "t.tex").exists()


def test_an_invalid_entry_is_refused_before_it_is_written():
    entry = _documents()["colorfulness"]["runs"][0] | {"L": -0.5}
    with pytest.raises(InputError, match="'L' is -0.5"):
        results_document("colorfulness", [entry], protocol={}, data={})


def test_every_registered_kind_declares_its_scores_and_labels():
    for kind in RESULT_KINDS:
        entry = entry_type(kind)
        assert entry.KIND == kind and entry.SCORES and entry.TITLE and entry.CAPTION
        assert len({s.key for s in entry.SCORES}) == len(entry.SCORES)


def test_a_version_1_document_from_disk_is_upgraded_not_rewritten(tmp_path):
    path = tmp_path / "old.json"
    write_json(path, _as_version_1(_documents()["fcn-score"]))
    before = path.read_bytes()
    assert load_results(path)["data"]["dataset_name"] == "tiny"
    assert path.read_bytes() == before
    assert read_json(path)["version"] == 1


def _colorfulness_with_frames():
    document = _documents()["colorfulness"]
    document["data"]["n_frames"] = 2  # every run has both frames: scores recomputable from the file
    return document


@pytest.mark.parametrize("kind, change, message", [
    ("fcn-score", lambda d: d["runs"][0].update(pixel_acc=0.9), "'pixel_acc' is 0.9 but"),
    ("fcn-score", lambda d: d["runs"][0]["per_class"][3].update(iou=0.5), "'wall iou' is 0.5 but"),
    ("fcn-score", lambda d: d["runs"][2]["confusion"][0].__setitem__(0, 1), "'pixel_acc' is"),
    ("label-score", lambda d: d["runs"][1].update(class_acc=0.25), "'class_acc' is 0.25 but"),
    ("colorfulness", lambda d: d["runs"][0].update(L=0.5), "'L' is 0.5 but"),
])
def test_scores_that_disagree_with_the_files_own_state_are_refused(kind, change, message, tmp_path, capsys):
    # #14.7: `report` rendered whatever a file said; now a score must be what its stored state gives.
    document = {"colorfulness": _colorfulness_with_frames, "fcn-score": lambda: _documents()["fcn-score"],
                "label-score": lambda: fcn_document([("p2l", "photo2labels-l1", 0.7)], kind="label-score")}[kind]()
    load = Results.from_dict(copy.deepcopy(document))  # untouched: reads
    assert load.kind == kind
    change(document)
    write_json(tmp_path / "bad.json", document)
    with pytest.raises(InputError, match="the file was damaged or edited") as err:
        load_results(tmp_path / "bad.json")
    assert message in str(err.value) and "recomputed from its" in str(err.value)
    assert main(["report", "md", str(tmp_path / "bad.json"), "--out", str(tmp_path / "t.md")]) == 2
    assert not (tmp_path / "t.md").exists()


def test_files_scored_under_either_absent_class_rule_read_back(tmp_path, prepared):
    # Classes absent from the ground truth score differently under the two rules; each file reads under its own.
    from conftest import make_run
    from p2p_eval.data.prepared import PreparedDataset, record_segmenter
    from p2p_eval.segmenters import save_segmenter
    from scoring_helpers import unet_segmenter

    make_run(tmp_path / "runs" / "good", prepared)
    save_segmenter(prepared / "seg.pt", unet_segmenter())
    record_segmenter(PreparedDataset.load(prepared), prepared / "seg.pt")
    for rule in ("nan", "zero"):
        out = tmp_path / f"{rule}.json"
        assert main(["fcn-score", str(tmp_path / "runs"), "--absent-classes", rule, "--json", str(out),
                     "--workers", "0", "--resamples", "100", "--quiet"]) == 0
        (entry,) = load_results(out)["runs"]
        assert any(c["acc"] is None for c in entry["per_class"]) == (rule == "nan")  # some class is absent


@pytest.mark.parametrize("value", ["-Infinity", "Infinity"])
def test_an_infinite_number_is_refused_not_ranked(value, tmp_path, capsys):
    """JSON readers take Infinity, and FID has no declared bound: "fid": -Infinity was bold, the best run.
    p2p-eval writes no infinite number (write_json makes it null), so the file was edited."""
    runs = [{"name": name, "fid": fid, "kid": None, "fid_infinity": None, "intervals": {}}
            for name, fid in (("a", 41.2), ("b", 78.9))]
    document = results_document("fid", runs, protocol={}, data={"dataset_name": "tiny", "split": "val"})
    document["runs"][1]["fid"] = "MARK"
    path = tmp_path / "inf.json"
    path.write_text(json.dumps(document).replace('"MARK"', value))
    with pytest.raises(InputError, match=f"'fid' must be a finite number or null, got {value[:-5].lower()}"):
        load_results(path)
    assert main(["report", "md", str(path)]) == 2 and "'fid' must be a finite number" in capsys.readouterr().err


def test_colorfulness_scores_are_recomputed_from_the_histograms_when_only_frames_gives_the_count(tmp_path):
    """The recompute needed ``data.n_frames``: a file without it (deleted, or written with ``frames``
    only) had its scores taken as read, whatever its histograms said."""
    document = copy.deepcopy(_documents()["colorfulness"])
    assert "n_frames" not in document["data"] and document["runs"][0]["n_images"] == len(document["data"]["frames"])
    document["runs"][0]["L"] = 0.999
    write_json(tmp_path / "edited.json", document)
    with pytest.raises(InputError, match="'L' is 0.999 but .* recomputed from its histograms"):
        load_results(tmp_path / "edited.json")


def test_a_ground_truth_row_over_more_frames_than_the_runs_reads():
    """fid's ground-truth row covers the whole split even when --allow-missing runs scored fewer frames
    (data n_frames): the n_images cross-check is for runs only."""
    document = copy.deepcopy(_documents()["fcn-score"])
    real = next(r for r in document["runs"] if r.get("is_real"))
    real["n_images"] = 9
    assert Results.from_dict(document).runs[-1].n_images == 9


def test_a_version_3_fid_document_reads_with_a_null_fid_infinity_and_a_version_4_one_must_have_it(tmp_path):
    """Version 4 added fid's `fid_infinity` score (``--infinity``): files written before it never computed one."""
    runs = [{"name": "a", "fid": 41.2, "kid": None, "fid_infinity": None, "intervals": {}}]
    old = results_document("fid", runs, protocol={}, data={"dataset_name": "tiny", "split": "val"}) | {"version": 3}
    for entry in old["runs"]:  # as version 3 wrote it
        for key in [k for k in entry if k.startswith("fid_infinity")]:
            del entry[key]
    write_json(tmp_path / "v3.json", old)
    read = load_results(tmp_path / "v3.json")
    assert read["version"] == VERSION == 4 and read["runs"][0]["fid_infinity"] is None
    assert read["runs"][0]["fid"] == 41.2 and read["runs"][0]["fid_infinity_sizes"] is None
    write_json(tmp_path / "v4.json", old | {"version": 4})
    with pytest.raises(InputError, match="run 'a' has no 'fid_infinity' score"):
        load_results(tmp_path / "v4.json")
