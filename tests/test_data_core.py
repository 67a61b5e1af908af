import json

import numpy as np
import pytest
from PIL import Image

from p2p_eval.data.files import read_label_png, read_rgb, write_json
from p2p_eval.data.matching import match_frames
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.data.runs import discover_runs
from p2p_eval.errors import InputError
from p2p_eval.results import load_results, results_document, write_results

from conftest import make_run


def test_prepared_dataset_round_trip(prepared):
    data = PreparedDataset.load(prepared)
    assert data.frames("val") == tuple(sorted(data.frames("val")))
    assert data.image_size == (32, 32)
    data.check_files("val")
    assert read_label_png(data.path("val", data.frames("val")[0], "trainids")).shape == (32, 64)


def test_missing_frame_file_is_named(prepared):
    data = PreparedDataset.load(prepared)
    victim = data.path("val", data.frames("val")[1], "photo")
    victim.unlink()
    with pytest.raises(InputError, match=victim.name):
        data.check_files("val")


def test_not_a_dataset_says_how_to_make_one(tmp_path):
    with pytest.raises(InputError, match="p2p-eval prepare"):
        PreparedDataset.load(tmp_path)


def test_colour_png_where_labels_expected_is_refused(tmp_path):
    path = tmp_path / "x_color.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(path)
    with pytest.raises(InputError, match="mode RGB"):
        read_label_png(path)


def test_truncated_png_is_named(tmp_path):
    path = tmp_path / "bad.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(InputError, match="bad.png"):
        read_rgb(path)


def test_rgba_converted_with_warning(tmp_path, caplog):
    path = tmp_path / "a.png"
    Image.fromarray(np.full((2, 2, 4), 200, np.uint8)).save(path)
    assert read_rgb(path).shape == (2, 2, 3)
    assert "RGBA" in caplog.text


def test_discover_all_three_layouts_and_match(prepared, tmp_path):
    data = PreparedDataset.load(prepared)
    frames = data.frames("val")
    make_run(tmp_path / "runs" / "mine", prepared)
    torch_dir = tmp_path / "runs" / "theirs" / "test_latest" / "images"
    flat_dir = tmp_path / "runs" / "flat" / "val" / "city"
    for i, frame in enumerate(sorted(frames), start=1):
        torch_dir.mkdir(parents=True, exist_ok=True)
        flat_dir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(torch_dir / f"{i}_fake_B.png")
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(flat_dir / f"{frame}_leftImg8bit.png")
    runs = discover_runs([tmp_path / "runs"])
    assert [(r.name, r.layout) for r in runs] == [
        ("flat", "flat"), ("mine", "p2p-eval"), ("theirs", "pytorch-pix2pix")]
    for run in runs:  # numbered without real_A/real_B siblings: the numbering must be given (#13)
        assert [f for f, _ in match_frames(run, frames, "val", numbering=1)] == list(frames)


def test_missing_image_is_refused_unless_allowed(prepared, tmp_path, caplog):
    run_dir = make_run(tmp_path / "run", prepared)
    frames = PreparedDataset.load(prepared).frames("val")
    (run_dir / "images" / "val" / f"{frames[0]}.png").unlink()
    [run] = discover_runs([run_dir])
    with pytest.raises(InputError, match=r"1 frame\(s\) of 'val' have no generated image"):
        match_frames(run, frames, "val")
    assert len(match_frames(run, frames, "val", allow_missing=True)) == len(frames) - 1
    assert "--allow-missing" in caplog.text


def test_results_newer_version_and_unknown_kind_are_refused(tmp_path):
    doc = results_document("fcn-score", [], protocol={}, data={})
    write_results(tmp_path / "r.json", doc)
    assert load_results(tmp_path / "r.json")["kind"] == "fcn-score"
    write_json(tmp_path / "new.json", {**doc, "version": 99})
    with pytest.raises(InputError, match="newer"):
        load_results(tmp_path / "new.json")
    write_json(tmp_path / "odd.json", {**doc, "kind": "hype"})
    with pytest.raises(InputError, match="hype"):
        load_results(tmp_path / "odd.json")


def test_nan_written_as_null(tmp_path):
    write_json(tmp_path / "n.json", {"x": float("nan"), "y": np.float32(0.5)})
    assert json.loads((tmp_path / "n.json").read_text()) == {"x": None, "y": 0.5}


def _edit_dataset_json(root, edit):
    meta = json.loads((root / "dataset.json").read_text())
    edit(meta)
    (root / "dataset.json").write_text(json.dumps(meta))


def test_a_frame_listed_twice_is_refused_not_scored_twice(prepared, tmp_path, capsys):
    from p2p_eval.cli import main

    frames = PreparedDataset.load(prepared).frames("val")
    run = make_run(tmp_path / "run", prepared)
    _edit_dataset_json(prepared, lambda meta: meta["splits"]["val"].append(frames[0]))
    with pytest.raises(InputError, match=f"split 'val' lists 1 frame.*more than once.*{frames[0]}"):
        PreparedDataset.load(prepared)
    assert main(["colorfulness", str(run), "--data", str(prepared), "--quiet", "--resamples", "100"]) == 2
    assert "more than once" in capsys.readouterr().err


@pytest.mark.parametrize("edit, named", [
    (lambda meta: meta.pop("name"), '"name"'),
    (lambda meta: meta.pop("image_size"), "'image_size'"),
    (lambda meta: meta.__setitem__("label_size", [64, "wide"]), "'label_size'"),
    (lambda meta: meta.pop("splits"), '"splits"'),
    (lambda meta: meta.__setitem__("splits", {"val": "city_000000_000019"}), '"splits"'),
    (lambda meta: meta["splits"]["val"].append(7), "no frame id"),
    (lambda meta: meta["splits"]["val"].append("../train/city_000000_000019"), "no frame id"),
    (lambda meta: meta.__setitem__("segmenter", 3), '"segmenter"'),
], ids=["no name", "no image_size", "label_size", "no splits", "split not a list", "number", "path", "segmenter"])
def test_a_malformed_dataset_json_is_named_not_a_traceback(prepared, edit, named):
    _edit_dataset_json(prepared, edit)
    with pytest.raises(InputError, match=f"dataset.json: expected .*{named}|dataset.json: .*{named}"):
        PreparedDataset.load(prepared)
