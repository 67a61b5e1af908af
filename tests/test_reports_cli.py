"""`p2p-eval report ...` end to end: LaTeX compiled with pdflatex, Markdown, bad input."""

import subprocess
from pathlib import Path

import pytest

from p2p_eval.cli import main
from p2p_eval.data.files import read_json, write_json
from p2p_eval.results import write_results
from results_factory import colorfulness_document, losses_document, study_document


@pytest.fixture
def results(tmp_path: Path) -> dict[str, Path]:
    """Three results files: Table 1's losses, colourfulness, and a study with an awkward name."""
    paths = {"fcn": tmp_path / "fcn.json", "color": tmp_path / "color.json", "study": tmp_path / "study.json"}
    fcn = losses_document()
    fcn["runs"][1]["class_iou"] = None  # an undefined score
    write_results(paths["fcn"], fcn)
    write_results(paths["color"], colorfulness_document(
        [("unet-l1", "unet-l1", 2.0), ("unet-cgan", "unet-cgan", 3.4), ("unet-l1-cgan", "unet-l1-cgan", 3.0)]))
    write_results(paths["study"], study_document({"L1": 0.028, "run_a&b 50%": 0.189}))
    return paths


@pytest.mark.latex
def test_standalone_latex_compiles_and_shows_numbers_and_names(results, tmp_path):
    out = tmp_path / "tables.tex"
    argv = ["report", "latex", *map(str, results.values()), "--paper", "--standalone", "--out", str(out)]
    assert main(argv) == 0
    tex = out.read_text()
    assert tex.count(r"\begin{table}") == 3 and r"\usepackage{booktabs}" in tex
    assert r"\label{tab:losses}" in tex and r"\label{tab:colorfulness}" in tex and r"\label{tab:study}" in tex
    assert r"run\_a\&b 50\%" in tex
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", out.name],
                   cwd=tmp_path, check=True, capture_output=True, timeout=60)
    subprocess.run(["pdftotext", "-layout", "tables.pdf", "tables.txt"], cwd=tmp_path, check=True, timeout=30)
    text = (tmp_path / "tables.txt").read_text()
    fcn = read_json(results["fcn"])["runs"]
    for entry in fcn:
        if entry["pixel_acc"] is not None:
            assert f"{entry['pixel_acc']:.2f}" in text
    assert "L1+cGAN (paper)" in text and "0.66" in text and "0.80" in text  # published rows
    assert "FCN-scores for different losses" in text and "Histogram intersection" in text
    assert "18.9 ± 1.3" in text  # study: percent ± standard error
    assert "run a&b 50%" in text.replace("_", " ")  # OT1 draws \_ as a rule pdftotext may drop
    assert "--" in text or "–" in text  # the null IoU is a marked cell


@pytest.mark.latex
def test_page_renders_to_png(results, tmp_path):
    out = tmp_path / "tables.tex"
    assert main(["report", "latex", str(results["fcn"]), "--paper", "--intervals", "brackets",
                 "--standalone", "--out", str(out)]) == 0
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", out.name],
                   cwd=tmp_path, check=True, capture_output=True, timeout=60)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "tables.pdf", "page"],
                   cwd=tmp_path, check=True, timeout=30)
    page = tmp_path / "page-1.png"
    from PIL import Image

    with Image.open(page) as image:
        pixels = image.convert("L")
        assert pixels.getextrema()[0] < 50  # text was drawn
        assert image.size[0] > 400


def test_markdown_to_stdout_and_file(results, tmp_path, capsys):
    assert main(["report", "md", str(results["fcn"]), str(results["study"]), "--paper"]) == 0
    text = capsys.readouterr().out
    assert "| Loss | Per-pixel acc. | Per-class acc. | Class IOU |" in text
    assert "| *L1+cGAN (paper)* | *0.66* | *0.23* | *0.17* |" in text
    assert r"run\_a&b 50%" in text and "**18.9 ± 1.3**" in text
    out = tmp_path / "report.md"
    assert main(["report", "md", str(results["color"]), "--out", str(out), "--intervals", "brackets"]) == 0
    assert "Histogram intersection against ground truth" in out.read_text()
    assert r"\[low, high\]: 95% bootstrap interval." in out.read_text()  # escaped: not a link


def test_order_and_decimals(results, tmp_path):
    out = tmp_path / "t.tex"
    assert main(["report", "latex", str(results["fcn"]), str(results["study"]), "--order", "L1,unet-gan",
                 "--decimals", "3", "--out", str(out)]) == 0
    tex = out.read_text()
    body = tex[tex.index(r"\label{tab:losses}"):]
    # L1 is a study run: a marked row in the FCN table, never a silent drop.
    assert body.index("L1 & n/a & n/a & n/a") < body.index("GAN & ")
    assert "n/a: run not in this results file." in tex
    gan = read_json(results["fcn"])["runs"][1]
    assert f"{gan['pixel_acc']:.3f}" in tex


def _error(capsys) -> str:
    return capsys.readouterr().err


def test_bad_input_gives_clear_errors(results, tmp_path, capsys):
    out = str(tmp_path / "t.tex")
    newer = read_json(results["fcn"]) | {"version": 99}
    write_json(tmp_path / "newer.json", newer)
    assert main(["report", "latex", str(tmp_path / "newer.json"), "--out", out]) == 2
    assert "newer" in _error(capsys)

    write_json(tmp_path / "kind.json", read_json(results["fcn"]) | {"kind": "fid"})
    assert main(["report", "latex", str(tmp_path / "kind.json"), "--out", out]) == 2
    assert "'fid'" in _error(capsys)

    broken = read_json(results["fcn"])
    del broken["runs"][2]["class_acc"]
    write_json(tmp_path / "broken.json", broken)
    assert main(["report", "md", str(tmp_path / "broken.json")]) == 2
    err = _error(capsys)
    assert "broken.json" in err and "unet-cgan" in err and "class_acc" in err

    broken = read_json(results["fcn"])
    broken["runs"][0]["pixel_acc"] = "0.5"
    write_json(tmp_path / "text.json", broken)
    assert main(["report", "md", str(tmp_path / "text.json")]) == 2
    assert "number or null" in _error(capsys)

    assert main(["report", "md", str(results["fcn"]), "--order", "unet-l1,typo"]) == 2
    assert "typo" in _error(capsys)

    assert main(["report", "md", str(tmp_path / "absent.json")]) == 2
    assert "absent.json" in _error(capsys)


def test_help_has_examples(capsys):
    for command in ("latex", "html", "md"):
        with pytest.raises(SystemExit):
            main(["report", command, "--help"])
        assert "example" in capsys.readouterr().out
