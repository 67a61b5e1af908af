"""HYPE results rendered as HYPE's tables (model, score, fakes/reals error, Std., 95% CI) in every format."""

import subprocess

import numpy as np
import pytest

from p2p_eval.cli import main
from p2p_eval.results import write_results
from reports.display import TableOptions, table_view
from reports.tables import document_table
from study_app.analysis import hype_document
from study_app.records import TrialRecord
from study_app.simulate import run_staircases
from test_hype import _simulated_inf


@pytest.fixture
def hype_files(tmp_path):
    """A hype-inf document of three models (one name needing escapes) and a hype-time one of two."""
    records = _simulated_inf({"StyleGAN": (0.62, 0.39), "ProGAN": (0.45, 0.3), "run_a&b 50%": (0.2, 0.1)},
                             n_raters=12, seed=0)
    inf = hype_document(records, "hype-inf", source={"path": "trials.csv"}, n_resamples=1000)
    rng = np.random.default_rng(1)
    timed = []
    for model, threshold in (("StyleGAN", 380.0), ("ProGAN", 300.0)):
        shown, correct = run_staircases(rng, rng.normal(threshold, 40, size=(8, 3)), n_trials=150, slope=3.0,
                                        frame_ms=1000 / 60)
        timed += [TrialRecord(f"{model}{r}", model, "fake", "fake" if correct[r, b, t] else "real", block=b,
                              exposure_ms=float(shown[r, b, t])) for r in range(8) for b in range(3) for t in range(150)]
    time = hype_document(timed, "hype-time", source={"path": "timed.csv"}, n_resamples=1000)
    paths = {"inf": tmp_path / "inf.json", "time": tmp_path / "time.json"}
    write_results(paths["inf"], inf)
    write_results(paths["time"], time)
    return paths, inf, time


def test_hype_inf_table_shows_hypes_columns(hype_files):
    _, inf, _ = hype_files
    table = document_table(inf)
    view = table_view(table, TableOptions(), latex=False)
    assert view.headers == ["Model", "HYPE∞ (%)", "Fakes error (%)", "Reals error (%)", "Std.", "95% CI"]
    style = {r["name"]: r for r in inf["runs"]}["StyleGAN"]
    row = view.cells.iloc[0]
    assert row["hype_inf"] == f"{100 * style['hype_inf']:.1f}"
    assert row["hype_inf:sd"] == f"{100 * style['bootstrap_sd']:.1f}"
    low, high = style["intervals"]["hype_inf"]
    assert row["hype_inf:ci"] == f"{100 * low:.1f}–{100 * high:.1f}"
    assert view.best["hype_inf"].tolist() == [True, False, False]
    assert not view.best["real_error"].any() and not view.best["hype_inf:sd"].any()  # not contests
    assert "above 50\\% is hyper-real" in table.caption and any("ANOVA" in n for n in view.notes)


def test_hype_time_table_in_ms(hype_files):
    _, _, time = hype_files
    view = table_view(document_table(time), TableOptions(), latex=False)
    assert view.headers == ["Model", "HYPE_time (ms)", "Std.", "95% CI"]
    first = time["runs"][0]
    assert view.cells.iloc[0]["hype_time_ms"] == f"{first['hype_time_ms']:.1f}"
    assert any("unpaired t-test StyleGAN vs ProGAN" in n for n in view.notes)


def test_markdown_and_html_reports(hype_files, tmp_path, capsys):
    paths, _, _ = hype_files
    assert main(["report", "md", str(paths["inf"]), str(paths["time"])]) == 0
    text = capsys.readouterr().out
    assert "| Model | HYPE∞ (%) | Fakes error (%) | Reals error (%) | Std. | 95% CI |" in text
    assert "run\\_a&b 50%" in text and "Hype-inf: inf.json" in text  # the summary names files by kind
    assert main(["report", "html", str(paths["inf"]), str(paths["time"]), "--out", str(tmp_path / "html")]) == 0
    page = (tmp_path / "html" / "index.html").read_text()
    assert "HYPE∞ (%)" in page and "95% CI" in page and "HYPE_time (ms)" in page


@pytest.mark.latex
def test_latex_compiles_with_pdflatex(hype_files, tmp_path):
    paths, inf, _ = hype_files
    out = tmp_path / "hype.tex"
    assert main(["report", "latex", str(paths["inf"]), str(paths["time"]), "--summary", "--standalone",
                 "--out", str(out)]) == 0
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", out.name], cwd=tmp_path, check=True,
                   capture_output=True, timeout=60)
    subprocess.run(["pdftotext", "-layout", "hype.pdf", "hype.txt"], cwd=tmp_path, check=True, timeout=30)
    text = (tmp_path / "hype.txt").read_text()
    assert "HYPE∞ (%)" in text and "HYPEtime (ms)" in text and "95% CI" in text
    low, high = inf["runs"][0]["intervals"]["hype_inf"]
    assert f"{100 * low:.1f}–{100 * high:.1f}" in text


def _word_heights(pdf_dir, pdf: str, word: str) -> list[float]:
    """Heights (pt) of every occurrence of `word` in the PDF, in reading order (pdftotext -bbox)."""
    import re

    subprocess.run(["pdftotext", "-bbox", pdf, "boxes.html"], cwd=pdf_dir, check=True, timeout=30)
    html = (pdf_dir / "boxes.html").read_text()
    return [float(y1) - float(y0) for y0, y1 in re.findall(
        rf'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">{re.escape(word)}</word>', html)]


@pytest.mark.latex
def test_summary_of_a_study_and_both_hype_kinds_fits_the_page(hype_files, tmp_path):
    """The side-by-side table of study + hype-inf + hype-time was 141 pt wider than the text and lost its last
    columns off the page; now it is scaled to the text width, and only it: the narrow tables keep their size."""
    from results_factory import study_document

    paths, inf, time = hype_files
    study = tmp_path / "study.json"
    write_results(study, study_document({"StyleGAN": 0.2, "ProGAN": 0.3}))
    out = tmp_path / "all.tex"
    assert main(["report", "latex", str(study), str(paths["inf"]), str(paths["time"]), "--summary", "--standalone",
                 "--out", str(out)]) == 0
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", out.name], cwd=tmp_path, check=True,
                   capture_output=True, timeout=60)
    assert "Overfull \\hbox" not in (tmp_path / "all.log").read_text()
    subprocess.run(["pdftotext", "-layout", "all.pdf", "all.txt"], cwd=tmp_path, check=True, timeout=30)
    summary = (tmp_path / "all.txt").read_text().split("Table 2:")[0]
    header = next(line for line in summary.splitlines() if line.strip().startswith("Run"))
    for column in ("% labeled real", "HYPE∞ (%)", "Fakes error (%)", "Reals error (%)", "HYPEtime (ms)"):
        assert column in header, (column, header)
    assert header.count("Std.") == 2 and header.count("95% CI") == 2  # the last column too
    style = {r["name"]: r for r in time["runs"]}["StyleGAN"]
    low, high = style["intervals"]["hype_time_ms"]
    assert f"{low:.1f}–{high:.1f}" in summary  # the rightmost cell
    # The row headers: "Run" only in the (scaled) summary, "Algorithm" and "Model" in the tables at full size.
    (run,), (algorithm,), models = (_word_heights(tmp_path, "all.pdf", w) for w in ("Run", "Algorithm", "Model"))
    assert run < 0.9 * algorithm and len(models) == 2 and all(abs(m - algorithm) < 0.01 for m in models)
