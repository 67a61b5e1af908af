"""`p2p-eval show`: the picture grid and the class shares of a prepared dataset."""

import numpy as np
from PIL import Image

from p2p_eval.classes import colorize
from p2p_eval.cli import main
from p2p_eval.data.files import read_label_png, read_rgb
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.data.preview import GAP, class_shares, frame_grid, pick_frames


def test_grid_rows_are_photo_colour_and_squashed_truth(prepared):
    data = PreparedDataset.load(prepared)
    frames = pick_frames(data, "val", 2)
    assert frames == [data.frames("val")[0], data.frames("val")[-1]]
    grid = frame_grid(data, "val", frames)
    assert grid.shape == (2 * 32 + GAP, 3 * 32 + 2 * GAP, 3)
    second = grid[32 + GAP :]
    np.testing.assert_array_equal(second[:, :32], read_rgb(data.path("val", frames[1], "photo")))
    np.testing.assert_array_equal(second[:, 32 + GAP : 64 + GAP], read_rgb(data.path("val", frames[1], "color")))
    truth = read_label_png(data.path("val", frames[1], "trainids"))[:, 1::2]  # 32x64 -> 32x32 at pixel centres
    np.testing.assert_array_equal(second[:, 64 + 2 * GAP :], colorize(truth))


def test_class_shares_count_labelled_pixels(prepared):
    data = PreparedDataset.load(prepared)
    counts = np.zeros(256, int)
    for frame in data.frames("train"):
        counts += np.bincount(read_label_png(data.path("train", frame, "trainids")).ravel(), minlength=256)
    shares = class_shares(data, "train", progress=False)
    assert abs(sum(v for k, v in shares.items() if k != "(ignored)") - 1) < 1e-9
    assert shares["road"] == counts[0] / counts[:19].sum()
    assert shares["(ignored)"] == counts[255] / counts.sum() > 0


def test_cli_writes_the_grid_and_names_a_missing_dataset(prepared, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["show", str(prepared), "--frames", "8", "--out", str(out), "--quiet"]) == 0
    assert Image.open(out).size == (3 * 32 + 2 * GAP, 3 * 32 + 2 * GAP)  # only 3 val frames exist
    assert "road" in capsys.readouterr().out
    assert main(["show", str(tmp_path), "--out", str(out)]) == 2
    assert "p2p-eval prepare" in capsys.readouterr().err


def test_a_bad_trainids_file_stops_before_the_grid_is_written(prepared, tmp_path, capsys):
    data = PreparedDataset.load(prepared)
    out = tmp_path / "grid.png"
    last = data.path("val", data.frames("val")[-1], "trainids")  # not in a one-frame grid
    Image.fromarray(np.zeros((32, 64, 3), np.uint8)).save(last)  # a colour image where ids belong
    assert main(["show", str(prepared), "--frames", "1", "--out", str(out), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert str(last) in captured.err and "mode RGB" in captured.err and "grid.png" not in captured.out
    assert not out.exists()
    ids = np.zeros((32, 64), np.uint8)
    ids[0, 0] = 40  # no trainId
    Image.fromarray(ids).save(last)
    assert main(["show", str(prepared), "--frames", "1", "--out", str(out), "--quiet"]) == 2
    assert "values [40] are no trainIds" in capsys.readouterr().err and not out.exists()
