"""`prepare cityscapes` on a tiny fake Cityscapes tree: real PNGs, official names, real labelIds."""

import glob
import json
import os
from pathlib import Path

import numpy as np
import pytest
from cityscapesscripts.helpers.labels import id2label
from PIL import Image

from p2p_eval.classes import PALETTE
from p2p_eval.cli import main
from p2p_eval.data.cityscapes import CityscapesConfig, find_frames, prepare_cityscapes
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.errors import InputError

FRAMES = {"train": ["aachen_000000_000019", "aachen_000001_000019", "bochum_000000_000313"],
          "val": ["frankfurt_000000_000294", "lindau_000000_000019"]}
H, W, SIZE = 32, 64, 16


def _official_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """trainIds the slow, obvious way, from cityscapesScripts' own table (the reference)."""
    out = np.empty_like(label_ids)
    for (r, c), value in np.ndenumerate(label_ids):
        train_id = id2label[int(value)].trainId
        out[r, c] = train_id if 0 <= train_id < 19 else 255
    return out


def _official_colors(label_ids: np.ndarray) -> np.ndarray:
    """``*_gtFine_color.png`` as cityscapesScripts' json2labelImg writes it: RGBA, label.color per labelId."""
    rgba = np.full((*label_ids.shape, 4), 255, np.uint8)
    for (r, c), value in np.ndenumerate(label_ids):
        rgba[r, c, :3] = id2label[int(value)].color
    return rgba


def make_cityscapes(root: Path, frames=FRAMES, seed: int = 0) -> Path:
    """Write photos, labelIds and colour maps in the official layout; labelIds cover every official id 0..33."""
    rng = np.random.default_rng(seed)
    for split, ids in frames.items():
        for frame in ids:
            city = frame.split("_")[0]
            photo = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
            labels = np.kron(rng.integers(0, 34, (H // 4, W // 4), dtype=np.uint8), np.ones((4, 4), np.uint8))
            labels[0, :34] = np.arange(34)
            for folder, suffix, image in (("leftImg8bit", "leftImg8bit", photo), ("gtFine", "gtFine_labelIds", labels),
                                          ("gtFine", "gtFine_color", _official_colors(labels))):
                path = root / folder / split / city / f"{frame}_{suffix}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(path)
    return root


def _label_path(root, split, frame):
    return root / "gtFine" / split / frame.split("_")[0] / f"{frame}_gtFine_labelIds.png"


def _photo_path(root, split, frame):
    return root / "leftImg8bit" / split / frame.split("_")[0] / f"{frame}_leftImg8bit.png"


def test_clean_values_match_the_official_table_and_pillow_resizes(tmp_path):
    root = make_cityscapes(tmp_path / "cs")
    meta = prepare_cityscapes(root, tmp_path / "out", CityscapesConfig(size=SIZE, like="clean"), progress=False)
    data = PreparedDataset.load(tmp_path / "out")
    assert {s: list(f) for s, f in data.splits.items()} == FRAMES
    assert meta["image_size"] == [SIZE, SIZE] and meta["label_size"] == [H, W]
    assert meta["resample"]["photo"] == "bicubic"
    for split, frames in FRAMES.items():
        for frame in frames:
            label_ids = np.asarray(Image.open(_label_path(root, split, frame)))
            train_ids = np.asarray(Image.open(data.path(split, frame, "trainids")))
            np.testing.assert_array_equal(train_ids, _official_train_ids(label_ids))
            photo = Image.open(_photo_path(root, split, frame))
            expected = np.asarray(photo.resize((SIZE, SIZE), Image.Resampling.BICUBIC))
            np.testing.assert_array_equal(np.asarray(Image.open(data.path(split, frame, "photo"))), expected)
            # colour map: the trainIds' colours at pixel centres (nearest), ignored pixels black
            color = np.asarray(Image.open(data.path(split, frame, "color")))
            rows = ((np.arange(SIZE) + 0.5) * H / SIZE).astype(int)
            cols = ((np.arange(SIZE) + 0.5) * W / SIZE).astype(int)
            small = train_ids[rows][:, cols]
            lut = np.zeros((256, 3), np.uint8)
            lut[:19] = PALETTE
            np.testing.assert_array_equal(color, lut[small])


def test_worker_count_does_not_change_a_byte(tmp_path):
    root = make_cityscapes(tmp_path / "cs")
    prepare_cityscapes(root, tmp_path / "one", CityscapesConfig(size=SIZE), workers=1, progress=False)
    prepare_cityscapes(root, tmp_path / "two", CityscapesConfig(size=SIZE), workers=2, progress=False)
    one = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.png"))
    assert len(one) == 15
    for rel in one:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes(), rel


def test_resume_rewrites_only_missing_or_wrong_frames(tmp_path, caplog):
    root = make_cityscapes(tmp_path / "cs")
    out = tmp_path / "out"
    prepare_cityscapes(root, out, CityscapesConfig(size=SIZE), progress=False)
    data = PreparedDataset.load(out)
    gone = data.path("val", FRAMES["val"][0], "color")
    gone.unlink()
    wrong = data.path("train", FRAMES["train"][0], "photo")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(wrong)  # wrong size: must be redone
    damaged = data.path("val", FRAMES["val"][1], "trainids")
    damaged.write_bytes(damaged.read_bytes()[:-20])  # truncated: the header alone would pass
    (out / "train" / ".x_photo.png.123.tmp").write_bytes(b"half")  # left by a killed run
    kept = data.path("train", FRAMES["train"][1], "photo")
    before = kept.stat().st_mtime_ns
    with caplog.at_level("INFO"):
        prepare_cityscapes(root, out, CityscapesConfig(size=SIZE), progress=False)
    assert "2 of 5 frames already written" in caplog.text and "damaged" in caplog.text
    assert gone.is_file() and Image.open(wrong).size == (SIZE, SIZE)
    np.asarray(Image.open(damaged))  # whole again
    assert kept.stat().st_mtime_ns == before
    assert not list(out.glob("*/.*.tmp"))


def test_other_parameters_into_the_same_folder_are_refused(tmp_path):
    root = make_cityscapes(tmp_path / "cs")
    prepare_cityscapes(root, tmp_path / "out", CityscapesConfig(size=SIZE), progress=False)
    with pytest.raises(InputError, match="other parameters"):
        prepare_cityscapes(root, tmp_path / "out", CityscapesConfig(size=SIZE * 2), progress=False)


def test_unknown_label_id_stops_names_the_file_and_the_rerun_resumes(tmp_path):
    root = make_cityscapes(tmp_path / "cs")
    bad = _label_path(root, "val", FRAMES["val"][1])
    good = np.asarray(Image.open(bad))
    broken = good.copy()
    broken[3, 3] = 40
    Image.fromarray(broken).save(bad)
    out = tmp_path / "out"
    with pytest.raises(InputError, match=rf"{bad.name}.*\[40\].*labelIds"):
        prepare_cityscapes(root, out, CityscapesConfig(size=SIZE), progress=False)
    assert not (out / "dataset.json").exists()  # not a dataset until every frame is there
    assert not list((out / "val").glob(f"{FRAMES['val'][1]}_*"))  # nothing of the bad frame
    Image.fromarray(good).save(bad)
    prepare_cityscapes(root, out, CityscapesConfig(size=SIZE), progress=False)
    PreparedDataset.load(out).check_files("val")


@pytest.mark.parametrize("damage, message", [
    ("rgb_labels", "mode RGB"),
    ("sixteen_bit_labels", "mode I;16"),
    ("truncated_labels", "cannot decode"),
    ("truncated_photo", "cannot decode"),
    ("size_mismatch", "same Cityscapes release"),
])
def test_bad_files_are_named(tmp_path, damage, message):
    root = make_cityscapes(tmp_path / "cs")
    frame = FRAMES["train"][2]
    labels, photo = _label_path(root, "train", frame), _photo_path(root, "train", frame)
    if damage == "rgb_labels":
        Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(labels)
    elif damage == "sixteen_bit_labels":
        Image.fromarray(np.zeros((H, W), np.uint16)).save(labels)
    elif damage.startswith("truncated"):
        victim = labels if damage.endswith("labels") else photo
        victim.write_bytes(victim.read_bytes()[:70])
    else:
        Image.fromarray(np.zeros((H, W + 2, 3), np.uint8)).save(photo)
    victim = photo if damage in ("truncated_photo", "size_mismatch") else labels
    with pytest.raises(InputError, match=message) as err:
        prepare_cityscapes(root, tmp_path / "out", CityscapesConfig(size=SIZE), workers=2, progress=False)
    assert str(victim) in str(err.value)
    assert not list((tmp_path / "out" / "train").glob(f"{frame}_*"))


def test_unpaired_files_and_missing_folders_are_named_before_writing(tmp_path):
    root = make_cityscapes(tmp_path / "cs")
    lonely = _photo_path(root, "val", "lindau_000001_000019")
    lonely.write_bytes(_photo_path(root, "val", FRAMES["val"][1]).read_bytes())
    with pytest.raises(InputError, match="lindau_000001_000019_leftImg8bit.png") as err:
        find_frames(root, "val")
    assert "gtFine" in str(err.value)
    lonely.unlink()
    orphan = _label_path(root, "val", FRAMES["val"][0])
    _photo_path(root, "val", FRAMES["val"][0]).unlink()
    with pytest.raises(InputError, match=orphan.name):
        prepare_cityscapes(root, tmp_path / "out", CityscapesConfig(size=SIZE), progress=False)
    assert not (tmp_path / "out").exists()  # the pairing check runs before anything is written
    (root / "leftImg8bit" / "test").mkdir(parents=True)
    with pytest.raises(InputError, match="gtFine_trainvaltest.zip"):
        find_frames(root, "test")
    with pytest.raises(InputError, match="no such folder"):
        find_frames(tmp_path / "nowhere", "val")


def test_cli_prepares_and_reports_bad_input_with_exit_2(tmp_path, capsys):
    root = make_cityscapes(tmp_path / "cs")
    out = tmp_path / "out"
    assert main(["prepare", "cityscapes", "--root", str(root), "--out", str(out), "--size", str(SIZE),
                 "--splits", "val", "--workers", "1", "--quiet"]) == 0
    assert "val 2 frames" in capsys.readouterr().out
    assert json.loads((out / "dataset.json").read_text())["source"]["splits"] == ["val"]
    code = main(["prepare", "cityscapes", "--root", str(tmp_path / "nope"), "--out", str(tmp_path / "o2"), "--quiet"])
    assert code == 2 and "no such folder" in capsys.readouterr().err


def _prepare_cityscapes_dataset_py(gtFine_dir: Path, leftImg8bit_dir: Path, output_dir: Path, phase: str) -> None:
    """PyTorch pix2pix's datasets/prepare_cityscapes_dataset.py process_cityscapes, its steps written out
    (the CycleGAN A/B copies and the prints left out)."""
    def load_resized_img(path):
        return Image.open(path).convert("RGB").resize((256, 256))

    save_phase = "test" if phase == "val" else "train"
    savedir = os.path.join(output_dir, save_phase)
    os.makedirs(savedir, exist_ok=True)
    segmap_paths = sorted(glob.glob(os.path.join(gtFine_dir, phase) + "/*/*_color.png"))
    photo_paths = sorted(glob.glob(os.path.join(leftImg8bit_dir, phase) + "/*/*_leftImg8bit.png"))
    assert len(segmap_paths) == len(photo_paths)
    for i, (segmap_path, photo_path) in enumerate(zip(segmap_paths, photo_paths)):
        assert os.path.basename(segmap_path).replace("_gtFine_color", "") == \
            os.path.basename(photo_path).replace("_leftImg8bit", "")
        segmap = load_resized_img(segmap_path)
        photo = load_resized_img(photo_path)
        sidebyside = Image.new("RGB", (512, 256))
        sidebyside.paste(segmap, (256, 0))
        sidebyside.paste(photo, (0, 0))
        savepath = os.path.join(savedir, "%d.jpg" % i)
        sidebyside.save(savepath, format="JPEG", subsampling=0, quality=100)


def _aligned_halves(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A and B as PyTorch pix2pix's aligned dataset cuts them from an AB file."""
    AB = Image.open(path).convert("RGB")
    w, h = AB.size
    w2 = int(w / 2)
    return np.asarray(AB.crop((0, 0, w2, h))), np.asarray(AB.crop((w2, 0, w, h)))


def test_pytorch_mode_is_what_the_pytorch_preparation_feeds_its_trainer_byte_for_byte(tmp_path):
    root = make_cityscapes(tmp_path / "cs")
    script = tmp_path / "script"
    for phase in ("val", "train"):  # the script's __main__ order
        _prepare_cityscapes_dataset_py(root / "gtFine", root / "leftImg8bit", script, phase)
    meta = prepare_cityscapes(root, tmp_path / "out", CityscapesConfig(), workers=2, progress=False)
    data = PreparedDataset.load(tmp_path / "out")
    assert meta["source"]["like"] == "pytorch-pix2pix" and meta["image_size"] == [256, 256]
    assert meta["color_check"]["mismatched_pixels"] == 0 and meta["color_check"]["frames_counted"] == 5
    for split, folder in (("train", "train"), ("val", "test")):
        numbering = meta["pix2pix_numbering"][split]
        assert numbering["folder"] == folder and numbering["first"] == 0
        assert sorted(p.name for p in (script / folder).iterdir()) == [f"{i}.jpg" for i in range(len(FRAMES[split]))]
        for i, frame in enumerate(numbering["frames"]):
            photo, labels = _aligned_halves(script / folder / f"{i}.jpg")
            np.testing.assert_array_equal(np.asarray(Image.open(data.path(split, frame, "photo"))), photo)
            np.testing.assert_array_equal(np.asarray(Image.open(data.path(split, frame, "color"))), labels)
            label_ids = np.asarray(Image.open(_label_path(root, split, frame)))
            np.testing.assert_array_equal(np.asarray(Image.open(data.path(split, frame, "trainids"))),
                                          _official_train_ids(label_ids))
    # The input is the 29-colour map, blurred by bicubic and JPEG: not the 19 train colours drawn nearest.
    clean = prepare_cityscapes(root, tmp_path / "clean", CityscapesConfig(like="clean"), progress=False)
    assert clean["source"]["like"] == "clean"
    frame = FRAMES["val"][0]
    ours = np.asarray(Image.open(data.path("val", frame, "color"))).reshape(-1, 3)
    theirs = np.asarray(Image.open(PreparedDataset.load(tmp_path / "clean").path("val", frame, "color"))).reshape(-1, 3)
    assert len(np.unique(theirs, axis=0)) <= 20 < len(np.unique(ours, axis=0))


def test_the_numbering_follows_the_scripts_sorted_colour_paths(tmp_path):
    frames = {"val": ["munster_000000_000019", "frankfurt_000001_000019", "lindau_000000_000019",
                      "frankfurt_000000_000294"]}
    root = make_cityscapes(tmp_path / "cs", frames=frames)
    meta = prepare_cityscapes(root, tmp_path / "out", CityscapesConfig(size=SIZE, splits=("val",)), progress=False)
    listed = sorted(glob.glob(str(root / "gtFine" / "val") + "/*/*_color.png"))
    assert meta["pix2pix_numbering"]["val"]["frames"] == [os.path.basename(p)[: -len("_gtFine_color.png")] for p in listed]


def test_colour_maps_that_disagree_with_their_labelids_are_counted(tmp_path, caplog):
    root = make_cityscapes(tmp_path / "cs")
    frame = FRAMES["train"][1]
    path = root / "gtFine" / "train" / "aachen" / f"{frame}_gtFine_color.png"
    rgba = np.asarray(Image.open(path)).copy()
    rgba[5, 7, :3] = (1, 2, 3)
    Image.fromarray(rgba).save(path)
    meta = prepare_cityscapes(root, tmp_path / "out", CityscapesConfig(size=SIZE), progress=False)
    check = meta["color_check"]
    assert check["mismatched_pixels"] == 1 and check["worst_frames"] == [{"frame": f"train/{frame}", "mismatched_pixels": 1}]
    assert "do not have their labelId's colour" in caplog.text


def test_missing_colour_maps_are_named_with_the_way_out(tmp_path, capsys):
    root = make_cityscapes(tmp_path / "cs")
    gone = root / "gtFine" / "val" / "lindau" / f"{FRAMES['val'][1]}_gtFine_color.png"
    gone.unlink()
    args = ["prepare", "cityscapes", "--root", str(root), "--size", str(SIZE), "--workers", "1", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert gone.name in err and "--like clean" in err and not (tmp_path / "out").exists()
    assert main([*args, "--out", str(tmp_path / "clean"), "--like", "clean"]) == 0  # trainIds need no colour map
    with pytest.raises(SystemExit) as exit_:  # a setting that does not apply is an error, like argparse's
        main([*args, "--out", str(tmp_path / "x"), "--color-resample", "bicubic"])
    assert exit_.value.code == 2 and "applies to like='clean'" in capsys.readouterr().err


def test_export_gives_pytorch_pix2pix_the_pixels_of_its_own_preparation(tmp_path):
    from PIL import JpegImagePlugin

    root = make_cityscapes(tmp_path / "cs")
    script = tmp_path / "script"
    for phase in ("val", "train"):
        _prepare_cityscapes_dataset_py(root / "gtFine", root / "leftImg8bit", script, phase)
    prepare_cityscapes(root, tmp_path / "data", CityscapesConfig(), progress=False)
    meta = json.loads((tmp_path / "data" / "dataset.json").read_text())
    assert main(["export", "pix2pix-ab", str(tmp_path / "data"), "--out", str(tmp_path / "ab"), "--quiet"]) == 0
    for split, folder in (("train", "train"), ("val", "test")):
        for i, frame in enumerate(meta["pix2pix_numbering"][split]["frames"]):
            for ours, theirs in zip(_aligned_halves(tmp_path / "ab" / folder / f"{frame}.png"),
                                    _aligned_halves(script / folder / f"{i}.jpg")):
                np.testing.assert_array_equal(ours, theirs)  # what its aligned loader hands the networks
    assert main(["export", "pix2pix-ab", str(tmp_path / "data"), "--out", str(tmp_path / "numbered"), "--quiet",
                 "--names", "index", "--format", "jpg"]) == 0
    assert sorted(p.name for p in (tmp_path / "numbered" / "test").iterdir()) == ["0.jpg", "1.jpg"]
    record = json.loads((tmp_path / "numbered" / "p2p-eval-export.json").read_text())
    assert record["frames"]["test"] == {str(i): f for i, f in enumerate(meta["pix2pix_numbering"]["val"]["frames"])}
    with Image.open(tmp_path / "numbered" / "test" / "0.jpg") as jpeg:  # as the script saves: 4:4:4, quality 100
        assert JpegImagePlugin.get_sampling(jpeg) == 0 and all(max(t) == 1 for t in jpeg.quantization.values())
