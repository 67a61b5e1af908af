"""Every CSV p2p-eval writes opens in a spreadsheet as data: text that would start a formula is quoted (OWASP)."""

import csv
import io

from conftest import make_prepared_dataset, make_run
from p2p_eval.cli import main

HOSTILE = ("=HYPERLINK(\"http:x\";\"a\")", "+1+1", "-minus", "@SUM(A1)")


def _cells(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_scoring_csv_quotes_formula_names_and_leaves_numbers(tmp_path):
    """Run names come from folder names: a run folder named ``=HYPERLINK(...)`` became a live formula
    in the --csv a colleague opened."""
    data = make_prepared_dataset(tmp_path / "data", splits={"val": 3})
    for i, name in enumerate(HOSTILE):
        make_run(tmp_path / "runs" / name, data, quality="noise", seed=i)
    make_run(tmp_path / "runs" / "plain", data)
    out = tmp_path / "c.csv"
    assert main(["colorfulness", str(tmp_path / "runs"), "--baseline", "plain", "--csv", str(out),
                 "--workers", "0", "--resamples", "100", "--quiet"]) == 0
    rows = {r["name"]: r for r in _cells(out)}
    assert set(rows) == {"'" + name for name in HOSTILE} | {"plain"}
    diffs = [float(r["L_diff"]) for r in rows.values() if r["L_diff"]]
    assert diffs and all(d < 0 for d in diffs)  # noise scores below the real photos: "-0.4", no quote
    assert all(not r["L_diff"].startswith("'") for r in rows.values())


def test_study_trials_csv_quotes_text_from_the_web():
    """Rater ids and platforms are typed into the study site and exported by ``study results --csv``
    and the admin page's trials.csv."""
    from study_app.analysis import EXPORT_FIELDS, trials_csv

    row = dict.fromkeys(EXPORT_FIELDS) | {"rater_id": "=cmd|' /C calc'!A0", "platform": "\tprolific",
                                          "algorithm": "@L1", "reaction_ms": -12.5, "idx": 3, "correct": False}
    (cells,) = csv.DictReader(io.StringIO(trials_csv([row])))
    assert (cells["rater_id"], cells["platform"], cells["algorithm"]) == ("'=cmd|' /C calc'!A0", "'\tprolific", "'@L1")
    assert (cells["reaction_ms"], cells["idx"], cells["correct"]) == ("-12.5", "3", "False")
