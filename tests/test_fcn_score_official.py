"""--protocol official prints what pix2pix's scripts/eval_cityscapes/evaluate.py prints (#13 §2, §3).

`fast_hist` and `get_scores` below are util.py's lines, transcribed; the loop
in `official_script` is evaluate.py's main loop over the same files.
"""

import json
import sqlite3

import numpy as np
import pytest
import torch
from PIL import Image
from scoring_helpers import NearestColour, unet_segmenter

from conftest import make_prepared_dataset, make_run
from p2p_eval.cache import ItemCache, cache_path_for
from p2p_eval.classes import PALETTE
from p2p_eval.cli import main
from p2p_eval.data.files import read_rgb, write_png
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.errors import InputError
from p2p_eval.measures.base import Frame
from p2p_eval.measures.fcn_score import protocols
from p2p_eval.measures.fcn_score.measure import FcnScore
from p2p_eval.measures.fcn_score.official import official_hists, official_scores
from p2p_eval.metrics.confusion import fcn_scores
from p2p_eval.results import load_results
from p2p_eval.segmenters import Preprocess, Segmenter, registry, save_segmenter
from p2p_eval.session.engine import compute_states

VOID = (255, 255, 255)  # the colour the test segmenter's 20th output (no train class) claims


def fast_hist(a, b, n):  # pix2pix scripts/eval_cityscapes/util.py
    k = np.where((a >= 0) & (a < n))[0]
    bc = np.bincount(n * a[k].astype(int) + b[k], minlength=n**2)
    if len(bc) != n**2:
        # ignore this example if dimension mismatch
        return 0
    return bc.reshape(n, n)


def get_scores(hist):  # pix2pix scripts/eval_cityscapes/util.py
    # Mean pixel accuracy
    acc = np.diag(hist).sum() / (hist.sum() + 1e-12)
    # Per class accuracy
    cl_acc = np.diag(hist) / (hist.sum(1) + 1e-12)
    # Per class IoU
    iu = np.diag(hist) / (hist.sum(1) + hist.sum(0) - np.diag(hist) + 1e-12)
    return acc, np.nanmean(cl_acc), np.nanmean(iu), cl_acc, iu


def void_colour_segmenter(train_size=None) -> Segmenter:
    """20 outputs like the published FCN-8s: channel c < 19 = nearest train colour, channel 19 = white."""
    model = NearestColour(np.concatenate([PALETTE, [VOID]]))
    meta = {"train_size": list(train_size)} if train_size else {}
    return Segmenter(model, "test-void-colour", {}, Preprocess(scale=1.0, mean=(0, 0, 0), std=None),
                     tuple(range(19)) + (255,), meta=meta)


@pytest.fixture
def void_arch(monkeypatch):
    """The test segmenter saved and loaded like any checkpoint (its architecture registered for the test)."""
    monkeypatch.setitem(registry.ARCHITECTURES, "test-void-colour", lambda n: NearestColour(np.zeros((n, 3))))


def test_official_hists_are_fast_hist_frame_by_frame():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 19, (6, 9, 11)).astype(np.uint8)
    labels[:, 0] = 255
    channels = rng.integers(0, 19, labels.shape)
    channels[0, 3, :4] = 19  # predicted void at some class < 18: counted as (g + 1, road)
    labels[1, 5, 5], channels[1, 5, 5] = 18, 19  # void at bicycle: the frame is dropped
    labels[2, 4, 4], channels[2, 4, 4] = 255, 19  # void where the label is ignored: nothing happens
    channels[3, 2, 2] = 25  # another extra output at class 7: index 19 * 7 + 25 = (8, 6)
    labels[3, 2, 2], labels[4, 2, 2], channels[4, 2, 2] = 7, 18, 25  # at bicycle: 367 > 19², dropped
    hists, dropped = official_hists(torch.from_numpy(channels), torch.from_numpy(labels))
    for i in range(len(labels)):
        expected = fast_hist(labels[i].flatten(), channels[i].flatten(), 19)
        np.testing.assert_array_equal(hists[i].numpy(), np.zeros((19, 19)) + expected)
    assert dropped.tolist() == [0, 1, 0, 0, 1, 0]
    assert hists[0].sum() == (labels[0] < 19).sum()  # nothing lost in a kept frame: void moved to road


def test_official_scores_are_get_scores_including_absent_classes_and_empty():
    rng = np.random.default_rng(1)
    hist = rng.integers(0, 50, (19, 19)).astype(float)
    hist[4] = 0  # absent from the ground truth, predicted elsewhere
    hist[7], hist[:, 7] = 0, 0  # absent and never predicted
    for h in (hist, np.zeros((19, 19))):  # every frame dropped: the script prints zeros
        ours = official_scores(h)
        acc, cl_acc, iu, _, _ = get_scores(h)
        assert (ours["pixel_acc"], ours["class_acc"], ours["class_iou"]) == pytest.approx((acc, cl_acc, iu), abs=1e-15)
    stacked = official_scores(np.stack([hist, 2 * hist]))  # bootstrap replicates in one call
    assert stacked["class_iou"] == pytest.approx([get_scores(hist)[2], get_scores(2 * hist)[2]], abs=1e-15)


@pytest.fixture
def scene(tmp_path):
    """A dataset and a run whose generated photos hold white (void) patches: at road-adjacent classes in
    frame 0 and at a bicycle in frame 1 (the official script drops frame 1)."""
    root = make_prepared_dataset(tmp_path / "data", splits={"val": 4})
    data = PreparedDataset.load(root)
    run = make_run(tmp_path / "runs" / "patched", root)
    frames = data.frames("val")
    labels = np.array(Image.open(data.path("val", frames[0], "trainids")))
    labels[labels == 18] = 17  # no bicycle in frame 0: its void pixels move to (g + 1, road)
    write_png(data.path("val", frames[0], "trainids"), labels)
    labels = np.array(Image.open(data.path("val", frames[1], "trainids")))
    labels[8:24, 0:16] = 18  # a bicycle in frame 1
    write_png(data.path("val", frames[1], "trainids"), labels)
    for frame, box in ((frames[0], (slice(0, 16), slice(0, 16))), (frames[1], (slice(9, 15), slice(1, 7)))):
        image = read_rgb(run / "images" / "val" / f"{frame}.png").copy()
        image[box] = VOID
        write_png(run / "images" / "val" / f"{frame}.png", image)
    return tmp_path, data, run


def official_script(segmenter: Segmenter, data: PreparedDataset, run) -> np.ndarray:
    """evaluate.py's loop: imresize to the label size (bilinear), segrun's argmax over every output, fast_hist."""
    hist_perframe = np.zeros((19, 19))
    for idx in data.frames("val"):
        label = np.array(Image.open(data.path("val", idx, "trainids")))[np.newaxis, ...]
        im = np.array(Image.open(run / "images" / "val" / f"{idx}.png"))
        im = np.array(Image.fromarray(im).resize((label.shape[2], label.shape[1]), Image.BILINEAR))
        logits = segmenter.model(torch.from_numpy(im).permute(2, 0, 1)[None].double())
        out = logits[0].argmax(0).numpy().astype(np.uint8)
        hist_perframe += fast_hist(label.flatten(), out.flatten(), 19)
    return hist_perframe


def test_official_protocol_reports_the_script_and_the_corrected_numbers(scene, void_arch, monkeypatch, capsys, caplog):
    tmp_path, data, run = scene
    monkeypatch.setattr(protocols, "OFFICIAL_LABEL_SIZE", (32, 64))  # full 1024x2048 frames: minutes on a CPU
    segmenter = void_colour_segmenter(train_size=(32, 64))
    save_segmenter(tmp_path / "seg.pt", segmenter)
    code = main(["fcn-score", str(run), "--data", str(data.root), "--segmenter", str(tmp_path / "seg.pt"),
                 "--protocol", "official", "--workers", "0", "--resamples", "200", "--json", str(tmp_path / "r.json")])
    out, err = capsys.readouterr()
    err += caplog.text
    assert code == 0
    hist = official_script(segmenter, data, run)
    acc, cl_acc, iu, per_acc, per_iu = get_scores(hist)
    doc = json.loads((tmp_path / "r.json").read_text())
    entry = doc["runs"][0]
    assert (entry["pixel_acc"], entry["class_acc"], entry["class_iou"]) == pytest.approx((acc, cl_acc, iu), abs=1e-12)
    assert [c["iou"] for c in entry["per_class"]] == pytest.approx(per_iu.tolist(), abs=1e-12)
    official = entry["official_script"]
    assert official["frames_dropped"] == 1 and official["confusion"] == hist.astype(int).tolist()
    confusion = np.array(entry["confusion"])
    other = np.array(entry["confusion_other"])
    assert official["pixels_predicted_void"] == other.sum() > 0 and other[18] > 0
    assert confusion.sum() + other.sum() == 4 * (32 * 64 - 3)  # the corrected counts keep every pixel
    corrected = fcn_scores(np.concatenate([confusion, other[:, None]], axis=1), "zero")
    assert entry["corrected"] == pytest.approx({k: float(v) for k, v in corrected.items()}, abs=1e-12)
    assert entry["corrected"]["pixel_acc"] != pytest.approx(entry["pixel_acc"], abs=1e-3)
    low, high = entry["intervals"]["class_iou"]
    assert low <= entry["class_iou"] <= high
    assert "the official script's numbers" in err and "differ from the corrected ones" in err and "1 of 4" in err
    assert "scores: the official evaluate.py's" in out and doc["protocol"]["scores"].startswith("the official")
    assert load_results(tmp_path / "r.json")["runs"][0]["official_script"]["frames_dropped"] == 1  # reads back


def test_the_bootstrap_resamples_the_official_numbers_frame_by_frame(scene):
    _, data, run = scene
    segmenter = void_colour_segmenter()
    measure = FcnScore(segmenter, data, protocol="official", absent_rule="zero")
    pairs = [(f, run / "images" / "val" / f"{f}.png") for f in data.frames("val")]
    states = compute_states(measure, pairs, [Frame(data, "val", f) for f, _ in pairs], batch_size=3, workers=0)
    per_frame = []
    for frame, path in pairs:
        label = np.array(Image.open(data.path("val", frame, "trainids")))
        im = np.array(Image.fromarray(read_rgb(path)).resize((label.shape[1], label.shape[0]), Image.BILINEAR))
        out = segmenter.model(torch.from_numpy(im).permute(2, 0, 1)[None].double())[0].argmax(0).numpy()
        per_frame.append(np.zeros((19, 19)) + fast_hist(label.flatten(), out.flatten(), 19))
    weights = np.random.default_rng(2).multinomial(4, [0.25] * 4, size=7).astype(float)  # 7 resamples of 4 frames
    scores = measure.compute(states, weights, None)
    for b, w in enumerate(weights):
        acc, cl_acc, iu, _, _ = get_scores(sum(wi * h for wi, h in zip(w, per_frame)))
        assert (scores["pixel_acc"][b], scores["class_acc"][b], scores["class_iou"][b]) == pytest.approx(
            (acc, cl_acc, iu), abs=1e-12)


def test_default_protocol_is_unchanged_and_keeps_no_official_state(scene):
    _, data, run = scene
    measure = FcnScore(void_colour_segmenter(), data)
    assert [s.name for s in measure.states] == ["confusion"]
    assert measure.namespace() == FcnScore(void_colour_segmenter(), data, absent_rule="zero").namespace()
    assert measure.namespace() != FcnScore(void_colour_segmenter(), data, protocol="official").namespace()


def test_the_cache_key_names_the_device_as_fid_and_lpips_do(scene):
    """fcn-score's per-frame cache key left the device out: a confusion computed on the GPU (whose argmax
    can break a near-tie the other way) was reused on the CPU, and the other way round."""
    import torch

    _, data, _ = scene
    cpu = FcnScore(void_colour_segmenter(), data, device=torch.device("cpu")).namespace()
    assert cpu != FcnScore(void_colour_segmenter(), data, device=torch.device("cuda")).namespace()
    assert cpu == FcnScore(void_colour_segmenter(), data, device=torch.device("cpu")).namespace()


def test_an_entry_whose_scores_are_not_its_official_script_is_refused(scene, void_arch, monkeypatch, tmp_path):
    _, data, run = scene
    monkeypatch.setattr(protocols, "OFFICIAL_LABEL_SIZE", (32, 64))
    save_segmenter(tmp_path / "seg.pt", void_colour_segmenter(train_size=(32, 64)))
    assert main(["fcn-score", str(run), "--data", str(data.root), "--segmenter", str(tmp_path / "seg.pt"),
                 "--protocol", "official", "--workers", "0", "--resamples", "100", "--quiet",
                 "--json", str(tmp_path / "r.json")]) == 0
    doc = json.loads((tmp_path / "r.json").read_text())
    doc["runs"][0]["pixel_acc"] = doc["runs"][0]["corrected"]["pixel_acc"]
    (tmp_path / "r.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="'pixel_acc' is .* but .* in official_script"):
        load_results(tmp_path / "r.json")
    for where in (doc["runs"][0], doc["runs"][0]["official_script"]):  # both edited alike: the histogram disagrees
        where["pixel_acc"] = 0.5
    (tmp_path / "r.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="'pixel_acc' is 0.5 but .* recomputed from its official_script confusion"):
        load_results(tmp_path / "r.json")


def test_an_impossible_cached_official_record_is_recomputed(scene, void_arch, monkeypatch, tmp_path, caplog):
    _, data, run = scene
    monkeypatch.setattr(protocols, "OFFICIAL_LABEL_SIZE", (32, 64))
    save_segmenter(tmp_path / "seg.pt", void_colour_segmenter(train_size=(32, 64)))
    argv = ["fcn-score", str(run), "--data", str(data.root), "--segmenter", str(tmp_path / "seg.pt"),
            "--protocol", "official", "--workers", "0", "--resamples", "100", "--quiet"]
    assert main([*argv, "--json", str(tmp_path / "a.json")]) == 0
    space = FcnScore(void_colour_segmenter(train_size=(32, 64)), data, protocol="official").namespace()
    with sqlite3.connect(cache_path_for(run)) as db:
        digests = [d for (d,) in db.execute("SELECT digest FROM states")]
    with ItemCache(cache_path_for(run), space) as cache:
        found = cache.get_many(digests)
        digest, record = next((d, r) for d, r in found.items() if r["official_dropped"] == 0)
        forged = record.copy()
        forged["official_hist"][0, 0] += 7  # pixels the frame does not have
        cache.put_many({digest: forged})
    assert main([*argv, "--json", str(tmp_path / "b.json")]) == 0
    assert "1 cached record(s) are impossible for their frame" in caplog.text and "official histogram" in caplog.text
    assert json.loads((tmp_path / "b.json").read_text())["runs"] == json.loads((tmp_path / "a.json").read_text())["runs"]


@pytest.mark.parametrize("train_size, protocol, outcome", [
    ((256, 512), "default", "warns"),    # 8x the 32x64 labels
    ((16, 32), "default", "silent"),     # 2x smaller: within the limit
    ((8, 64), "default", "warns"),       # 4x in height alone
    ((256, 512), "official", "refused"),
    ((32, 64), "official", "silent"),
])
def test_a_segmenter_at_the_wrong_scale_is_warned_about_or_refused(scene, void_arch, monkeypatch, tmp_path, capsys,
                                                                   caplog, train_size, protocol, outcome):
    _, data, run = scene
    monkeypatch.setattr(protocols, "OFFICIAL_LABEL_SIZE", (32, 64))
    save_segmenter(tmp_path / "seg.pt", void_colour_segmenter(train_size=train_size))
    code = main(["fcn-score", str(run), "--data", str(data.root), "--segmenter", str(tmp_path / "seg.pt"),
                 "--protocol", protocol, "--workers", "0", "--resamples", "100", "--quiet"])
    err = capsys.readouterr().err + caplog.text
    mentioned = f"learnt at {train_size[1]}x{train_size[0]}" in err and "scored at 64x32" in err
    assert (code, mentioned) == {"warns": (0, True), "silent": (0, False), "refused": (2, True)}[outcome]
    if outcome == "refused":
        assert "--protocol official refuses this" in err


def test_a_segmenter_without_training_size_is_warned_about(tmp_path, capsys, caplog):
    root = make_prepared_dataset(tmp_path / "data", splits={"val": 2})
    make_run(tmp_path / "run", root)
    save_segmenter(tmp_path / "seg.pt", unet_segmenter())
    code = main(["fcn-score", str(tmp_path / "run"), "--segmenter", str(tmp_path / "seg.pt"), "--workers", "0",
                 "--resamples", "100", "--quiet"])
    assert code == 0 and "records no training size (train_size)" in capsys.readouterr().err + caplog.text


def test_the_batch_size_follows_the_device(scene):
    _, data, _ = scene
    segmenter = void_colour_segmenter()
    assert FcnScore(segmenter, data, device=torch.device("cpu")).default_batch_size == 1
    assert FcnScore(segmenter, data, device=torch.device("cuda")).default_batch_size == 4
