"""`p2p-eval fcn-score` / `label-score` end to end: defaults, layouts, results files, bad input."""

import csv
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from scoring_helpers import official_style_confusion, single_and_torchrun, unet_segmenter

from conftest import make_prepared_dataset, make_run
from p2p_eval.cli import main
from p2p_eval.data.files import read_rgb, write_png
from p2p_eval.data.prepared import PreparedDataset, record_segmenter
from p2p_eval.data.runs import write_run_json
from p2p_eval.segmenters import save_segmenter

RUN_FIELDS = {"name", "variant", "preset", "is_real", "n_images", "pixel_acc", "class_acc", "class_iou",
              "intervals", "baseline_test", "per_class", "confusion", "confusion_other", "image_sizes", "matching",
              "run_protocol", "official_script", "corrected"}


@pytest.fixture
def workspace(tmp_path):
    """A dataset that records its segmenter, and two runs that record the dataset."""
    data = make_prepared_dataset(tmp_path / "data", splits={"val": 4})
    make_run(tmp_path / "runs" / "good", data)
    make_run(tmp_path / "runs" / "noise", data, quality="noise")
    save_segmenter(data / "seg.pt", unet_segmenter())
    record_segmenter(PreparedDataset.load(data), data / "seg.pt")
    return tmp_path


@pytest.fixture
def score(capsys, caplog):
    """Run `p2p-eval fcn-score ARGV` in this process: (exit code, stdout, stderr + log)."""

    def run(*argv):
        caplog.clear()
        code = main(["fcn-score", *map(str, argv), "--workers", "0", "--resamples", "200"])
        out, err = capsys.readouterr()
        return code, out, err + caplog.text

    return run


def test_runs_folder_alone_writes_every_field(workspace, score):
    out_json, out_csv = workspace / "fcn.json", workspace / "fcn.csv"
    code, out, _ = score(workspace / "runs", "--with-real", "--json", out_json, "--csv", out_csv,
                          "--baseline", "noise")
    assert code == 0
    doc = json.loads(out_json.read_text())
    assert doc["kind"] == "fcn-score" and doc["data"]["split"] == "val"
    assert [r["name"] for r in doc["runs"]] == ["good", "noise", "Ground truth"]  # ground truth last (#14)
    assert doc["protocol"]["segmenter"]["sha256"] == unet_segmenter().sha256
    assert doc["protocol"]["resize"]["kernel"] == "pillow-bilinear-uint8"
    assert doc["protocol"]["absent_classes"] == "nan" and doc["protocol"]["bootstrap"]["resamples"] == 200
    for run in doc["runs"]:
        assert set(run) == RUN_FIELDS
        hist = np.array(run["confusion"])
        assert hist.shape == (19, 19) and hist.dtype.kind == "i" and len(run["confusion_other"]) == 19
        assert hist.sum() + sum(run["confusion_other"]) == 4 * (32 * 64 - 3)  # every labelled pixel
        assert run["pixel_acc"] == pytest.approx(np.trace(hist) / (hist.sum() + sum(run["confusion_other"])))
        for score in ("pixel_acc", "class_acc", "class_iou"):
            low, high = run["intervals"][score]
            assert low <= run[score] + 1e-12 and run[score] <= high + 1e-12
        assert len(run["per_class"]) == 19 and run["per_class"][13]["name"] == "car"
    assert doc["runs"][2]["is_real"] and doc["runs"][2]["confusion"] == doc["runs"][0]["confusion"]
    assert doc["runs"][2]["matching"] is None  # the ground truth is no run
    assert doc["runs"][0]["matching"] == {"layout": "p2p-eval", "by": "frame-id"}
    assert all(r["official_script"] is None and r["corrected"] is None for r in doc["runs"])  # default protocol
    assert doc["runs"][1]["baseline_test"] is None
    test = doc["runs"][0]["baseline_test"]
    assert test["baseline"] == "noise" and 0 <= test["class_iou"]["p_value"] <= 1
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["name"] for r in rows] == ["good", "noise", "Ground truth"]
    assert float(rows[0]["class_iou"]) == pytest.approx(doc["runs"][0]["class_iou"])
    assert "good" in out and "*" in out and "vs noise" in out
    real_line = next(line for line in out.splitlines() if line.startswith("Ground truth"))
    assert "*" not in real_line  # the ceiling row is not a contender


def test_baseline_given_as_a_folder_is_scored_too(workspace, score):
    code, out, _ = score(workspace / "runs" / "good", "--baseline", workspace / "runs" / "noise",
                         "--json", workspace / "r.json")
    assert code == 0
    runs = json.loads((workspace / "r.json").read_text())["runs"]
    assert [r["name"] for r in runs] == ["good", "noise"]
    assert runs[0]["baseline_test"]["baseline"] == "noise" and runs[0]["baseline_test"]["n_frames"] == 4
    code, _, err = score(workspace / "runs" / "good", "--baseline", "nonesuch")
    assert code == 2 and "neither the name of a scored run" in err


def test_json_confusion_equals_the_official_loop(workspace, score):
    code, _, _ = score(workspace / "runs" / "good", "--json", workspace / "r.json", "--batch-size", "1")
    assert code == 0
    seg = unet_segmenter()
    data = PreparedDataset.load(workspace / "data")
    total = sum(official_style_confusion(seg, workspace / "runs" / "good" / "images" / "val" / f"{frame}.png",
                                         data.path("val", frame, "trainids")) for frame in data.frames("val"))
    assert json.loads((workspace / "r.json").read_text())["runs"][0]["confusion"] == total.tolist()


def test_foreign_layouts_need_data_and_score_the_same(workspace, score):
    data = PreparedDataset.load(workspace / "data")
    frames = data.frames("val")
    torch_layout = workspace / "pix2pix" / "label2photo" / "test_latest" / "images"
    flat = workspace / "flat"
    for i, frame in enumerate(frames):
        image = workspace / "runs" / "good" / "images" / "val" / f"{frame}.png"
        torch_layout.mkdir(parents=True, exist_ok=True)
        flat.mkdir(exist_ok=True)
        shutil.copy(image, torch_layout / f"{i + 1}_fake_B.png")  # the pix2pix download's numbering: from 1
        shutil.copy(image, flat / f"{frame}_leftImg8bit.png")
    code, _, err = score(workspace / "flat")
    assert code == 2 and "pass --data" in err
    code, _, err = score(workspace / "pix2pix" / "label2photo", "--data", workspace / "data")
    assert code == 2 and "--numbering 0 or --numbering 1" in err  # no real_A/real_B siblings (#13)
    code, _, _ = score(workspace / "pix2pix" / "label2photo", flat, workspace / "runs" / "good",
                        "--data", workspace / "data", "--json", workspace / "r.json", "--numbering", "1")
    assert code == 0
    runs = json.loads((workspace / "r.json").read_text())["runs"]
    assert [r["name"] for r in runs] == ["label2photo", "flat", "good"]
    assert runs[0]["confusion"] == runs[1]["confusion"] == runs[2]["confusion"]
    assert runs[0]["matching"] == {"layout": "pytorch-pix2pix", "by": "numbering", "numbering": 1,
                                   "order": "sorted frame ids", "checked_by_content": 0}
    assert runs[1]["matching"] == {"layout": "flat", "by": "frame-id"}


def test_missing_and_extra_images(workspace, score):
    images = workspace / "runs" / "good" / "images" / "val"
    (images / "city_000002_000019.png").unlink()
    code, _, err = score(workspace / "runs" / "good")
    assert code == 2 and "1 frame(s) of 'val' have no generated image" in err and "city_000002_000019" in err
    code, _, err = score(workspace / "runs" / "good", "--allow-missing", "--json", workspace / "r.json")
    assert code == 0 and "scoring the 3 matched frame(s) only" in err
    doc = json.loads((workspace / "r.json").read_text())
    assert doc["runs"][0]["n_images"] == 3 and doc["data"]["left_out"] == {"good": 1}
    shutil.copy(images / "city_000000_000019.png", images / "city_000009_000019.png")
    code, _, err = score(workspace / "runs" / "good", "--allow-missing")
    assert code == 0
    code, _, err = score(workspace / "runs" / "good")
    assert code == 2 and "1 image(s) match no frame" in err and "city_000009_000019.png" in err


def test_corrupt_image_is_named_with_exit_status_2(workspace, score):
    bad = workspace / "runs" / "noise" / "images" / "val" / "city_000001_000019.png"
    bad.write_bytes(bad.read_bytes()[:100])
    code, _, err = score(workspace / "runs")
    assert code == 2 and "1 of 4 frame(s) could not be scored" in err and str(bad) in err


def test_segmenter_problems_are_explained(workspace, score):
    meta = json.loads((workspace / "data" / "dataset.json").read_text())
    meta["segmenter"] = None
    (workspace / "data" / "dataset.json").write_text(json.dumps(meta))
    code, _, err = score(workspace / "runs")
    assert code == 2 and "records no segmenter" in err and "train-segmenter" in err
    blob = torch.load(workspace / "data" / "seg.pt", weights_only=True)
    blob["class_set"] = "ade20k-150"
    torch.save(blob, workspace / "other.pt")
    code, _, err = score(workspace / "runs", "--segmenter", workspace / "other.pt")
    assert code == 2 and "class set 'ade20k-150'" in err


def test_official_protocol_refuses_low_resolution_labels_and_conflicting_rule(workspace, score):
    code, _, err = score(workspace / "runs", "--protocol", "official")
    assert code == 2 and "2048x1024" in err and "prepare cityscapes --root" in err and "64x32" in err
    with pytest.raises(SystemExit) as exit_:
        score(workspace / "runs", "--protocol", "official", "--absent-classes", "nan")
    assert exit_.value.code == 2


def test_official_protocol_counts_absent_classes_as_zero_like_get_scores(workspace, score, monkeypatch):
    # Full 1024x2048 frames would take minutes on this CPU: the size check is
    # pointed at the fixture's label size; everything else is the real path.
    from p2p_eval.measures.fcn_score import protocols

    monkeypatch.setattr(protocols, "OFFICIAL_LABEL_SIZE", (32, 64))
    data = PreparedDataset.load(workspace / "data")
    for frame in data.frames("val"):  # no bicycle anywhere: an absent class
        labels = np.array(Image.open(data.path("val", frame, "trainids")))
        write_png(data.path("val", frame, "trainids"), np.where(labels == 18, 255, labels).astype(np.uint8))
    code, _, err = score(workspace / "runs" / "noise", "--protocol", "official", "--json",
                          workspace / "r.json")
    assert code == 0 and "official evaluator is the pix2pix FCN-8s" in err
    doc = json.loads((workspace / "r.json").read_text())
    assert doc["protocol"]["name"] == "official" and doc["protocol"]["absent_classes"] == "zero"
    run = doc["runs"][0]
    hist = np.array(run["confusion"], dtype=np.float64)
    assert hist[18].sum() == 0 and hist[:, 18].sum() > 0  # absent, yet predicted
    acc = np.diag(hist).sum() / (hist.sum() + 1e-12)  # the official get_scores
    cl_acc = np.nanmean(np.diag(hist) / (hist.sum(1) + 1e-12))
    iou = np.nanmean(np.diag(hist) / (hist.sum(1) + hist.sum(0) - np.diag(hist) + 1e-12))
    assert (run["pixel_acc"], run["class_acc"], run["class_iou"]) == pytest.approx((acc, cl_acc, iou), abs=1e-12)
    assert "have no ground-truth pixel" in err


def test_label_score_on_generated_colour_maps(workspace, score):
    data = PreparedDataset.load(workspace / "data")
    run = workspace / "labels" / "photo2labels-l1"
    for frame in data.frames("val"):
        colour = read_rgb(data.path("val", frame, "color")).copy()
        colour[5:9, 5:9] = (0, 0, 142)  # a car painted into every frame
        write_png(run / "images" / "val" / f"{frame}.png", colour)
    write_run_json(run, {"name": run.name, "variant": "photo2labels-l1", "dataset": str(data.root)})
    code = main(["label-score", str(workspace / "labels"), "--with-real", "--json", str(workspace / "l.json"),
                 "--workers", "1"])
    assert code == 0
    doc = json.loads((workspace / "l.json").read_text())
    assert doc["kind"] == "label-score" and doc["protocol"]["decode"]["far_distance"] == 30.0
    generated, real = doc["runs"]
    assert set(generated) == RUN_FIELDS | {"far_pixels"} and generated["far_pixels"] == 0
    assert real["is_real"] and real["pixel_acc"] > generated["pixel_acc"]
    moved = np.array(real["confusion"]) - np.array(generated["confusion"])
    assert np.array(generated["confusion"])[:, 13].sum() > np.array(real["confusion"])[:, 13].sum()
    assert moved.sum() == 0  # same labelled pixels, only columns changed


@pytest.mark.slow
@pytest.mark.xdist_group("torchrun")
def test_torchrun_two_gloo_processes_give_the_single_process_matrix(workspace):
    one, two = single_and_torchrun(
        ["fcn-score", str(workspace / "runs"), "--workers", "0", "--resamples", "100", "--device", "cpu"],
        workspace, ["runs/*/.p2p-eval-cache.sqlite*"], timeout=300)
    assert [a["name"] for a in one["runs"]] == [b["name"] for b in two["runs"]] and one["runs"]  # zip() truncates
    for a, b in zip(one["runs"], two["runs"]):
        assert a["confusion"] == b["confusion"] and a["confusion_other"] == b["confusion_other"]
        assert a["intervals"] == b["intervals"]
