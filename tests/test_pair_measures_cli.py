"""``p2p-eval lpips`` and ``p2p-eval similarity`` end to end: per-frame values, tests, cache, bad input, reports."""

import numpy as np
import pytest
from conftest import make_prepared_dataset, make_run
from weights_factory import write_random_weights

import p2p_eval
from p2p_eval.cli import main
from p2p_eval.data.files import read_rgb, write_png
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.errors import InputError
from p2p_eval.features.perceptual import load_lpips
from p2p_eval.measures.lpips.measure import LpipsMeasure
from p2p_eval.metrics.pixel_similarity import psnr, ssim
from p2p_eval.results import load_results


@pytest.fixture(scope="module")
def alexnet_file(tmp_path_factory):
    return write_random_weights(tmp_path_factory.mktemp("weights") / "alexnet-random.pth", "alex")


@pytest.fixture
def workspace(tmp_path):
    """Three runs on 5 val frames: the photos, the photos plus a little noise, pure noise."""
    data = make_prepared_dataset(tmp_path / "data", splits={"train": 2, "val": 5})
    make_run(tmp_path / "runs" / "photos", data)
    make_run(tmp_path / "runs" / "noise", data, quality="noise")
    noisy = make_run(tmp_path / "runs" / "noisy", data)
    rng = np.random.default_rng(3)
    for path in (noisy / "images" / "val").glob("*.png"):
        image = read_rgb(path).astype(int) + rng.integers(-30, 31, (32, 32, 3))
        write_png(path, np.clip(image, 0, 255).astype(np.uint8))
    return tmp_path


def _run(kind, *args):
    code = main([kind, *map(str, args), "--workers", "1", "--resamples", "200", "--quiet"])
    assert code == 0
    return load_results(args[list(args).index("--json") + 1])


def _pairs(workspace, run):
    data = PreparedDataset.load(workspace / "data")
    return [(read_rgb(workspace / "runs" / run / "images" / "val" / f"{f}.png"), read_rgb(data.path("val", f, "photo")))
            for f in data.frames("val")]


def test_similarity_is_the_mean_of_per_frame_psnr_and_ssim(workspace, caplog):
    document = _run("similarity", workspace / "runs", "--baseline", "noise", "--json", workspace / "s.json",
                    "--csv", workspace / "s.csv")
    by_name = {e["name"]: e for e in document["runs"]}
    for run in ("noise", "noisy"):
        pairs = _pairs(workspace, run)
        assert by_name[run]["psnr"] == pytest.approx(np.mean([psnr(g, r) for g, r in pairs]), rel=1e-12)
        assert by_name[run]["ssim"] == pytest.approx(np.mean([ssim(g, r) for g, r in pairs]), rel=1e-12)
        assert by_name[run]["n_identical"] == 0
    # identical frames: infinite PSNR, so no mean PSNR (null) — counted and warned about, never dropped
    assert by_name["photos"]["psnr"] is None and by_name["photos"]["n_identical"] == 5
    assert by_name["photos"]["ssim"] == pytest.approx(1.0)
    assert "5 of 5 image(s) are identical to their real photo" in caplog.text
    test = by_name["noisy"]["baseline_test"]
    assert test["psnr"]["difference"] == pytest.approx(by_name["noisy"]["psnr"] - by_name["noise"]["psnr"])
    assert test["psnr"]["p_value"] < 0.05 and test["ssim"]["difference"] > 0
    assert "n_identical" in (workspace / "s.csv").read_text().splitlines()[0]


def test_lpips_is_the_mean_of_the_libraries_distances(workspace, alexnet_file, monkeypatch, caplog):
    document = _run("lpips", workspace / "runs", "--baseline", "noise", "--backbone", alexnet_file,
                    "--json", workspace / "l.json")
    model = load_lpips(alexnet_file)
    by_name = {e["name"]: e for e in document["runs"]}
    for run in ("photos", "noisy", "noise"):
        assert by_name[run]["lpips"] == pytest.approx(np.mean(model(_pairs(workspace, run))), rel=1e-6)
    assert by_name["photos"]["lpips"] == pytest.approx(0.0, abs=1e-7)
    assert by_name["photos"]["lpips"] < by_name["noisy"]["lpips"] < by_name["noise"]["lpips"]
    assert by_name["noisy"]["baseline_test"]["lpips"]["difference"] < 0
    backbone = document["protocol"]["backbone"]
    assert backbone["published"] is False and backbone["published_file"] == "alexnet-owt-7be5be79.pth"
    assert len(backbone["sha256"]) == 64 and len(document["protocol"]["lpips"]["linear_sha256"]) == 64
    assert "is not torchvision's alexnet-owt-7be5be79.pth" in caplog.text  # random weights: said so
    # cached: a re-run computes nothing
    monkeypatch.setattr(LpipsMeasure, "update", lambda *a, **k: pytest.fail("recomputed a cached frame"))
    again = _run("lpips", workspace / "runs", "--baseline", "noise", "--backbone", alexnet_file,
                 "--json", workspace / "m.json")
    assert again["runs"] == document["runs"]


def test_bad_input_is_named(workspace, alexnet_file, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("P2P_EVAL_LPIPS_BACKBONE", raising=False)
    runs = str(workspace / "runs")
    assert main(["lpips", runs, "--quiet"]) == 2
    assert "No LPIPS alex backbone given" in capsys.readouterr().err
    inception = write_random_weights(tmp_path / "inception.pth", "fid-inception")
    assert main(["lpips", runs, "--backbone", str(inception), "--quiet"]) == 2
    assert "it holds the FID Inception" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["similarity", runs, "--with-real"])  # no ground-truth row: not an option
    assert "unrecognized arguments: --with-real" in capsys.readouterr().err
    with pytest.raises(InputError, match="similarity has no ground-truth row"):
        p2p_eval.score("similarity", runs, with_real=True, progress=False)
    image = next((workspace / "runs" / "noisy" / "images" / "val").glob("*.png"))
    write_png(image, np.zeros((16, 16, 3), np.uint8))
    for argv in (["similarity", runs], ["lpips", runs, "--backbone", str(alexnet_file)]):
        assert main([*argv, "--quiet"]) == 2
        err = capsys.readouterr().err
        assert f"{image}: 16x16 pixels, but its real photo" in err and "does not resize" in err


def test_reports_put_every_measure_in_one_table_with_lower_is_better_marked(workspace, alexnet_file, capsys):
    _run("similarity", workspace / "runs", "--json", workspace / "s.json")
    _run("lpips", workspace / "runs", "--backbone", alexnet_file, "--json", workspace / "l.json")
    _run("colorfulness", workspace / "runs", "--json", workspace / "c.json")
    assert main(["report", "md", *(str(workspace / f) for f in ("c.json", "l.json", "s.json"))]) == 0
    text = capsys.readouterr().out
    header = next(line for line in text.splitlines() if line.startswith("| Run |"))
    assert "LPIPS: LPIPS ↓" in header and "Pixel similarity: SSIM |" in header and "SSIM ↓" not in header
    row = next(line for line in text.splitlines() if line.startswith("| photos |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[4] == "**0.000**"  # LPIPS: the lowest is bold
    noise = next(line for line in text.splitlines() if line.startswith("| noise |"))
    assert "**" not in noise.strip("|").split("|")[4]  # the highest LPIPS is not
    assert "↓: lower is better." in text


def test_lpips_refuses_images_smaller_than_its_backbone_reads(tmp_path, alexnet_file, capsys):
    """AlexNet's pooling leaves nothing of a 30-pixel side: a RuntimeError traceback ("Output size is too
    small") after the bigger frames were scored. Now the frame is named with the smallest side it takes."""
    from p2p_eval.features.perceptual import MIN_SIDE

    model = load_lpips(alexnet_file)
    side = MIN_SIDE["alex"]
    assert model([(np.zeros((side, 200, 3), np.uint8),) * 2])[0] == 0  # the bound is tight: this side works
    with pytest.raises(RuntimeError, match="too small"):
        model([(np.zeros((side - 1, 200, 3), np.uint8),) * 2])
    data = make_prepared_dataset(tmp_path / "data", splits={"val": 2}, image_size=(16, 16), label_size=(16, 32))
    run = make_run(tmp_path / "runs" / "small", data)
    assert main(["lpips", str(run), "--backbone", str(alexnet_file), "--workers", "0", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "16x16 pixels, smaller than LPIPS (alex) reads: at least 31 pixels on each side" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("target", ["data/dataset.json", "data/val/{frame}_photo.png", "runs/noisy/images/val/{frame}.png",
                                    "runs/noisy/run.json"])
def test_an_output_naming_a_scored_input_is_refused_before_it_is_replaced(workspace, target):
    """``--json data/dataset.json`` wrote the results over the prepared dataset's manifest, exit 0."""
    frame = PreparedDataset.load(workspace / "data").frames("val")[0]
    path = workspace / target.format(frame=frame)
    before = path.read_bytes()
    code = main(["similarity", str(workspace / "runs"), "--json", str(path), "--workers", "1", "--quiet"])
    assert code == 2 and path.read_bytes() == before
