"""`p2p-eval demo --quick` end to end: every promised output exists and parses."""

import shutil
import subprocess
import sys

import pytest
from PIL import Image

from p2p_eval.results import load_results
from p2p_eval.segmenters import load_segmenter


@pytest.mark.slow
@pytest.mark.xdist_group("demo")
def test_quick_demo_writes_every_promised_output(tmp_path):
    out = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "p2p_eval", "demo", "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    variants = ("unet-l1", "unet-cgan", "unet-l1-cgan", "encdec-l1-cgan")

    assert load_segmenter(out / "data" / "segmenter.pt").meta["scores"]["pixel_acc"] > 0.5
    fcn = load_results(out / "results" / "fcn-score.json", kinds=("fcn-score",))
    assert sorted(r["name"] for r in fcn["runs"] if not r["is_real"]) == sorted(variants)
    assert [r["is_real"] for r in fcn["runs"]].count(True) == 1
    color = load_results(out / "results" / "colorfulness.json", kinds=("colorfulness",))
    assert {r["name"] for r in color["runs"]} >= set(variants)
    similarity = load_results(out / "results" / "similarity.json", kinds=("similarity",))
    assert {r["name"] for r in similarity["runs"]} == set(variants)
    assert all(r["psnr"] > 0 and 0 < r["ssim"] < 1 for r in similarity["runs"])
    with Image.open(out / "results" / "colorfulness.png") as plot:
        assert plot.size[0] > 500 and plot.size[1] > 200

    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(out / "report" / "tables.pdf"), "-"],
                              capture_output=True, text=True, check=True).stdout
        assert "FCN-scores" in text and "L1+cGAN" in text
    assert "<table" in (out / "report" / "html" / "index.html").read_text()
    assert "Pixel similarity: SSIM" in (out / "report" / "summary.md").read_text()
    for variant in variants:
        assert variant in done.stdout  # the summary table names every run

    again = subprocess.run(
        [sys.executable, "-m", "p2p_eval", "demo", "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=900,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "reusing the segmenter" in again.stdout
    assert all(f"reusing the run {out / 'runs' / v}" in again.stdout for v in variants)
