"""`prepare pix2pix-ab`: side-by-side import, palette decoding and its far-pixel report."""

import json

import numpy as np
import pytest
from PIL import Image

from p2p_eval.classes import colorize
from p2p_eval.cli import main
from p2p_eval.data.files import read_label_png, read_rgb
from p2p_eval.data.pix2pix_ab import AbConfig, decode_colors, prepare_pix2pix_ab
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.errors import InputError

from conftest import make_prepared_dataset


def _write_ab(prepared, src, suffix=".png", labels_in="B", quality=100, photos="fixture"):
    """AB images from a prepared dataset: photo | colour labels (or swapped), one per frame.

    ``photos="noise"`` puts uniform noise in the photo half: like a real photo, most of its
    pixels are far from every label colour (the fixture's photos are label colours +- 20).
    """
    data = PreparedDataset.load(prepared)
    rng = np.random.default_rng(0)
    truth = {}
    for split in data.splits:
        for i, frame in enumerate(data.frames(split)):
            photo = read_rgb(data.path(split, frame, "photo"))
            if photos == "noise":
                photo = rng.integers(0, 256, photo.shape, dtype=np.uint8)
            ids = read_label_png(data.path(split, frame, "trainids"))[:, ::2]  # 32x32, like the photo
            halves = (photo, colorize(ids)) if labels_in == "B" else (colorize(ids), photo)
            path = src / split / f"{i + 1}{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.concatenate(halves, axis=1)).save(path, quality=quality, subsampling=0)
            truth[split, str(i + 1)] = (photo, ids)
    return truth


@pytest.mark.parametrize("labels_in, direction", [("B", "BtoA"), ("A", "AtoB")])
def test_png_round_trip_is_exact(prepared, tmp_path, labels_in, direction):
    truth = _write_ab(prepared, tmp_path / "ab", labels_in=labels_in)
    meta = prepare_pix2pix_ab(tmp_path / "ab", tmp_path / "out", AbConfig(direction=direction), progress=False)
    data = PreparedDataset.load(tmp_path / "out")
    assert set(data.frames("train")) == {"1", "2", "3", "4"}
    for (split, frame), (photo, ids) in truth.items():
        np.testing.assert_array_equal(read_label_png(data.path(split, frame, "trainids")), ids)
        np.testing.assert_array_equal(read_rgb(data.path(split, frame, "photo")), photo)
        np.testing.assert_array_equal(read_rgb(data.path(split, frame, "color")), colorize(ids))
    assert meta["decode"]["far_pixels"] == 0 and meta["decode"]["pixels"] == 7 * 32 * 32


def test_jpeg_labels_decode_nearly_exactly_and_far_pixels_are_counted(prepared, tmp_path):
    truth = _write_ab(prepared, tmp_path / "ab", suffix=".jpg", quality=75)
    meta = prepare_pix2pix_ab(tmp_path / "ab", tmp_path / "out", AbConfig(direction="BtoA", tolerance=10),
                              workers=2, progress=False)
    data = PreparedDataset.load(tmp_path / "out")
    agree = [np.mean(read_label_png(data.path(s, f, "trainids")) == ids) for (s, f), (_, ids) in truth.items()]
    assert min(agree) > 0.95
    decode = meta["decode"]
    assert decode["frames_counted"] == 7 and 0 < decode["far_pixels"] < 0.1 * decode["pixels"]
    on_disk = json.loads((tmp_path / "out" / "dataset.json").read_text())["decode"]
    assert on_disk["far_pixels"] == decode["far_pixels"] and on_disk["worst_frames"]


def test_decode_counts_exactly_the_far_pixels():
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0] = [(128, 64, 128), (138, 64, 128), (250, 250, 250)]  # road, road + 10, far from all
    rgb[1] = [(0, 0, 142), (153, 153, 153), (0, 0, 0)]  # car (= licence plate), pole (= pole group), void
    ids, far = decode_colors(rgb, tolerance=20)
    assert ids.tolist() == [[0, 0, 255], [13, 5, 255]]
    assert far == 1
    assert decode_colors(rgb, tolerance=5)[1] == 2


def test_bad_ab_inputs_are_named(tmp_path, prepared):
    with pytest.raises(InputError, match="no train/, val/ or test/"):
        prepare_pix2pix_ab(tmp_path, tmp_path / "out", AbConfig(direction="BtoA"), progress=False)
    _write_ab(prepared, tmp_path / "ab")
    odd = tmp_path / "ab" / "val" / "9.png"
    Image.fromarray(np.zeros((32, 63, 3), np.uint8)).save(odd)
    with pytest.raises(InputError, match="9.png.*not two 32x32 halves"):
        prepare_pix2pix_ab(tmp_path / "ab", tmp_path / "out", AbConfig(direction="BtoA"), progress=False)
    assert not (tmp_path / "out" / "dataset.json").exists()
    with pytest.raises(ValueError, match="direction"):
        AbConfig(direction="labels-first")


def test_size_option_squashes_and_cli_reports(tmp_path, capsys):
    make_prepared_dataset(tmp_path / "src", splits={"train": 2, "val": 1})
    _write_ab(tmp_path / "src", tmp_path / "ab")
    code = main(["prepare", "pix2pix-ab", "--src", str(tmp_path / "ab"), "--out", str(tmp_path / "out"),
                 "--direction", "BtoA", "--size", "16", "--color", "decoded", "--workers", "1", "--quiet"])
    assert code == 0
    assert "0 of 3072 pixels farther than 30" in capsys.readouterr().out
    data = PreparedDataset.load(tmp_path / "out")
    assert data.image_size == (16, 16) and data.meta["label_size"] == [32, 32]
    assert read_rgb(data.path("train", "1", "photo")).shape == (16, 16, 3)


def test_the_wrong_direction_is_refused_and_the_right_one_named(prepared, tmp_path, capsys):
    _write_ab(prepared, tmp_path / "ab", suffix=".jpg", quality=90, photos="noise")  # photo | labels, as pix2pix's
    args = ["prepare", "pix2pix-ab", "--src", str(tmp_path / "ab"), "--out", str(tmp_path / "out"), "--workers", "1",
            "--quiet", "--direction"]
    assert main([*args, "AtoB"]) == 2
    err = capsys.readouterr().err
    assert "with --direction AtoB (label map in A)" in err and "pass --direction BtoA" in err
    assert not (tmp_path / "out").exists()  # refused before anything was written
    assert main([*args, "AtoB", "--force"]) == 0  # as asked, and recorded
    assert json.loads((tmp_path / "out" / "dataset.json").read_text())["decode"]["forced"] is True
    assert main([*args, "BtoA"]) == 2  # another direction into the same folder
    assert "other parameters" in capsys.readouterr().err


def test_a_refusal_after_the_sample_passed_is_not_undone_by_a_rerun(prepared, tmp_path, capsys, monkeypatch):
    from p2p_eval.data import pix2pix_ab

    _write_ab(prepared, tmp_path / "ab", photos="noise")
    for path in sorted((tmp_path / "ab").rglob("*.png"))[1:6]:  # most images swapped: photo in the label half
        image = np.asarray(Image.open(path))
        Image.fromarray(np.concatenate([image[:, 32:], image[:, :32]], axis=1)).save(path)
    monkeypatch.setattr(pix2pix_ab, "CHECK_IMAGES", 1)  # a sample that misses them: only the whole can tell
    config = AbConfig(direction="BtoA")
    with pytest.raises(InputError, match="the 7 images imported"):
        prepare_pix2pix_ab(tmp_path / "ab", tmp_path / "out", config, progress=False)
    assert not (tmp_path / "out" / "dataset.json").exists()
    with pytest.raises(InputError, match="an earlier run refused this import"):
        prepare_pix2pix_ab(tmp_path / "ab", tmp_path / "out", config, progress=False)  # every frame is written now
    meta = prepare_pix2pix_ab(tmp_path / "ab", tmp_path / "out", AbConfig(direction="BtoA", force=True), progress=False)
    assert meta["decode"]["forced"] is True


def test_export_then_import_gives_back_the_prepared_photos_and_colour_maps(prepared, tmp_path, capsys):
    from p2p_eval.data.pix2pix_ab_export import AbExportConfig, export_pix2pix_ab

    data = PreparedDataset.load(prepared)
    record = export_pix2pix_ab(data, tmp_path / "ab", AbExportConfig(phases=(("train", "train"), ("val", "val"))),
                               progress=False)
    assert record["a"] == "photo" and record["b"] == "colour labels" and record["direction"] == "BtoA"
    assert record["frames"]["val"] == {f: f for f in data.frames("val")}
    meta = prepare_pix2pix_ab(tmp_path / "ab", tmp_path / "back", AbConfig(direction="BtoA", color="original"),
                              progress=False)
    back = PreparedDataset.load(tmp_path / "back")
    assert meta["decode"]["far_pixels"] == 0 and {s: set(f) for s, f in back.splits.items()} == \
        {s: set(f) for s, f in data.splits.items()}
    for split in ("train", "val"):
        for frame in data.frames(split):
            for kind in ("photo", "color"):
                np.testing.assert_array_equal(read_rgb(back.path(split, frame, kind)), read_rgb(data.path(split, frame, kind)))
    # Labels in A for --direction AtoB; the record says which half is which.
    record = export_pix2pix_ab(data, tmp_path / "atob", AbExportConfig(direction="AtoB"), progress=False)
    assert record["a"] == "colour labels" and sorted(record["frames"]) == ["test", "train"]
    frame = data.frames("val")[0]
    ab = read_rgb(tmp_path / "atob" / "test" / f"{frame}.png")
    np.testing.assert_array_equal(ab[:, :32], read_rgb(data.path("val", frame, "color")))


def test_export_refuses_folders_with_other_images_and_missing_splits(prepared, tmp_path, capsys):
    stray = tmp_path / "ab" / "train" / "stray.jpg"
    stray.parent.mkdir(parents=True)
    Image.fromarray(np.zeros((8, 16, 3), np.uint8)).save(stray)
    args = ["export", "pix2pix-ab", str(prepared), "--quiet"]
    assert main([*args, "--out", str(tmp_path / "ab")]) == 2
    assert "holds 1 other image(s) (stray.jpg)" in capsys.readouterr().err
    assert sorted(p.name for p in stray.parent.iterdir()) == ["stray.jpg"]
    assert main([*args, "--out", str(tmp_path / "x"), "--phases", "train=train,test=test"]) == 2
    assert "no split 'test' to export" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "y")]) == 0
    assert main([*args, "--out", str(tmp_path / "y")]) == 0  # its own files are no strangers: re-running is fine
    assert "train/ 4, test/ 3 PNG images, A = photo, B = colour labels" in capsys.readouterr().out
