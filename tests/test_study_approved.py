"""`p2p-eval study results --raters`: only the raters the platform approved count (forged platform ids do not).

The site cannot verify ``?PROLIFIC_PID=`` or ``workerId``: a bot or a screened-out rater
can come back with a made-up id and is served like anyone else. The platform's export
of approved participants decides whose sessions the results keep.
"""

import csv
import hashlib
import json

import pytest
from sqlalchemy import select

from p2p_eval.cli import main
from study_app import create_app, db
from study_helpers import RaterActions, make_hype_study, make_study

PROLIFIC = "?PROLIFIC_PID={}&STUDY_ID=S1&SESSION_ID=X{}"
AMT = "?workerId={}&assignmentId=A{}&hitId=H1&turkSubmitTo=https://www.mturk.com"


def _rate(config, queries: list[str]) -> None:
    """One complete session per landing query, every trial answered."""
    app = create_app({"STUDY_CONFIG": str(config), "TESTING": True})
    for query in queries:
        rater = RaterActions(app.test_client())
        rater.complete(rater.start(query), choose=lambda trial: trial["choices"][0])


def _write_csv(path, header: list[str], rows: list[list[str]]):
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([header, *rows])
    return path


def _results(config, out, *extra) -> dict:
    assert main(["study", "results", str(config), "--json", str(out), "--resamples", "100", *extra]) == 0
    return json.loads(out.read_text())


def test_a_prolific_export_keeps_only_approved_participants(tmp_path, capsys):
    """Two approved participants, one the platform rejected, one id nobody on Prolific has (a bot's): the results
    keep the two; the document says what was dropped, which approved id never took part, and the file's SHA-256."""
    config = make_study(tmp_path, practice=0, main=4, lead_ms=0, exposure_ms=100)
    _rate(config, [PROLIFIC.format(pid, n) for n, pid in enumerate(["5f1aaa", "5f1bbb", "5f1ccc", "forged01"])])
    # Prolific's submissions export: `Participant id` and `Status` (header as Prolific writes it)
    export = _write_csv(tmp_path / "prolific.csv", ["Submission id", "Participant id", "Status", "Started at"], [
        ["X0", "5f1aaa", "APPROVED", "2026-11-30"], ["X1", "5f1bbb", "APPROVED", "2026-11-30"],
        ["X2", "5f1ccc", "REJECTED", "2026-11-30"], ["X9", "5f1zzz", "APPROVED", "2026-11-30"]])
    everyone = _results(config, tmp_path / "all.json")
    assert sum(run["n_raters"] for run in everyone["runs"]) == 4 and "approved_raters" not in everyone["data"]
    capsys.readouterr()
    document = _results(config, tmp_path / "approved.json", "--raters", str(export), "--csv", str(tmp_path / "t.csv"))
    assert sum(run["n_raters"] for run in document["runs"]) == 2
    assert sum(run["n_trials"] for run in document["runs"]) == 8
    assert document["data"]["approved_raters"] == {
        "path": str(export), "sha256": hashlib.sha256(export.read_bytes()).hexdigest(), "platform": "prolific",
        "approved": 3, "not_approved_rows": {"REJECTED": 1}, "sessions_kept": 2, "sessions_dropped": 2,
        "trials_dropped": 8, "never_seen": ["5f1zzz"]}
    assert sum(flags["trials"] for flags in document["data"]["trial_flags"].values()) == 8
    with (tmp_path / "t.csv").open() as file:
        assert {row["rater_id"] for row in csv.DictReader(file)} == {"prolific:5f1aaa", "prolific:5f1bbb"}
    out = capsys.readouterr().out
    assert "dropped 2 session(s) with 8 answered trial(s)" in out and "never took part: 5f1zzz" in out
    assert "rows of the file not approved: REJECTED 1" in out


def test_an_amt_batch_file_matches_amt_workers_only(tmp_path):
    """AMT's batch results CSV (`WorkerId`, `AssignmentStatus`: Submitted, Approved or Rejected): approved workers
    are kept; a Prolific session that claims an approved worker's id is not."""
    config = make_study(tmp_path, practice=0, main=3, exposure_ms=100)
    _rate(config, [AMT.format("AW1", 1), AMT.format("AW2", 2), PROLIFIC.format("AW1", 3)])
    batch = _write_csv(tmp_path / "batch.csv", ["HITId", "AssignmentId", "WorkerId", "AssignmentStatus", "Answer.x"], [
        ["H1", "A1", "AW1", "Approved", ""], ["H1", "A2", "AW2", "Submitted", ""]])
    summary = _results(config, tmp_path / "r.json", "--raters", str(batch))["data"]["approved_raters"]
    assert (summary["platform"], summary["sessions_kept"], summary["sessions_dropped"]) == ("amt", 1, 2)
    assert summary["not_approved_rows"] == {"Submitted": 1} and summary["never_seen"] == []


def test_a_plain_list_of_ids_filters_a_hype_study(tmp_path):
    """One id per line, any platform; a HYPE study's scores and exclusion counts come from the listed raters only."""
    config = make_hype_study(tmp_path, "hype-inf", main=4)
    _rate(config, [PROLIFIC.format("p1", 1), AMT.format("W2", 2), PROLIFIC.format("bot", 3)])
    listed = tmp_path / "ids.txt"
    listed.write_text("p1\nW2\n\nnever7\n")
    document = _results(config, tmp_path / "r.json", "--raters", str(listed))
    assert sum(run["n_raters"] for run in document["runs"]) == 2
    summary = document["data"]["approved_raters"]
    assert (summary["platform"], summary["sessions_dropped"], summary["never_seen"]) == (None, 1, ["never7"])
    with create_app({"STUDY_CONFIG": str(config), "TESTING": True}).extensions["study_engine"].connect() as conn:
        assert len(conn.execute(select(db.sessions)).all()) == 3  # the file changes no stored data


@pytest.mark.parametrize("content, message", [
    (None, "cannot read the approved raters"),
    ("name,email\nann,a@x.org\n", "no participant id column (found 'name', 'email')"),
    ("Participant id,Status\n5f1aaa,AWAITING REVIEW\n", "approves nobody (rows by status: AWAITING REVIEW 1)"),
    ("p1\nnot an id\n", "line 2: expected a platform id"),
    ("WorkerId,AssignmentStatus\nW1,Approved,extra\n", "line 2 has 3 fields where the header has 2"),
    ("\n\n", "no raters in it"),
])
def test_a_bad_approved_file_is_refused_naming_it_and_the_fix(tmp_path, capsys, content, message):
    config = make_study(tmp_path, practice=0, main=2, exposure_ms=100)
    _rate(config, [PROLIFIC.format("5f1aaa", 1)])
    path = tmp_path / "approved.csv"
    if content is not None:
        path.write_text(content)
    out = tmp_path / "r.json"
    assert main(["study", "results", str(config), "--json", str(out), "--raters", str(path)]) == 2
    error = capsys.readouterr().err
    assert str(path) in error and message in error and not out.exists()
    assert "Traceback" not in error


def test_raters_go_with_a_study_database_not_a_records_file(tmp_path, capsys):
    records = tmp_path / "trials.csv"
    records.write_text("rater,algorithm,image,answer\nr1,A,real,real\n")
    ids = tmp_path / "ids.txt"
    ids.write_text("r1\n")
    assert main(["study", "results", "--records", str(records), "--protocol", "hype-inf", "--json",
                 str(tmp_path / "r.json"), "--raters", str(ids)]) == 2
    assert "leave the other raters' rows out of the records file" in capsys.readouterr().err


def test_a_bad_row_after_a_blank_line_is_named_by_its_line_in_the_file(tmp_path):
    """Blank lines (a hand-edited export) are skipped, yet errors must name the line an editor shows."""
    from p2p_eval.errors import InputError
    from study_app.approved import read_approved

    export = tmp_path / "approved.csv"
    export.write_text("Participant id,Status\n\n5f1a,APPROVED\n\nnot an id!,APPROVED\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 5: expected a platform id"):
        read_approved(export)
    plain = tmp_path / "ids.txt"
    plain.write_text("5f1a\n\nbad id!\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 3: expected a platform id"):
        read_approved(plain)
