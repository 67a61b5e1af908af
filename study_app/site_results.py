"""Results of a study database: HYPE documents through the records interface, and what each exclusion rule removed.

A HYPE study's stored trials become per-trial records (`study_app.records`
columns) and are analysed by `study_app.analysis.hype_document`, the same
path as ``p2p-eval study results --records``: there is one analysis. The rows
are parsed by `study_app.records.parse_record` itself, so a records CSV the
site exports (``--csv``) gives the same scores when read back.

Both kinds of document also record the protocol's every value
(``protocol.settings``), the exclusion rules fixed before data
(``protocol.exclusion_rules``, `study_app.rules`) and what each removed
(``data.exclusions``, the shape `study_app.records.exclusion_counts` gives
records files: per rule, main ``trials`` and ``raters``).
"""

import csv
import dataclasses
import io
from collections import defaultdict
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select

from p2p_eval.errors import InputError
from study_app import audit, db
from study_app.adaptive import display_warnings
from study_app.analysis import DEFAULT_RESAMPLES, answered_trials, hype_document, rater_scores
from study_app.approved import ApprovedRaters
from study_app.approved import summary as approved_summary
from study_app.config import StudyConfig
from study_app.records import COLUMNS, INFORMATIONAL, exclusion_counts, parse_record
from study_app.rules import active_rules, describe, exclusion_rules

RECORD_FIELDS = (*COLUMNS, *INFORMATIONAL)
_FINISHED = ("complete", "screened")  # a screened session is finished too: its qualification answers count


def record_rows(rows: list[dict[str, Any]], config: StudyConfig) -> list[dict[str, Any]]:
    """Answered single-image trials of finished sessions as records-file rows, algorithms in config order.

    Parameters
    ----------
    rows : list of dict
        `study_app.analysis.answered_trials`.
    config : StudyConfig

    Returns
    -------
    records : list of dict
        Keys `RECORD_FIELDS`; the rater is the session id, ``excluded`` the
        trial-level rules (`study_app.audit.trial_exclusions`) of main trials.
    """
    order = {name: i for i, name in enumerate(config.algorithm_names)}
    mine = [r for r in rows if r["image"] is not None and r["session_status"] in _FINISHED]
    mine.sort(key=lambda r: (order.get(r["algorithm"], len(order)), r["session_id"], r["idx"]))
    records = []
    for r in mine:
        rules = audit.trial_exclusions(r, config.protocol) if r["phase"] == "main" else ()
        key = r["real_key"] if r["image"] == "real" else r["fake_key"]
        records.append({
            "rater": r["session_id"], "algorithm": r["algorithm"], "image": r["image"], "answer": r["choice"],
            "block": r["block"] or 0, "phase": r["phase"], "exposure_ms": r["requested_ms"],
            "painted_ms": r["exposure_ms"] if r["exposure_ms"] > 0 else None, "correct": bool(r["correct"]),
            "excluded": ";".join(rules), "trial": r["idx"],
            "stimulus": f"real:{key}" if r["image"] == "real" else f"{r['source'] or r['algorithm']}:{key}",
            "rt_ms": r["reaction_ms"], "mask_frames": r["mask_frames"], "frame_ms": r["frame_ms"],
        })
    return records


def records_csv(records: list[dict[str, Any]]) -> str:
    """Records-file rows as CSV text (`p2p-eval study results --records` reads it back)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=RECORD_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def database_hype_document(
    config: StudyConfig, engine: Engine, *, n_resamples: int = DEFAULT_RESAMPLES, raters: ApprovedRaters | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``hype-inf`` / ``hype-time`` document of a HYPE study database, and its records rows (only the
    sessions of `raters` when given).

    Algorithm i resamples with seed ``protocol.seed + i`` (algorithms in the
    order of their first record: the config's, less those nobody rated yet).
    """
    rows = answered_trials(engine, raters)
    rows_out = record_rows(rows, config)
    records = [parse_record(row, f"{config.path}: session {row['rater']} trial {row['trial']}") for row in rows_out]
    source = {"config": str(config.path), "database": engine.url.render_as_string(hide_password=True)}
    document = hype_document(records, config.protocol.task, source=source, n_resamples=n_resamples,
                             seed=config.protocol.seed)
    add_site_facts(document, config, engine, rows, raters)
    return document, rows_out


def check_algorithms(engine: Engine, config: StudyConfig) -> None:
    """Refuse a database whose raters rated an algorithm the config no longer lists.

    The 2AFC results score the config's algorithms only: a rated one removed
    from (or renamed in) the config after data would drop its answers unseen.

    Raises
    ------
    InputError
        Naming each such algorithm and how many sessions rated it.
    """
    with engine.connect() as conn:
        rated = conn.execute(select(db.sessions.c.algorithm, func.count()).group_by(db.sessions.c.algorithm)).all()
    missing = {name: n for name, n in rated if name not in config.algorithm_names}
    if missing:
        listed = ", ".join(f"{name!r} ({n} session(s))" for name, n in sorted(missing.items()))
        raise InputError(f"{config.path}: the database holds sessions of algorithms the config does not list: {listed}; "
                         "their answers would be left out. Restore those [[algorithms]] entries (same names).")


def add_site_facts(document: dict[str, Any], config: StudyConfig, engine: Engine, rows: list[dict[str, Any]],
                   raters: ApprovedRaters | None = None) -> None:
    """Record the settings and rules in ``protocol``, and the exclusions, flags, qualification and displays in ``data``
    (of the sessions of `raters` when given, and what keeping only them removed: ``data.approved_raters``)."""
    protocol = config.protocol
    document["protocol"]["settings"] = dataclasses.asdict(protocol)
    document["protocol"]["exclusion_rules"] = exclusion_rules(protocol)
    document["protocol"]["exclusion_rules_text"] = describe(protocol)
    data = document["data"]
    data["exclusions"] = _exclusions(rows, config)
    data["trial_flags"] = audit.flag_counts(engine, protocol, config.algorithm_names, raters)
    if protocol.qualification_trials:
        data["qualification"] = _qualification(rows)
    if protocol.task == "hype-time":
        data["displays"] = displays(engine, config, raters)
    if raters is not None:
        data["approved_raters"] = approved_summary(raters, engine)


def _exclusions(rows: list[dict[str, Any]], config: StudyConfig) -> dict[str, dict[str, int]]:
    """Per active rule, the main trials and raters it removed (qualification: the raters screened out)."""
    protocol = config.protocol
    main = [r for r in rows if r["phase"] == "main" and r["session_status"] == "complete"]
    failed = set()
    if protocol.vigilance_trials and protocol.exclude_vigilance_failures:
        failed = {s.session_id for s in rater_scores(audit.kept_rows(main, protocol), protocol) if s.excluded}
    marks = ((r["session_id"], audit.trial_exclusions(r, protocol) + (("vigilance",) if r["session_id"] in failed else ()))
             for r in main)
    counts = exclusion_counts(marks, [rule for rule in active_rules(protocol) if rule != "qualification"])
    if protocol.qualification_trials:
        screened = {r["session_id"] for r in rows if r["session_status"] == "screened"}
        counts["qualification"] = {"trials": 0, "raters": len(screened)}
    return counts


def _qualification(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Raters who finished the qualification block: admitted and screened out."""
    taken = {r["session_id"]: r["session_status"] for r in rows if r["phase"] == "qualification"}
    screened = sum(status == "screened" for status in taken.values())
    admitted = len({r["session_id"] for r in rows if r["phase"] in ("practice", "main") and r["session_id"] in taken})
    return {"screened": screened, "admitted": admitted}


def displays(engine: Engine, config: StudyConfig, raters: ApprovedRaters | None = None) -> list[dict[str, Any]]:
    """The raters' display frame periods (grouped to 0.1 ms), sessions at each, and why each cannot show the
    protocol exactly (for the group's median period); only the sessions of `raters` when given."""
    groups: dict[float, list[float]] = defaultdict(list)
    with engine.connect() as conn:
        for rater_id, ms in conn.execute(select(db.sessions.c.rater_id, db.sessions.c.frame_ms)):
            if ms and (raters is None or raters.keeps(rater_id)):
                groups[round(ms, 1)].append(ms)
    summary = []
    for key, periods in sorted(groups.items()):
        median = float(np.median(periods))
        summary.append({"frame_ms": key, "hz": round(1000 / median, 1), "sessions": len(periods),
                        "warnings": display_warnings(config.protocol, median)})
    return summary
