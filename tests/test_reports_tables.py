"""Tables from results documents: layout choice, order, marks, best cells, formatting."""

import re

import numpy as np
import pytest

from p2p_eval.paper import TABLES
from reports.display import TableOptions, table_view
from reports.formatting import escape_latex, format_cell, plain_text
from reports.summary import summary_table
from reports.tables import best_mask, document_table
from results_factory import colorfulness_document, fcn_document, losses_document, study_document


def test_losses_document_takes_table_1_layout_and_labels():
    table = document_table(losses_document())
    assert table.key == "losses" and table.caption == TABLES["losses"].caption_on("tiny")  # its dataset (#14)
    assert [r.label for r in table.rows] == ["L1", "GAN", "cGAN", "L1+GAN", "L1+cGAN", "Ground truth"]
    assert [r.source for r in table.rows][-1] == "real"
    assert table.values.shape == (6, 3)


def test_unmatched_variants_render_as_generic_table_with_run_names():
    document = fcn_document([("run_a&b 50%", "my-variant", 0.4), ("other", None, 0.2)], real=False)
    table = document_table(document, paper=True)
    assert table.key == "fcn-score" and table.paper is None and not table.has("paper")
    view = table_view(table, TableOptions(), latex=True)
    assert view.labels == [r"run\_a\&b 50\%", "other"]


def test_paper_rows_follow_the_runs_with_published_numbers():
    table = document_table(losses_document(), paper=True)
    paper = [i for i, r in enumerate(table.rows) if r.source == "paper"]
    assert paper == list(range(6, 12))
    assert table.values.iloc[paper[-1]].tolist() == [0.80, 0.26, 0.21]  # the paper's ground truth
    assert table.values.iloc[0]["pixel_acc"] == pytest.approx(losses_document()["runs"][0]["pixel_acc"])


def test_study_paper_errors_are_fractions_like_the_runs():
    document = study_document({"L1": 0.028, "L1+cGAN": 0.061})
    table = document_table(document)
    cell = table_view(table, TableOptions(), latex=False).cells.iloc[1, 0]
    assert cell == "6.1 ± 1.3"  # percent, 1 decimal, ± bootstrap SD: the paper's Table 4 format


def test_order_puts_named_runs_first_and_keeps_the_rest():
    table = document_table(losses_document(), order=("unet-l1-cgan", "not-here", "unet-l1"))
    assert [r.name for r in table.rows[:3]] == ["unet-l1-cgan", "not-here", "unet-l1"]
    assert table.rows[1].source == "missing" and len(table.rows) == 7  # nothing dropped
    cells = table_view(table, TableOptions(), latex=False).cells
    assert cells.iloc[1].tolist() == ["n/a"] * 3


def test_null_and_nan_scores_are_marked_cells():
    document = losses_document()
    document["runs"][0]["class_iou"] = None
    document["runs"][1]["class_acc"] = float("nan")
    table = document_table(document)
    view = table_view(table, TableOptions(intervals="brackets"), latex=False)
    assert view.cells.iloc[0]["class_iou"] == "--" and view.cells.iloc[1]["class_acc"] == "--"
    assert any("--: no score" in note for note in view.notes)
    assert not view.best["class_iou"].iloc[0]


def test_best_is_per_column_ties_at_displayed_precision_and_excludes_real_and_paper():
    document = fcn_document([("a", None, 0.5), ("b", None, 0.5), ("c", None, 0.1)])
    for entry, scores in zip(document["runs"], [(0.664, 0.20, 0.30), (0.661, 0.25, 0.10), (0.10, 0.25, 0.30)]):
        entry.update(pixel_acc=scores[0], class_acc=scores[1], class_iou=scores[2])
    document["runs"][-1].update(pixel_acc=0.99, class_acc=0.99, class_iou=0.99)  # the real photos
    best = best_mask(document_table(document), decimals=2)
    assert best["pixel_acc"].tolist() == [True, True, False, False]  # 0.66 == 0.66 as printed
    assert best["class_acc"].tolist() == [False, True, True, False]
    assert best["class_iou"].tolist() == [True, False, True, False]
    best3 = best_mask(document_table(document), decimals=3)
    assert best3["pixel_acc"].tolist() == [True, False, False, False]


def test_a_run_without_variant_in_a_paper_table_keeps_its_name():
    document = fcn_document([("l1", "unet-l1", 0.3), ("mystery", None, 0.2)])
    labels = table_view(document_table(document), TableOptions(), latex=False).labels
    assert labels == ["L1", "mystery", "Ground truth"]


def test_duplicate_variants_are_labelled_by_run_name():
    document = fcn_document([("l1-seed0", "unet-l1", 0.3), ("l1-seed1", "unet-l1", 0.3), ("gan", "unet-gan", 0.1)])
    labels = table_view(document_table(document), TableOptions(), latex=False).labels
    assert labels == ["l1-seed0", "l1-seed1", "GAN", "Ground truth"]
    names = table_view(document_table(document), TableOptions(names=True), latex=False).labels
    assert names == ["l1-seed0", "l1-seed1", "gan", "real"]


def test_photo_to_labels_document_takes_its_table():
    document = fcn_document([("p2l-l1", "photo2labels-l1", 0.5), ("p2l-cgan", "photo2labels-cgan", 0.4)],
                            kind="label-score", real=False)
    table = document_table(document, paper=True)
    assert table.key == "photo2labels" and [r.label for r in table.rows[:2]] == ["L1", "cGAN"]
    assert table.values.iloc[2].tolist() == [0.86, 0.42, 0.35]


def test_colorfulness_table_matches_figure_6():
    document = colorfulness_document([("unet-l1", "unet-l1", 2.0), ("unet-cgan", "unet-cgan", 3.2)])
    table = document_table(document, paper=True)
    assert table.key == "colorfulness" and [c.key for c in table.columns] == ["L", "a", "b"]
    assert table.values.iloc[2].tolist() == [0.81, 0.69, 0.70]


def test_format_cell_hand_cases():
    assert format_cell(0.6649, decimals=2) == "0.66" and format_cell(0.6651, decimals=3) == "0.665"
    assert format_cell(0.5, low=0.4, high=0.7, style="pm") == "0.50 ± 0.15"
    assert format_cell(0.5, low=None, high=0.7, style="brackets") == "0.50"
    assert format_cell(np.nan, style="none") == "--"
    with pytest.raises(ValueError, match="intervals|style"):
        format_cell(0.5, style="sd")


def test_latex_escaping_and_plain_text():
    assert escape_latex(r"a_b&c%d$e#f{g}h~i^j\k") == (
        r"a\_b\&c\%d\$e\#f\{g\}h\textasciitilde{}i\textasciicircum{}j\textbackslash{}k"
    )
    assert plain_text(TABLES["receptive-field"].rows[0].label) == "1×1"


def test_plain_text_reads_every_escaped_name_back_as_written():
    """Markdown and HTML notes and captions are escape_latex'd names read by plain_text: a
    dataset or baseline named with # $ { } ~ ^ \\ showed as "a\\#b" there before."""
    for name in ["a#b", "x$y", "{g}", "h~i^j", "k\\l", "\\&", "\\{", "a-{}-b", "a<b>c|d", "$<$", r"\textbackslash{}"]:
        assert plain_text(escape_latex(name)) == name
    every = "".join(chr(c) for c in range(32, 127))
    assert plain_text(escape_latex(every)) == every


def test_latex_escapes_what_the_default_font_encoding_draws_as_other_glyphs():
    """OT1 (pdflatex's default) draws < > | as ¡ ¿ —: a run "a|b" printed as "a—b"."""
    assert escape_latex("a<b>c|d") == r"a\textless{}b\textgreater{}c\textbar{}d"


def test_table_options_are_checked():
    with pytest.raises(ValueError, match="intervals"):
        TableOptions(intervals="sd")
    with pytest.raises(ValueError, match="decimals"):
        TableOptions(decimals=9)


def test_summary_marks_runs_missing_from_some_files():
    fcn = fcn_document([("a", None, 0.5), ("b", None, 0.3)], real=False)
    study = study_document({"b": 0.2, "c": 0.1})
    table = summary_table(["fcn.json", "study.json"], [fcn, study], order=("c",))
    assert [r.name for r in table.rows] == ["c", "a", "b"]  # --order first, then first appearance
    assert [c.group for c in table.columns] == ["FCN-score"] * 3 + ["Real vs fake"]
    view = table_view(table, TableOptions(), latex=False)
    assert view.cells.iloc[0].tolist() == ["n/a", "n/a", "n/a", "10.0"]
    assert view.cells.iloc[1, 3] == "n/a" and view.cells.iloc[2, 3] == "20.0"
    assert view.cells.iloc[1, 0] == f"{fcn['runs'][0]['pixel_acc']:.2f}"
    assert view.best["1:fool_rate"].tolist() == [False, False, True]
    assert any("n/a: run not in the results file" in n for n in view.notes)


def test_summary_decimals_are_per_column():
    table = summary_table(["f", "s"], [fcn_document([("a", None, 0.5)], real=False), study_document({"a": 0.1234})])
    view = table_view(table, TableOptions(), latex=False)
    assert len(view.cells.iloc[0, 0].split(".")[1]) == 2 and view.cells.iloc[0, 3] == "12.3"


def _with_baseline_tests(document: dict, p_values: dict[str, float]) -> dict:
    for entry in document["runs"][1:]:
        entry["baseline_test"] = {"baseline": document["runs"][0]["name"], "n_frames": 2, **{
            key: {"difference": 0.1, "interval": [0.05, 0.15], "p_value": p} for key, p in p_values.items()}}
    return document


def test_runs_that_differ_from_the_baseline_get_a_dagger():
    document = _with_baseline_tests(
        fcn_document([("base_line", None, 0.3), ("b", None, 0.5)], real=False),
        {"pixel_acc": 0.004, "class_acc": 0.2, "class_iou": None},
    )
    table = document_table(document)
    plain = table_view(table, TableOptions(), latex=False)
    assert plain.cells.iloc[1]["pixel_acc"].endswith("†") and not plain.cells.iloc[1]["class_acc"].endswith("†")
    assert not plain.cells.iloc[0]["pixel_acc"].endswith("†")  # the baseline itself is not tested
    assert "†: differs from base_line (paired bootstrap test, p < 0.05)." in [plain_text(n) for n in plain.notes]
    latex = table_view(table, TableOptions(), latex=True)
    assert latex.cells.iloc[1]["pixel_acc"].endswith(r"$^\dagger$")
    bracketed = table_view(table, TableOptions(intervals="brackets"), latex=False).cells.iloc[1]["pixel_acc"]
    assert re.fullmatch(r"\d\.\d\d† \[\d\.\d\d, \d\.\d\d\]", bracketed)  # the mark sits on the score
    assert any(r"base\_line" in n for n in latex.notes)


@pytest.mark.parametrize("intervals", ["brackets", "pm"])
def test_interval_notes_give_the_confidence_the_file_records(intervals):
    """`p2p_eval.score(..., bootstrap=Bootstrap(confidence=0.9))` records 0.9: the notes said "95%"."""
    document = fcn_document([("a", None, 0.5), ("b", None, 0.3)], real=False)
    document["protocol"] = {**document["protocol"], "bootstrap": {"resamples": 200, "seed": 0, "confidence": 0.9}}
    notes = " ".join(plain_text(n) for n in table_view(document_table(document), TableOptions(intervals=intervals),
                                                           latex=False).notes)
    assert "90% bootstrap interval" in notes and "95%" not in notes
    other = fcn_document([("a", None, 0.5)], real=False)  # 0.95: one summary, two confidences
    summary = summary_table(["f", "g"], [document, other])
    notes = " ".join(plain_text(n) for n in table_view(summary, TableOptions(intervals=intervals), latex=False).notes)
    assert "bootstrap interval at each file's confidence" in notes and "90% bootstrap intervals" in notes


def test_best_is_decided_on_the_numbers_as_printed():
    """pandas rounds 4.35 (stored as 4.3499999...) up to 4.4 but prints it as "4.3": a run printing 4.3
    was bold beside one printing 4.4. A fool rate of 87 in 2000 trials is such a number."""
    table = document_table(study_document({"a": 0.0435, "b": 0.044}))
    view = table_view(table, TableOptions(intervals="none"), latex=False)
    column = table.columns[0].key
    assert [view.cells.loc[i, column] for i in range(2)] == ["4.3", "4.4"]
    assert best_mask(table)[column].tolist()[:2] == [False, True]
    fcn = document_table(fcn_document([("a", None, 0.5), ("b", None, 0.5)], real=False))
    fcn.values.loc[:, "pixel_acc"] = [0.075, 0.08]  # printed 0.07 and 0.08
    assert best_mask(fcn)["pixel_acc"].tolist() == [False, True]


def test_summary_of_files_on_different_data_says_so(caplog):
    """The summary joins runs by name: an FCN-score on val beside a colorfulness on test (or another dataset)
    put scores of different frames in one row without a word."""
    import logging

    fcn = fcn_document([("unet", None, 0.5)], real=False)
    on_test = colorfulness_document([("unet", None, 2.0)])
    on_test["data"] = {**on_test["data"], "split": "test"}
    with caplog.at_level(logging.WARNING):
        table = summary_table(["fcn.json", "color_1.json"], [fcn, on_test])
    said = "the files measure different data (fcn.json: tiny/val; color_1.json: tiny/test)"
    assert said in caplog.text and "a row holds scores of different frames" in caplog.text
    assert escape_latex(said) in table.caption and table.caption.startswith("All results side by side")
    caplog.clear()
    same = summary_table(["fcn.json", "c.json"], [fcn, colorfulness_document([("unet", None, 2.0)])])
    assert "different data" not in same.caption and not caplog.text
