"""#14: what scoring refuses, checks and says instead of a silent wrong number or a traceback.

Each test names the item of issue #14 it pins; each failed on the code before the fix.
"""

import csv
import json
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scoring_helpers import unet_segmenter

from conftest import make_prepared_dataset, make_run
from p2p_eval.cache import CACHE_NAME, cache_path_for
from p2p_eval.cli import main
from p2p_eval.data.files import read_json, read_rgb, write_png
from p2p_eval.data.prepared import PreparedDataset, record_segmenter
from p2p_eval.data.runs import write_run_json
from p2p_eval.segmenters import save_segmenter


@pytest.fixture
def workspace(tmp_path):
    """A dataset that records its segmenter (an untrained U-Net), and a perfect run of it."""
    data = make_prepared_dataset(tmp_path / "data", splits={"val": 4})
    save_segmenter(data / "seg.pt", unet_segmenter())
    record_segmenter(PreparedDataset.load(data), data / "seg.pt")
    make_run(tmp_path / "runs" / "good", data)
    return tmp_path


def _run(kind, *argv):
    return main([kind, *map(str, argv), "--workers", "0", "--resamples", "100", "--quiet"])


def _images(run):
    return sorted((run / "images" / "val").iterdir())


# 1. Images scored against the data they were generated from, or refused.

def test_images_generated_from_other_data_are_refused(workspace, capsys):
    from p2p_eval.data.prepared import split_record

    run, data = workspace / "runs" / "good", PreparedDataset.load(workspace / "data")
    meta = read_json(run / "run.json")
    write_run_json(run, {**meta, "generated": {"val": {"frames": 4, "dataset": split_record(data, "val")}}})
    assert _run("fcn-score", run, "--json", workspace / "a.json") == 0  # the same data: scored
    other = make_prepared_dataset(workspace / "other", splits={"val": 4}, seed=1)  # same frame ids, other labels
    assert _run("fcn-score", run, "--data", other, "--segmenter", workspace / "data" / "seg.pt") == 2
    err = capsys.readouterr().err
    assert "'good': generated from" in err and f"--data {(workspace / 'data').resolve()}" in err
    assert f"p2p-eval generate {run} --data {other} --split val" in err
    assert _run("colorfulness", run, "--data", other) == 2  # every measure checks it
    labels = workspace / "data" / "val" / "city_000002_000019_trainids.png"  # the dataset changed since
    write_png(labels, np.zeros((32, 64), np.uint8))
    assert _run("fcn-score", run) == 2
    assert "which has changed since" in capsys.readouterr().err


# 2. 16-bit greyscale scaled by its bit depth, never clipped; modes with no known depth refused.

def test_sixteen_bit_greyscale_is_scaled_not_clipped(workspace, caplog):
    grey8, grey16 = (make_run(workspace / "runs2" / name, workspace / "data") for name in ("grey8", "grey16"))
    for image8, image16 in zip(_images(grey8), _images(grey16)):
        grey = np.asarray(Image.open(image8).convert("L"))
        Image.fromarray(grey).save(image8)
        Image.fromarray(grey.astype(np.uint16) * 257).save(image16)  # the same image at 16 bits
    assert Image.open(image16).mode == "I;16"
    for kind, scores in (("fcn-score", ("pixel_acc", "class_acc", "class_iou")), ("colorfulness", ("L", "a", "b"))):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert _run(kind, workspace / "runs2", "--json", workspace / f"{kind}.json") == 0
        by_name = {r["name"]: r for r in read_json(workspace / f"{kind}.json")["runs"]}
        assert [by_name["grey16"][k] for k in scores] == [by_name["grey8"][k] for k in scores]  # clipped: L 0.000
        assert "4 I;16 (16-bit greyscale scaled to 8 bits, round(v * 255 / 65535)" in caplog.text


def test_the_jpeg_warning_is_worded_for_every_measure(workspace, caplog):
    """The JPEG warning said "JPEG artefacts lower FCN-scores" when colorfulness scored the run too."""
    run = make_run(workspace / "runs2" / "jpeg", workspace / "data")
    for image in _images(run):
        Image.open(image).convert("RGB").save(image.with_suffix(".jpg"), quality=90)
        image.unlink()
    with caplog.at_level(logging.WARNING):
        assert _run("colorfulness", run) == 0
    warning = next(r.getMessage() for r in caplog.records if "are JPEG" in r.getMessage())
    assert "4 image(s) are JPEG" in warning and "FCN" not in warning
    assert "change the pixels every measure reads" in warning and "Save generated images as PNG" in warning


def test_modes_of_unknown_bit_depth_are_refused_with_the_fix(workspace, capsys):
    image = _images(workspace / "runs" / "good")[1]
    Image.fromarray(np.full((32, 32), 0.5, np.float32)).save(image, format="TIFF")  # float pixels, named .png
    for kind in ("fcn-score", "colorfulness"):
        assert _run(kind, workspace / "runs" / "good") == 2
        err = capsys.readouterr().err
        assert f"{image}: pixels of mode F (32-bit float) have no known bit depth" in err
        assert "save the image as an 8-bit RGB PNG" in err


# 3. photo->labels runs refused by the photo measures, and the converse.

def test_runs_of_the_other_direction_are_refused_with_a_pointer(workspace, capsys):
    run = workspace / "runs" / "good"
    write_run_json(run, {**read_json(run / "run.json"), "direction": "BtoA"})
    for kind in ("fcn-score", "colorfulness"):
        assert _run(kind, run) == 2
        err = capsys.readouterr().err
        assert "photo->labels" in err and f"`p2p-eval label-score {run}`" in err
    write_run_json(run, {**read_json(run / "run.json"), "direction": "AtoB"})
    assert _run("label-score", run) == 2
    err = capsys.readouterr().err
    assert f"`p2p-eval fcn-score {run}` or `p2p-eval colorfulness {run}`" in err
    assert not list(run.glob(".p2p-eval-cache*"))  # refused before any work


# 4. Runs scored on fewer frames (--allow-missing) shown as such, never ranked against complete ones.

def test_a_run_with_frames_left_out_is_marked_and_not_ranked(workspace, capsys):
    make_run(workspace / "runs" / "noise", workspace / "data", quality="noise")
    _images(workspace / "runs" / "good")[0].unlink()  # the better run, on 3 of the 4 frames
    assert _run("fcn-score", workspace / "runs", "--allow-missing") == 0
    lines = capsys.readouterr().out.splitlines()
    good, noise = (next(line for line in lines if line.startswith(name)) for name in ("good", "noise"))
    assert good.startswith("good ~") and "3 of 4" in good and "*" not in good
    assert noise.split()[1] == "4" and noise.count("*") == 3
    assert "*: best run in the column, among the runs scored on 4 frames (good scored on fewer, not ranked)" in lines
    assert any(line.startswith("~: frames left out (--allow-missing)") for line in lines)


# 5. The cache: every entry checked, damaged files moved aside, never a sqlite3 traceback.

def _flip_a_bit_of_a_stored_record(cache_file):
    """One flipped bit inside a stored value's bytes, as a failing disk would leave it."""
    with sqlite3.connect(cache_file) as db:
        (value,) = db.execute("SELECT value FROM states LIMIT 1").fetchone()
    blob = cache_file.read_bytes()
    at = blob.index(value) + len(value) - 3  # in the confusion counts, past numpy's header
    cache_file.write_bytes(blob[:at] + bytes([blob[at] ^ 0x10]) + blob[at + 1:])


def test_a_flipped_bit_in_the_cache_is_recomputed_and_said(workspace, caplog):
    run = workspace / "runs" / "good"
    assert _run("fcn-score", run, "--json", workspace / "a.json") == 0
    _flip_a_bit_of_a_stored_record(run / CACHE_NAME)
    with caplog.at_level(logging.WARNING):
        assert _run("fcn-score", run, "--json", workspace / "b.json") == 0
    assert f"{run / CACHE_NAME}: 1 cached record(s) failed their checksum" in caplog.text
    assert read_json(workspace / "b.json")["runs"] == read_json(workspace / "a.json")["runs"]


def test_a_wrong_record_with_a_good_checksum_is_recomputed(workspace, caplog):
    # Well-formed but impossible: a confusion that counts other pixels than the frame labels.
    from p2p_eval.cache import ItemCache
    from p2p_eval.measures.fcn_score.measure import FcnScore
    from p2p_eval.segmenters import load_segmenter

    run = workspace / "runs" / "good"
    assert _run("fcn-score", run, "--json", workspace / "a.json") == 0
    data = PreparedDataset.load(workspace / "data")
    space = FcnScore(load_segmenter(workspace / "data" / "seg.pt"), data).namespace()
    with ItemCache(cache_path_for(run), space) as cache, sqlite3.connect(run / CACHE_NAME) as db:
        digests = [d for (d,) in db.execute("SELECT digest FROM states")]
        records = cache.get_many(digests)
        forged = records[digests[0]].copy()
        forged["confusion"][0, 0] += 1000  # more pixels of class 0 predicted right
        cache.put_many({digests[0]: forged})
    with caplog.at_level(logging.WARNING):
        assert _run("fcn-score", run, "--json", workspace / "b.json") == 0
    assert "1 cached record(s) are impossible for their frame and are recomputed" in caplog.text
    assert "labels 2045" in caplog.text  # 32x64 pixels, 3 ignored
    assert read_json(workspace / "b.json")["runs"] == read_json(workspace / "a.json")["runs"]


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_cache_file_is_moved_aside_and_rebuilt(workspace, caplog, capsys, damage):
    run = workspace / "runs" / "good"
    assert _run("colorfulness", run, "--json", workspace / "a.json") == 0
    cache_file = run / CACHE_NAME
    blob = cache_file.read_bytes()
    cache_file.write_bytes(os.urandom(4096) if damage == "garbage" else blob[: len(blob) // 3])
    with caplog.at_level(logging.WARNING):
        assert _run("colorfulness", run, "--json", workspace / "b.json") == 0
    aside = list(run.glob(f"{CACHE_NAME}.damaged-*"))
    assert len(aside) == 1 and f"{cache_file}: the cache file is damaged" in caplog.text and aside[0].name in caplog.text
    assert "Traceback" not in capsys.readouterr().err
    assert read_json(workspace / "b.json")["runs"] == read_json(workspace / "a.json")["runs"]


# 6. The sizes of the generated images recorded, and off sizes named.

def test_image_sizes_are_recorded_and_off_sizes_warned_about(workspace, caplog):
    run = workspace / "runs" / "good"
    images = _images(run)
    write_png(images[0], np.zeros((1, 1, 3), np.uint8))
    write_png(images[1], np.zeros((64, 32, 3), np.uint8))
    for kind in ("fcn-score", "colorfulness"):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert _run(kind, run, "--json", workspace / f"{kind}.json") == 0
        assert ("run 'good': 2 of 4 image(s) are not 32x32 (the dataset's image size): 1 x 1x1, "
                f"1 x 64x32 (another aspect ratio), e.g. {images[0]}") in caplog.text
        (entry,) = read_json(workspace / f"{kind}.json")["runs"]
        assert entry["image_sizes"] == [{"height": 32, "width": 32, "frames": 2},
                                        {"height": 1, "width": 1, "frames": 1},
                                        {"height": 64, "width": 32, "frames": 1}]


# 12, 15. Arguments and output paths checked before any work.

@pytest.mark.parametrize("option, value", [("--seed", "-1"), ("--seed", str(2**32)), ("--resamples", "1"),
                                           ("--resamples", "1000000")])
def test_bad_arguments_stop_before_any_work(workspace, option, value, capsys):
    """``--resamples 1000000`` had no upper bound: it ran out of memory after the scoring, hours in."""
    run = workspace / "runs" / "good"
    with pytest.raises(SystemExit) as stop:
        main(["colorfulness", str(run), option, value])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and option in err and value in err
    if value == "1000000":
        assert "at most 100000" in err
    assert not (run / CACHE_NAME).exists()


@pytest.mark.parametrize("kind", ["fcn-score", "colorfulness"])
def test_bad_output_paths_stop_before_any_work(workspace, kind, capsys):
    run = workspace / "runs" / "good"
    (workspace / "a-file").write_text("")
    cases = [("--json", workspace), ("--csv", workspace / "a-file" / "x.csv")]
    if kind == "colorfulness":
        cases.append(("--plot", workspace / "a-file" / "x.png"))
    for option, path in cases:
        assert _run(kind, run, option, path) == 2
        assert f"{option} {path}" in capsys.readouterr().err
        assert not (run / CACHE_NAME).exists()


# 13. Decompression bombs: the file, the limit and the fix.

def test_an_image_over_the_pixel_limit_is_named_with_the_fix(workspace, monkeypatch, capsys):
    run = workspace / "runs" / "good"
    big = _images(run)[2]
    write_png(big, np.zeros((100, 100, 3), np.uint8))  # 10,000 pixels; labels 2,048, photos 1,024
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3000)  # Pillow refuses above twice this
    for kind in ("fcn-score", "colorfulness"):
        assert _run(kind, run) == 2
        err = capsys.readouterr().err
        assert str(big) in err and "exceeds limit of 6000 pixels" in err and "P2P_EVAL_MAX_IMAGE_PIXELS" in err
    monkeypatch.setenv("P2P_EVAL_MAX_IMAGE_PIXELS", "10000")  # the fix, for a trusted file
    assert _run("fcn-score", run) == 0
    monkeypatch.setenv("P2P_EVAL_MAX_IMAGE_PIXELS", "many")
    assert _run("fcn-score", run) == 2
    assert "Expected P2P_EVAL_MAX_IMAGE_PIXELS to be a whole number" in capsys.readouterr().err


# 14. A run folder whose name is not UTF-8: JSON and CSV both written, the same readable name in each.

def test_a_run_folder_named_in_latin1_is_written_everywhere(workspace, capsys):
    data = workspace / "data"
    name = os.fsdecode(b"r\xe9sultats")  # "résultats" in Latin-1: not UTF-8
    make_run(workspace / "latin" / name, data)
    run = workspace / "latin" / name
    write_run_json(run, {"name": name, "variant": "test", "dataset": str(data)})
    out_json, out_csv = workspace / "l.json", workspace / "l.csv"
    assert _run("fcn-score", run, "--json", out_json, "--csv", out_csv, "--baseline", name) == 0
    document = json.loads(out_json.read_bytes().decode("utf-8"))  # strict UTF-8, no lone surrogates
    with out_csv.open(encoding="utf-8", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert document["runs"][0]["name"] == row["name"] == "r\\xe9sultats"
    assert document["data"]["left_out"] == {"r\\xe9sultats": 0} and document["protocol"]["baseline"] == "r\\xe9sultats"
    assert "r\\xe9sultats" in capsys.readouterr().out


def test_read_rgb_keeps_working_for_every_reader(workspace):
    # The explicit conversions serve every reader of images, not only the measures.
    image = _images(workspace / "runs" / "good")[0]
    grey = np.asarray(Image.open(image).convert("L"))
    Image.fromarray(grey.astype(np.uint16) * 257).save(image)
    assert np.array_equal(read_rgb(image)[..., 0], grey)


# 18. Bad input under torchrun: one message, from rank 0.

@pytest.mark.slow
@pytest.mark.xdist_group("torchrun")
def test_bad_input_in_two_processes_gives_one_message(workspace):
    run = workspace / "runs" / "good"
    _images(run)[1].unlink()  # a frame without its image
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "OMP_NUM_THREADS": "1"}
    command = ["fcn-score", str(run), "--device", "cpu", "--workers", "0", "--quiet"]
    plain = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                            "-m", "p2p_eval", *command], env=env, capture_output=True, text=True, timeout=300)
    assert plain.returncode != 0 and plain.stderr.count("p2p-eval: error:") == 1  # rank 0's, not one per rank
    ours = subprocess.run([sys.executable, "-m", "p2p_eval", "--nproc-per-node", "2", *command], env=env,
                          capture_output=True, text=True, timeout=300)
    assert ours.returncode == 2
    assert ours.stderr.splitlines() == [
        f"p2p-eval: error: run 'good' ({run}): 1 frame(s) of 'val' have no generated image, e.g. "
        "['city_000001_000019']. Generate every frame, or pass --allow-missing to score the intersection."]
    assert ours.stdout == ""


def test_scoring_the_segmenters_own_training_frames_is_warned_about(workspace, caplog):
    """A segmenter scores the frames it learnt from far better than new ones: fcn-score --split train with
    the segmenter trained on that split printed optimistic FCN-scores (the real row too) without a word."""
    data = workspace / "data"
    segmenter = unet_segmenter()
    segmenter.meta = {"train_size": [32, 64], "trained_on": {"dataset": "tiny", "path": str(data), "split": "val"}}
    save_segmenter(data / "seg.pt", segmenter)
    with caplog.at_level(logging.WARNING):
        assert _run("fcn-score", workspace / "runs" / "good") == 0
    said = [r.getMessage() for r in caplog.records if "trained on" in r.getMessage()]
    assert len(said) == 1 and "split 'val' of this dataset" in said[0] and "--split" in said[0]
    caplog.clear()
    segmenter.meta["trained_on"]["split"] = "train"  # the paper's protocol: trained on train, scored on val
    save_segmenter(data / "seg.pt", segmenter)
    with caplog.at_level(logging.WARNING):
        assert _run("fcn-score", workspace / "runs" / "good") == 0
    assert not [r for r in caplog.records if "trained on" in r.getMessage()]
