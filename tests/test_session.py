"""The shared session: one shape for every measure (baseline, library API, a new measure, cache layout)."""

import json

import numpy as np
import pytest
from scoring_helpers import unet_segmenter

import p2p_eval
from conftest import make_run
from p2p_eval import measures
from p2p_eval.cache import ItemCache, cache_path_for, file_digest
from p2p_eval.cli import main
from p2p_eval.data.files import read_rgb, write_png
from p2p_eval.data.prepared import PreparedDataset, record_segmenter
from p2p_eval.data.runs import write_run_json
from p2p_eval.measures.colorfulness.measure import Colorfulness
from p2p_eval.measures.states import FrameStates, State, record_dtype
from p2p_eval.metrics.colorfulness import DEFAULT_BINNING
from p2p_eval.results import VERSION, load_results
from p2p_eval.segmenters import save_segmenter
from p2p_eval.session.engine import record_specs


@pytest.fixture
def workspace(tmp_path, prepared):
    """Two photo runs, two label-map runs, a dataset that records its segmenter."""
    make_run(tmp_path / "runs" / "good", prepared)
    make_run(tmp_path / "runs" / "noise", prepared, quality="noise")
    data = PreparedDataset.load(prepared)
    for name, paint in (("maps-good", None), ("maps-noise", (0, 0, 142))):
        run = tmp_path / "maps" / name
        for frame in data.frames("val"):
            colour = read_rgb(data.path("val", frame, "color")).copy()
            if paint:
                colour[4:20, 4:20] = paint
            write_png(run / "images" / "val" / f"{frame}.png", colour)
        write_run_json(run, {"name": name, "variant": "photo2labels-l1", "dataset": str(prepared)})
    save_segmenter(prepared / "seg.pt", unet_segmenter())
    record_segmenter(data, prepared / "seg.pt")
    return tmp_path


def _score(kind, *argv):
    code = main([kind, *map(str, argv), "--workers", "0", "--resamples", "100", "--quiet"])
    assert code == 0
    return load_results(argv[argv.index("--json") + 1])


@pytest.mark.parametrize("kind, runs, base", [
    ("fcn-score", "runs", "noise"), ("label-score", "maps", "maps-noise"), ("colorfulness", "runs", "noise")])
def test_baseline_is_a_run_name_or_its_folder_in_every_measure(workspace, kind, runs, base, capsys):
    by_name = _score(kind, workspace / runs, "--baseline", base, "--json", workspace / "a.json")
    other = next(r for r in by_name["runs"] if r["name"] != base)
    assert other["baseline_test"]["baseline"] == base and other["baseline_test"]["n_frames"] == 3
    single = next(p for p in (workspace / runs).iterdir() if p.name != base)
    by_folder = _score(kind, single, "--baseline", workspace / runs / base, "--json", workspace / "b.json")
    assert [r["name"] for r in by_folder["runs"]] == [single.name, base]  # the baseline folder is scored too
    assert by_folder["runs"][0]["baseline_test"] == other["baseline_test"]
    assert main([kind, str(single), "--baseline", "nope", "--quiet"]) == 2
    assert "--baseline 'nope' is none of the runs given" in capsys.readouterr().err


def test_library_score_equals_the_command(workspace):
    document = _score("colorfulness", workspace / "runs", "--with-real", "--baseline", "noise",
                      "--json", workspace / "c.json")
    results = p2p_eval.score("colorfulness", workspace / "runs", with_real=True, baseline="noise", workers=0,
                             bootstrap=p2p_eval.Bootstrap(resamples=100), progress=False)
    assert [e.to_dict() for e in results.runs] == document["runs"]
    good = next(e for e in results.runs if e.name == "good")
    assert good.scores["a"] == pytest.approx(1.0) and good.intervals["a"] == pytest.approx((1.0, 1.0))
    assert "good" in p2p_eval.format_table(results)
    results.write(workspace / "d.json")
    assert load_results(workspace / "d.json")["runs"] == document["runs"]


def test_the_ground_truth_row_text_names_the_documents_own_percentiles(workspace):
    """colorfulness's and fid's ground-truth row said "2.5-97.5 percentiles" whatever confidence the
    document records (0.9: its interval lies between the 5th and 95th)."""
    results = p2p_eval.score("colorfulness", workspace / "runs", with_real=True, workers=0, progress=False,
                             bootstrap=p2p_eval.Bootstrap(resamples=100, confidence=0.9))
    assert results.protocol["bootstrap"]["confidence"] == 0.9
    assert "the interval their 5-95 percentiles" in results.protocol["real_row"]
    for kind in ("colorfulness", "fid"):
        text = measures.measure_class(kind).real_row_text(p2p_eval.Bootstrap(confidence=0.8))
        assert "their 10-90 percentiles" in text and "{" not in text and "97.5" not in text
        assert "their 2.5-97.5 percentiles" in measures.measure_class(kind).real_row_text(p2p_eval.Bootstrap())


def test_a_measure_is_one_folder_and_a_registry_line(workspace, prepared, monkeypatch, capsys):
    monkeypatch.setitem(measures.MEASURES, "brightness", "brightness")  # tests/brightness/
    monkeypatch.setitem(measures.RESULT_KINDS, "brightness", "brightness")
    out = workspace / "brightness.json"
    document = _score("brightness", workspace / "runs", "--with-real", "--baseline", "noise", "--json", out,
                      "--csv", workspace / "brightness.csv")
    data = PreparedDataset.load(prepared)
    per_frame = {run: [read_rgb(workspace / "runs" / run / "images" / "val" / f"{f}.png").mean() / 255
                       for f in data.frames("val")] for run in ("good", "noise")}
    by_name = {r["name"]: r for r in document["runs"]}
    assert list(by_name) == ["good", "noise", "Ground truth"]  # the ground-truth row last in every table (#14)
    for run, values in per_frame.items():
        assert by_name[run]["brightness"] == pytest.approx(np.mean(values))
        low, high = by_name[run]["intervals"]["brightness"]
        assert min(values) - 1e-12 <= low <= by_name[run]["brightness"] <= high <= max(values) + 1e-12
    test = by_name["good"]["baseline_test"]
    assert test["brightness"]["difference"] == pytest.approx(np.mean(per_frame["good"]) - np.mean(per_frame["noise"]))
    assert "Mean brightness" in capsys.readouterr().out
    assert main(["report", "md", str(out)]) == 0
    assert "| Run | Mean brightness |" in capsys.readouterr().out


def test_cache_entries_of_the_previous_layout_are_recomputed_not_misread(workspace, prepared):
    # The previous version cached a plain histogram per image under the same key; a record of
    # named states has another dtype, so such an entry is a miss, recomputed and replaced.
    run = workspace / "runs" / "good"
    first = _score("colorfulness", run, "--json", workspace / "a.json")
    measure = Colorfulness(DEFAULT_BINNING, (32, 32))
    images = sorted((run / "images" / "val").iterdir())
    with ItemCache(cache_path_for(run), measure.namespace()) as cache:
        cache.put_many({file_digest(p): np.arange(DEFAULT_BINNING.total) for p in images})
    assert _score("colorfulness", run, "--json", workspace / "b.json")["runs"] == first["runs"]
    with ItemCache(cache_path_for(run), measure.namespace()) as cache:
        assert all(v.dtype == record_dtype(record_specs(measure)) for v in cache.get_many(map(file_digest, images)).values())


def test_frame_states_select_sum_and_refuse_what_does_not_add():
    specs = (State("count", (2,)), State("feature", dtype="float64", reduce="cat"))
    records = np.zeros(3, record_dtype(specs))
    records["count"] = [[1, 2], [3, 4], [5, 6]]
    records["feature"] = [0.5, 0.25, 0.125]
    states = FrameStates(("a", "b", "c"), records, specs)
    assert states.select(["c", "a"])["count"].tolist() == [[5, 6], [1, 2]]
    assert states.total("count").tolist() == [9, 12]
    assert states.sums("count", np.array([[2, 0, 1]])).tolist() == [[7.0, 10.0]]
    with pytest.raises(ValueError, match="not additive"):
        states.total("feature")
    with pytest.raises(KeyError, match="'z'"):
        states.select(["z"])


def test_every_measure_writes_what_its_typed_entry_reads(workspace):
    for kind, runs in (("fcn-score", "runs"), ("label-score", "maps"), ("colorfulness", "runs")):
        _score(kind, workspace / runs, "--with-real", "--json", workspace / f"{kind}.json")
        raw = json.loads((workspace / f"{kind}.json").read_text())
        entry_type = measures.entry_type(kind)
        assert [entry_type.from_dict(e).to_dict() for e in raw["runs"]] == raw["runs"]
        assert raw["version"] == VERSION and raw["data"]["dataset_name"] == "tiny"


def test_library_shards_only_when_told(prepared, monkeypatch):
    # A process group that exists (a trainer's, say) is not a request to shard: the previous
    # version split frames whenever torch.distributed was initialised, so a caller could not opt out.
    import torch

    from p2p_eval.distributed import Distributed
    from p2p_eval.measures.fcn_score.pipeline import real_pairs, score_images
    from scoring_helpers import nearest_colour_segmenter

    data = PreparedDataset.load(prepared)
    pairs = real_pairs(data, "val")
    alone = score_images(nearest_colour_segmenter(), data, "val", pairs, workers=0, progress=False)
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda group=None: 1)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda group=None: 2)
    in_a_group = score_images(nearest_colour_segmenter(), data, "val", pairs, workers=0, progress=False)
    np.testing.assert_array_equal(in_a_group, alone)
    assert list(Distributed(1, 1, 2).shard(len(pairs))) == [1]  # told: rank 1 of 2 takes every other frame
