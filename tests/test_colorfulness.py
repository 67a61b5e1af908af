"""The colorfulness pipeline and command, end to end on tiny prepared datasets and runs."""

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import make_prepared_dataset, make_run
from p2p_eval.cli import main
from p2p_eval.data.files import read_rgb, write_png
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.measures.colorfulness import histograms as image_histograms
from p2p_eval.measures.colorfulness import measure as pipeline
from p2p_eval.metrics.colorfulness import DEFAULT_BINNING, Binning, lab_histograms
from p2p_eval.results import load_results


def _rewrite_images(run: Path, change) -> None:
    for path in sorted((run / "images" / "val").iterdir()):
        write_png(path, change(read_rgb(path)))


def _desaturate(rgb: np.ndarray, keep: float = 0.2) -> np.ndarray:
    """Blend each pixel toward its grey value, keeping `keep` of the colour (the L1 look)."""
    grey = rgb.astype(np.float64) @ [0.299, 0.587, 0.114]
    return np.clip(grey[..., None] + keep * (rgb - grey[..., None]), 0, 255).round().astype(np.uint8)


def _score(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "out.json"
    assert main(["colorfulness", *args, "--json", str(out), "--resamples", "200"]) == 0
    return load_results(out, kinds=("colorfulness",))


@pytest.fixture
def runs(tmp_path: Path, prepared: Path) -> Path:
    make_run(tmp_path / "runs" / "perfect", prepared)
    make_run(tmp_path / "runs" / "noise", prepared, quality="noise")
    return tmp_path / "runs"


def test_document_fields_and_counts(tmp_path, prepared, runs, capsys):
    document = _score(tmp_path, str(runs), "--with-real")
    table = capsys.readouterr().out
    assert "perfect" in table and "noise" in table and "split-half" in table
    by_name = {r["name"]: r for r in document["runs"]}
    assert list(by_name) == ["noise", "perfect", "Ground truth"]
    perfect = by_name["perfect"]
    assert perfect["is_real"] is False and perfect["variant"] == "test" and perfect["n_images"] == 3
    assert [perfect[c] for c in "Lab"] == [1.0, 1.0, 1.0]  # the photos themselves
    assert all(perfect["intervals"][c] == pytest.approx([1.0, 1.0]) for c in "Lab")
    assert all(0 < by_name["noise"][c] < 1 for c in "Lab")
    assert all(len(by_name["noise"]["histograms"][c]) == n for c, n in zip("Lab", (100, 256, 256)))
    assert all(sum(perfect["histograms"][c]) == 3 * 32 * 32 for c in "Lab")
    data = PreparedDataset.load(prepared)
    photos = [read_rgb(data.path("val", f, "photo")) for f in data.frames("val")]
    expected = DEFAULT_BINNING.split(lab_histograms(photos))
    assert all(document["data"]["reference"][c] == expected[c].tolist() for c in "Lab")
    assert document["data"]["frames"] == list(data.frames("val")) and document["data"]["split"] == "val"
    assert document["protocol"]["binning"]["L"] == {"range": [0.0, 100.0], "bins": 100, "width": 1.0}
    assert document["protocol"]["bootstrap"]["resamples"] == 200
    real = by_name["Ground truth"]
    assert real["is_real"] is True and real["intervals"]["a"][0] <= real["a"] <= real["intervals"]["a"][1]


def test_desaturated_photos_lose_a_and_b_intersection(tmp_path):
    data = make_prepared_dataset(tmp_path / "data", splits={"val": 8})
    make_run(tmp_path / "runs" / "photos", data)
    grey = make_run(tmp_path / "runs" / "greyish", data)
    _rewrite_images(grey, _desaturate)
    by_name = {r["name"]: r for r in _score(tmp_path, str(tmp_path / "runs"), "--with-real")["runs"]}
    for channel in "ab":
        assert by_name["greyish"][channel] < by_name["Ground truth"][channel] < by_name["photos"][channel]
        assert by_name["greyish"]["intervals"][channel][1] < by_name["Ground truth"][channel]


def test_baseline_gives_a_paired_test(tmp_path, runs, capsys):
    document = _score(tmp_path, str(runs), "--baseline", "perfect")
    noise = next(r for r in document["runs"] if r["name"] == "noise")
    test = noise["baseline_test"]
    assert test["baseline"] == "perfect" and test["n_frames"] == 3
    for c in "Lab":
        assert test[c]["difference"] == pytest.approx(noise[c] - 1.0)
        assert test[c]["interval"][1] < 0 and test[c]["p_value"] < 0.05
    assert next(r for r in document["runs"] if r["name"] == "perfect")["baseline_test"] is None
    assert "noise - perfect" in capsys.readouterr().out
    assert main(["colorfulness", str(runs), "--baseline", "nope"]) == 2
    assert "--baseline 'nope' is none of the runs" in capsys.readouterr().err


def test_same_seed_same_numbers_and_workers_agree(tmp_path, runs):
    first = _score(tmp_path, str(runs), "--seed", "3")["runs"]
    second = _score(tmp_path, str(runs), "--seed", "3", "--workers", "2")["runs"]
    assert first == second
    other = _score(tmp_path, str(runs), "--seed", "4")["runs"]
    assert [r["intervals"] for r in other] != [r["intervals"] for r in first]


def test_bins_option(tmp_path, runs, capsys):
    document = _score(tmp_path, str(runs), "--bins", "16")
    assert all(len(document["runs"][0]["histograms"][c]) == 16 for c in "Lab")
    assert document["protocol"]["binning"]["a"] == {"range": [-128.0, 128.0], "bins": 16, "width": 16.0}
    assert _score(tmp_path, str(runs), "--bins", "10,20,30")["protocol"]["binning"]["b"]["bins"] == 30
    with pytest.raises(SystemExit) as exit_info:
        main(["colorfulness", str(runs), "--bins", "10,20"])
    assert exit_info.value.code == 2
    assert "three counts L,a,b" in capsys.readouterr().err


def test_greyscale_and_rgba_images_are_converted_with_one_counted_warning(tmp_path, prepared, caplog):
    # #14: colorfulness warned once per image; now one warning counts each conversion, as fcn-score's.
    run = make_run(tmp_path / "runs" / "odd", prepared)
    images = sorted((run / "images" / "val").iterdir())
    Image.open(images[0]).convert("L").save(images[0])
    Image.open(images[1]).convert("RGBA").save(images[1])
    with caplog.at_level(logging.WARNING):
        document = _score(tmp_path, str(run))
    conversions = [r.getMessage() for r in caplog.records if "converted" in r.getMessage()]
    assert conversions == [f"2 image(s) of odd were not 8-bit RGB and were converted to RGB: 1 L (greyscale copied "
                           f"to R, G and B), 1 RGBA (alpha dropped); e.g. {images[0]}."]
    assert document["runs"][0]["a"] < 1.0  # the greyscale frame lost its colour
    assert document["runs"][0]["n_images"] == 3


def test_a_rerun_from_the_cache_still_says_which_images_were_converted(tmp_path, prepared, caplog):
    """The mode was not part of a frame's cached record: scoring again said nothing of the conversions."""
    run = make_run(tmp_path / "runs" / "odd", prepared)
    image = sorted((run / "images" / "val").iterdir())[0]
    Image.open(image).convert("RGBA").save(image)
    said = []
    for _ in range(2):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            _score(tmp_path, str(run))
        said.append([r.getMessage() for r in caplog.records if "converted" in r.getMessage()])
    assert said[0] == said[1] == [f"1 image(s) of odd were not 8-bit RGB and were converted to RGB: 1 RGBA "
                                  f"(alpha dropped); e.g. {image}."]


def test_mismatched_and_missing_frames(tmp_path, prepared, capsys, caplog):
    run = make_run(tmp_path / "runs" / "partial", prepared)
    (run / "images" / "val" / "city_000001_000019.png").unlink()
    write_png(run / "images" / "val" / "stray.png", np.zeros((32, 32, 3), np.uint8))
    assert main(["colorfulness", str(run)]) == 2
    err = capsys.readouterr().err
    assert "city_000001_000019" in err and "stray.png" in err and "--allow-missing" in err
    with caplog.at_level(logging.WARNING):
        document = _score(tmp_path, str(run), "--allow-missing")
    assert document["runs"][0]["n_images"] == 2 and document["data"]["n_frames"] == 2
    assert "scoring the 2 matched frame(s) only" in caplog.text


def test_baseline_with_missing_frames_is_tested_on_the_common_ones(tmp_path, prepared, caplog):
    a = make_run(tmp_path / "runs" / "a", prepared)
    b = make_run(tmp_path / "runs" / "b", prepared, quality="noise")
    (a / "images" / "val" / "city_000000_000019.png").unlink()
    (b / "images" / "val" / "city_000002_000019.png").unlink()
    with caplog.at_level(logging.WARNING):
        document = _score(tmp_path, str(tmp_path / "runs"), "--allow-missing", "--baseline", "a")
    b_entry = next(r for r in document["runs"] if r["name"] == "b")
    assert b_entry["n_images"] == 2 and b_entry["baseline_test"]["n_frames"] == 1
    assert "tested on the 1 frame(s) both have" in caplog.text
    assert document["data"]["n_frames"] == 3  # the reference covers every frame some run has


def test_empty_run_and_unknown_dataset(tmp_path, prepared, capsys):
    run = make_run(tmp_path / "runs" / "empty", prepared)
    for path in (run / "images" / "val").iterdir():
        path.unlink()
    assert main(["colorfulness", str(run)]) == 2
    assert f"{run}: run 'empty' has no generated images for split 'val'" in capsys.readouterr().err
    flat = tmp_path / "flat"
    write_png(flat / "city_000000_000019_leftImg8bit.png", np.zeros((32, 32, 3), np.uint8))
    assert main(["colorfulness", str(flat)]) == 2
    assert "Runs ['flat'] do not record their dataset" in capsys.readouterr().err
    other = make_prepared_dataset(tmp_path / "other", seed=1)
    make_run(tmp_path / "two" / "one", prepared)
    make_run(tmp_path / "two" / "another", other)
    assert main(["colorfulness", str(tmp_path / "two")]) == 2
    assert "The runs come from 2 different datasets" in capsys.readouterr().err
    assert _score(tmp_path, str(tmp_path / "two"), "--data", str(other))["data"]["dataset"] == str(other)


def test_corrupt_image_and_missing_photo_are_named(tmp_path, prepared, capsys):
    run = make_run(tmp_path / "runs" / "broken", prepared)
    bad = run / "images" / "val" / "city_000002_000019.png"
    bad.write_bytes(b"not a png")
    assert main(["colorfulness", str(run)]) == 2
    assert f"{bad}: cannot decode the image" in capsys.readouterr().err
    make_run(run, prepared)  # repaired
    photo = prepared / "val" / "city_000001_000019_photo.png"
    photo.unlink()
    assert main(["colorfulness", str(run)]) == 2
    err = capsys.readouterr().err
    assert "1 real photo(s) of split 'val' are missing" in err and str(photo) in err


def test_pytorch_pix2pix_results_folder_is_read_as_it_is(tmp_path, prepared):
    data = PreparedDataset.load(prepared)
    folder = tmp_path / "facades_pix2pix" / "test_latest" / "images"
    for frame in data.frames("val"):
        photo = read_rgb(data.path("val", frame, "photo"))
        write_png(folder / f"{frame}_fake_B.png", photo)
        write_png(folder / f"{frame}_real_B.png", photo)  # written beside by test.py; not a fake
    entry = _score(tmp_path, str(tmp_path / "facades_pix2pix"), "--data", str(prepared))["runs"][0]
    assert entry["name"] == "facades_pix2pix" and entry["n_images"] == 3 and entry["variant"] is None
    assert entry["a"] == pytest.approx(1.0)


def test_images_of_another_size_are_resized_bilinear(tmp_path, prepared, caplog):
    run = make_run(tmp_path / "runs" / "big", prepared)
    _rewrite_images(run, lambda rgb: np.asarray(Image.fromarray(rgb).resize((64, 48), Image.Resampling.NEAREST)))
    with caplog.at_level(logging.WARNING):
        entry = _score(tmp_path, str(run))["runs"][0]
    assert "3 of 3 image(s) are not 32x32" in caplog.text and entry["n_resized"] == 3
    resized = [np.asarray(Image.open(p).convert("RGB").resize((32, 32), Image.Resampling.BILINEAR))
               for p in sorted((run / "images" / "val").iterdir())]
    assert entry["histograms"]["a"] == DEFAULT_BINNING.split(lab_histograms(resized))["a"].tolist()


class CountingHistograms:
    """Stands in for `image_histogram`: records each image computed, can stop like Ctrl-C."""

    def __init__(self):
        self.computed: list[Path] = []
        self.interrupt_after: int | None = None
        self._original = image_histograms.image_histogram

    def __call__(self, path, binning, size=None):
        if self.interrupt_after is not None and len(self.computed) == self.interrupt_after:
            raise KeyboardInterrupt
        self.computed.append(Path(path))
        return self._original(path, binning, size)


@pytest.fixture
def counting(monkeypatch) -> CountingHistograms:
    counter = CountingHistograms()
    monkeypatch.setattr(image_histograms, "image_histogram", counter)
    return counter


def test_cache_makes_a_rerun_incremental(tmp_path, prepared, counting):
    make_run(tmp_path / "runs" / "first", prepared)
    first = _score(tmp_path, str(tmp_path / "runs"))
    assert len(counting.computed) == 3 + 3  # the run's images and the real photos
    counting.computed.clear()
    noise = make_run(tmp_path / "runs" / "second", prepared, quality="noise")
    second = _score(tmp_path, str(tmp_path / "runs"))
    assert sorted(counting.computed) == sorted((noise / "images" / "val").iterdir())  # only the new run
    assert second["runs"][0] == first["runs"][0]
    counting.computed.clear()
    _score(tmp_path, str(tmp_path / "runs"), "--bins", "8")  # another binning is another cache entry
    assert len(counting.computed) == 3 + 3 + 3


def test_interrupted_run_resumes_from_the_cache(tmp_path, prepared, counting, monkeypatch):
    monkeypatch.setattr(image_histograms, "_CACHE_BATCH", 2)
    run = make_run(tmp_path / "runs" / "long", prepared)
    counting.interrupt_after = 2
    assert main(["colorfulness", str(run), "--quiet"]) == 130
    counting.computed.clear()
    counting.interrupt_after = None
    _score(tmp_path, str(run))
    images = sorted((run / "images" / "val").iterdir())
    assert counting.computed[0] == images[2] and len(counting.computed) == 1 + 3  # third image, real photos


def test_split_half_self_comparison():
    binning = Binning((2, 2, 2))
    same = np.tile([1, 1, 2, 0, 0, 3], (6, 1))
    scores = pipeline.split_half_intersections(same, binning, n_splits=50, seed=0)
    assert scores == {c: (1.0, 1.0, 1.0) for c in "Lab"}
    assert all(np.isnan(v).all() for v in pipeline.split_half_intersections(same[:1], binning, n_splits=5, seed=0)
               .values())
    mixed = np.array([[4, 0, 4, 0, 4, 0], [0, 4, 0, 4, 4, 0]])  # halves of 1 frame each
    scores = pipeline.split_half_intersections(mixed, binning, n_splits=20, seed=1)
    assert scores["L"] == (0.0, 0.0, 0.0) and scores["b"] == (1.0, 1.0, 1.0)


def test_plot_is_a_png_of_the_expected_size_and_a_pdf(tmp_path, runs):
    from p2p_eval.measures.colorfulness.plot import DPI, FIGSIZE

    png = tmp_path / "fig" / "colorfulness.png"
    assert main(["colorfulness", str(runs), "--plot", str(png), "--with-real", "--resamples", "100"]) == 0
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size == (round(FIGSIZE[0] * DPI), round(FIGSIZE[1] * DPI))
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 10  # lines and text were drawn, not a blank canvas
    assert png.with_suffix(".pdf").read_bytes().startswith(b"%PDF")


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["colorfulness", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "--baseline" in out and "--with-real" in out
