"""`p2p-eval report html`: a self-contained folder whose page references only files inside it."""

import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from conftest import make_prepared_dataset, make_run
from p2p_eval.cli import main
from p2p_eval.results import write_results
from results_factory import colorfulness_document, fcn_document


@pytest.fixture
def report(tmp_path: Path) -> Path:
    data = make_prepared_dataset(tmp_path / "data", splits={"val": 5})
    make_run(tmp_path / "runs" / "unet-l1", data)
    make_run(tmp_path / "runs" / "run_a&b 50%", data, quality="noise")
    (tmp_path / "runs" / "unet-l1" / "images" / "val" / "city_000004_000019.png").unlink()  # one frame missing
    write_results(tmp_path / "fcn.json", fcn_document(
        [("unet-l1", "unet-l1", 0.4), ("run_a&b 50%", "unet-cgan", 0.2)]))
    write_results(tmp_path / "color.json", colorfulness_document(
        [("unet-l1", "unet-l1", 2.0), ("run_a&b 50%", "unet-cgan", 3.0)]))
    out = tmp_path / "report"
    argv = ["report", "html", str(tmp_path / "fcn.json"), str(tmp_path / "color.json"), "--paper",
            "--runs", str(tmp_path / "runs"), "--data", str(data), "--frames", "3", "--out", str(out)]
    assert main(argv) == 0
    return out


def test_every_referenced_file_exists_inside_the_folder(report):
    page = (report / "index.html").read_text()
    references = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert references and all(not r.startswith(("/", "http", "file:")) for r in references)
    for reference in references:
        assert (report / reference).is_file(), reference
    assert {"figures/colorfulness-1.png", "figures/per-class-iou-0.png"} <= set(references)
    assert "results/00-fcn.json" in references and "results/01-color.json" in references


def test_page_holds_tables_and_a_grid_of_the_same_frames(report):
    page = (report / "index.html").read_text()
    assert "FCN-scores for different losses" in page and "L1+cGAN (paper)" in page
    assert "run_a&amp;b 50%" in page  # escaped for HTML
    assert "<h2>Summary</h2>" in page and "All results side by side" in page
    frames = sorted(p.name for p in (report / "frames").iterdir())
    assert frames == ["city_000000_000019", "city_000002_000019", "city_000004_000019"]  # spread over val
    # Input, two runs, real photo; unet-l1 lacks the last frame: a marked cell, not a crash.
    assert len(list((report / "frames" / frames[0]).iterdir())) == 4
    assert len(list((report / "frames" / frames[2]).iterdir())) == 3
    assert page.count('class="missing"') == 1
    with Image.open(report / "frames" / frames[0] / "00.png") as thumb:
        assert thumb.size == (160, 160)


def test_figures_are_real_images(report):
    for name in ("colorfulness-1.png", "per-class-iou-0.png"):
        with Image.open(report / "figures" / name) as figure:
            assert figure.size[0] > 500 and len(figure.convert("RGB").getcolors(1 << 20)) > 10


def test_without_runs_the_page_has_no_grid_and_runs_need_data(tmp_path, capsys):
    write_results(tmp_path / "fcn.json", fcn_document([("a", None, 0.4)]))
    out = tmp_path / "report"
    assert main(["report", "html", str(tmp_path / "fcn.json"), "--out", str(out)]) == 0
    page = (out / "index.html").read_text()
    assert "Qualitative" not in page and not (out / "frames").exists()
    assert "<h2>Summary</h2>" not in page  # one file: nothing to put side by side
    assert main(["report", "html", str(tmp_path / "fcn.json"), "--runs", str(tmp_path), "--out", str(out)]) == 2
    assert "--data" in capsys.readouterr().err


@pytest.mark.latex
def test_renders_results_written_by_the_colorfulness_command(tmp_path):
    """The real producer's document, not the factory's: tables, plot and PDF from it."""
    from p2p_eval.data.files import read_json
    from p2p_eval.data.runs import write_run_json

    data = make_prepared_dataset(tmp_path / "data", splits={"val": 3})
    for name, variant, quality in (("unet-l1", "unet-l1", "perfect"), ("noisy_run", "unet-cgan", "noise")):
        run = make_run(tmp_path / "runs" / name, data, quality=quality)
        write_run_json(run, {"name": name, "variant": variant, "dataset": str(data)})
    results = tmp_path / "colorfulness.json"
    assert main(["colorfulness", str(tmp_path / "runs"), "--data", str(data), "--json", str(results),
                 "--with-real", "--resamples", "100", "--bins", "16", "--quiet"]) == 0
    produced = read_json(results)["runs"]

    out = tmp_path / "report"
    assert main(["report", "html", str(results), "--paper", "--out", str(out)]) == 0
    page = (out / "index.html").read_text()
    assert "Histogram intersection against ground truth" in page and "PixelGAN (paper)" in page
    assert (out / "figures" / "colorfulness-0.png").is_file() and (out / "figures" / "colorfulness-0.pdf").is_file()

    tex = tmp_path / "t.tex"
    assert main(["report", "latex", str(results), "--paper", "--standalone", "--out", str(tex)]) == 0
    source = tex.read_text()
    for entry in produced:
        assert all(f"{entry[c]:.2f}" in source for c in "Lab")
    body = source[source.index(r"\midrule"):]
    # Rows in the producer's order, labelled by the paper's names for their variants; the
    # perfect copy of the photos (unet-l1) is best, the split-half real row does not compete.
    assert body.index("cGAN & ") < body.index("L1 & ") < body.index("Ground truth & ")
    assert r"L1 & \textbf{1.00} & \textbf{1.00} & \textbf{1.00}" in body
    assert main(["report", "latex", str(results), "--names", "--out", str(tmp_path / "n.tex")]) == 0
    assert r"noisy\_run & " in (tmp_path / "n.tex").read_text()
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                   cwd=tmp_path, check=True, capture_output=True, timeout=60)


def test_figure_legends_show_run_names_as_written(tmp_path):
    """matplotlib reads "$...$" in a label as mathtext (a run "bad $\\foo$" ended `report html` in a
    ParseFatalException traceback, "cost $5 vs $7" drew "5 vs" in math italics) and leaves labels
    that start with "_" out of the legend (a run "_old" had bars and no legend entry)."""
    from reports.figures import iou_figure
    from p2p_eval.measures.colorfulness.plot import colorfulness_figure

    names = ["_old", "cost $5 vs $7", "bad $\\foo$"]
    figures = [iou_figure(fcn_document([(n, None, 0.3 + 0.1 * i) for i, n in enumerate(names)], real=False)),
               colorfulness_figure(colorfulness_document([(n, None, 2.0 + i) for i, n in enumerate(names)]))]
    for figure in figures:
        figure.canvas.draw()  # mathtext is parsed when drawn
        legend = figure.axes[0].get_legend() or figure.legends[0]
        drawn = [t.get_text().replace("\\$", "$") for t in legend.get_texts()]
        assert drawn[:3] == names
        assert all("$" not in t.get_text().replace("\\$", "") for t in legend.get_texts())  # no mathtext
    write_results(tmp_path / "fcn.json", fcn_document([(n, None, 0.4) for n in names], real=False))
    assert main(["report", "html", str(tmp_path / "fcn.json"), "--out", str(tmp_path / "report")]) == 0
