"""#14, "Messages and reports" and item 4: what report tables name, label, mark and rank."""

import subprocess

import numpy as np
import pytest
from results_factory import colorfulness_document, fcn_document, losses_document

from p2p_eval.cli import main
from p2p_eval.results import write_results
from reports.display import TableOptions, table_view
from reports.figures import ABSENT_MARKER, ZERO_MARKER, iou_figure
from reports.formatting import plain_text
from reports.summary import summary_table
from reports.tables import best_mask, document_table


def _named(document: dict, name: str) -> dict:
    document["data"] = {**document["data"], "dataset_name": name}  # a copy: the factory shares one DATA
    return document


def _md(tmp_path, *documents, extra=()):
    paths = []
    for i, document in enumerate(documents):
        paths.append(tmp_path / f"{i}.json")
        write_results(paths[-1], document)
    assert main(["report", "md", *map(str, paths), "--out", str(tmp_path / "r.md"), *extra]) == 0
    return (tmp_path / "r.md").read_text()


def test_captions_name_the_dataset_the_results_came_from(tmp_path):
    text = _md(tmp_path, _named(losses_document(), "synthetic-city"),
               _named(colorfulness_document([("unet-l1", "unet-l1", 2.0)]), "synthetic-city"),
               _named(fcn_document([("p2l", "photo2labels-l1", 0.7)], kind="label-score"), "synthetic-city"),
               extra=["--paper"])
    assert "**FCN-scores for different losses, evaluated on synthetic-city labels→photos.**" in text
    assert "**Histogram intersection against ground truth (synthetic-city labels→photos).**" in text
    assert "**Performance of photo→labels on synthetic-city.**" in text
    assert "Cityscapes" not in text.replace("published numbers of Isola et al., measured on Cityscapes", "")
    assert "data/tiny" not in text  # the dataset's name, never its path


def test_every_known_variant_gets_a_label_beside_the_papers(tmp_path):
    table = document_table(fcn_document([("a", "encdec-l1", 0.3), ("b", "unet-l1", 0.4), ("c", "unet-cgan", 0.5),
                                         ("d", "my-own-net", 0.5)], real=False))
    assert [r.label for r in table.rows] == ["Encoder-decoder (L1)", "L1", "cGAN", None]  # losses: L1, cGAN
    text = _md(tmp_path, fcn_document([("x", "encdec-l1", 0.3), ("y", "encdec-l1-cgan", 0.3), ("z", "unet-l1", 0.4),
                                       ("w", "unet-cgan", 0.5)], real=False), extra=["--paper"])
    assert "| U-net (cGAN) |" in text and "| Encoder-decoder (L1) |" in text and "unet-cgan" not in text
    assert "(arXiv v3 Table 2; not in the CVPR 2017 version)" in text and "((" not in text


def test_the_ground_truth_row_is_last_and_never_marked_as_a_run(tmp_path):
    document = losses_document()
    real = document["runs"].pop()  # the factory puts it last: move it first, as older fcn-score files had it
    real["baseline_test"] = {"baseline": "unet-l1", "n_frames": 2,
                             "pixel_acc": {"difference": 0.5, "interval": [0.4, 0.6], "p_value": 0.001}}
    document["runs"].insert(0, real)
    table = document_table(document)
    assert [r.source for r in table.rows][-1] == "real"
    view = table_view(table, TableOptions(), latex=False)
    assert "†" not in view.cells.iloc[-1, 0]  # its file holds a test of it; it is no contender
    summary = summary_table(["a.json", "b.json"], [document, colorfulness_document([("unet-l1", "unet-l1", 2.0)])])
    assert [r.name for r in summary.rows][-1] == "real"


def test_runs_with_frames_left_out_are_marked_counted_and_not_ranked(tmp_path):
    document = losses_document()  # unet-l1-cgan is the best run
    best = next(r for r in document["runs"] if r["name"] == "unet-l1-cgan")
    best["n_images"] = 1
    document["data"] = {**document["data"], "left_out": {r["name"]: 0 for r in document["runs"] if not r["is_real"]}
                        | {"unet-l1-cgan": 1}}
    table = document_table(document)
    row = next(i for i, r in enumerate(table.rows) if r.name == "unet-l1-cgan")
    assert not best_mask(table).iloc[row].any()
    second = next(i for i, r in enumerate(table.rows) if r.name == "unet-l1-gan")
    assert best_mask(table).iloc[second].all()
    view = table_view(table, TableOptions(), latex=False)
    assert all(cell.endswith("‡") for cell in view.cells.iloc[row])
    assert ("‡: scored on fewer frames than the split has (--allow-missing): L1+cGAN 1 of 2 frames; "
            "not ranked against runs scored on more.") in [plain_text(note) for note in view.notes]
    summary = summary_table(["a.json"], [document])
    assert not best_mask(summary).iloc[[r.name for r in summary.rows].index("unet-l1-cgan")].any()
    text = _md(tmp_path, document)
    assert "0.62‡" in text and "among the runs scored on the most frames" in text


@pytest.mark.latex
def test_latex_notes_and_headers_are_escaped_once(tmp_path):
    label = fcn_document([("p2l", "photo2labels-l1", 0.7)], kind="label-score")
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    write_results(paths[0], losses_document())
    write_results(paths[1], label)
    out = tmp_path / "t.tex"
    assert main(["report", "latex", *map(str, paths), "--summary", "--standalone", "--out", str(out)]) == 0
    tex = out.read_text()
    assert "Photo$\\to$labels" in tex and "\\textbackslash{}to" not in tex and "\\$" not in tex
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", out.name], cwd=tmp_path, check=True,
                   capture_output=True, timeout=60)
    subprocess.run(["pdftotext", "-layout", "t.pdf", "t.txt"], cwd=tmp_path, check=True, timeout=30)
    text = (tmp_path / "t.txt").read_text()
    assert "Photo→labels" in text and "$" not in text


def test_iou_chart_tells_an_iou_of_zero_from_an_absent_class():
    document = losses_document()
    entry = document["runs"][0]
    entry["per_class"][3]["iou"] = 0.0  # wall: present, never hit
    entry["per_class"][5]["iou"] = None  # pole: absent, never predicted
    figure = iou_figure(document)
    lines = [line for line in figure.axes[0].get_lines() if line.get_marker() in (ZERO_MARKER, ABSENT_MARKER)]
    markers = {line.get_marker(): line.get_ydata() for line in lines if len(line.get_ydata())}
    assert set(markers) == {ZERO_MARKER, ABSENT_MARKER}
    assert np.round(markers[ZERO_MARKER]).tolist() == [3] and np.round(markers[ABSENT_MARKER]).tolist() == [5]
    assert {"IoU 0", "class absent: no IoU"} <= {t.get_text() for t in figure.axes[0].get_legend().get_texts()}
