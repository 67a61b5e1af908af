"""Exclusion rules, fixed before data: what they are, their fingerprint, and what each removed.

A study's exclusion rules come from its config (`Protocol`):

``qualification``
    Raters below the qualification thresholds are not admitted (no main trials).
``vigilance``
    Raters missing more vigilance trials than allowed leave the results.
``reexposed``
    Trials shown twice (a reload mid-trial) leave the results.
``timing``
    Trials painted more than a frame off target, or with an implausible timeline, leave the results.
``too_fast``
    Answers sooner than ``too_fast_ms`` after the response opened leave the results.

Pre-registration, enforced: at the site's first start the rules and their
fingerprint are stored in the database (`record_rules`); once any answer is
stored, a site whose config gives other rules refuses to start, naming what
changed, and `study results` refuses to score the answers under other rules
(`check_rules`). `study_app.records.exclusion_counts` is the one definition of what a
rule removed, for records files and study databases alike.
"""

import hashlib
import json
from typing import Any

from sqlalchemy import Engine, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from p2p_eval.errors import InputError
from study_app import db
from study_app.config import Protocol

RULES = ("qualification", "vigilance", "reexposed", "timing", "too_fast")
_RECORD = "exclusion"  # the row of `db.study_rules` holding them


def exclusion_rules(protocol: Protocol) -> dict[str, Any]:
    """Every rule with the values that decide it; None or False where it is off.

    Examples
    --------
    >>> exclusion_rules(Protocol(too_fast_ms=150))["too_fast"]
    {'below_ms': 150}
    """
    return {
        "qualification": {"trials": protocol.qualification_trials, "min_real": protocol.qualification_min_real,
                          "min_fake": protocol.qualification_min_fake} if protocol.qualification_trials else None,
        "vigilance": {"trials": protocol.vigilance_trials, "max_misses": protocol.vigilance_max_misses}
        if protocol.vigilance_trials and protocol.exclude_vigilance_failures else None,
        "reexposed": protocol.exclude_reexposed,
        "timing": protocol.exclude_timing_flags,
        "too_fast": {"below_ms": protocol.too_fast_ms} if protocol.too_fast_ms else None,
    }


def active_rules(protocol: Protocol) -> list[str]:
    """The names of the rules that are on, in `RULES` order."""
    return [name for name, value in exclusion_rules(protocol).items() if value]


def fingerprint(rules: dict[str, Any]) -> str:
    """SHA-256 of the rules' canonical JSON."""
    return hashlib.sha256(json.dumps(rules, sort_keys=True).encode()).hexdigest()


def describe(protocol: Protocol) -> list[str]:
    """One line per rule, saying what it removes (or that it is off), for `study check` and the results."""
    rules = exclusion_rules(protocol)
    q, v, fast = rules["qualification"], rules["vigilance"], rules["too_fast"]
    pay = "thanked and paid" if protocol.qualification_pay else "asked to return the task"
    return [
        f"qualification: raters with less than {q['min_real']:.0%} right on the real or {q['min_fake']:.0%} on the "
        f"fake images of the {q['trials']}-image qualification are not admitted ({pay})" if q
        else "qualification: off (no qualification block)",
        f"vigilance: raters missing more than {v['max_misses']} of the {v['trials']} vigilance trials are left out"
        if v else "vigilance: off" + (" (vigilance trials reported, nobody excluded)" if protocol.vigilance_trials else ""),
        "reexposed: trials shown twice (a reload mid-trial) are left out" if rules["reexposed"] else "reexposed: off",
        "timing: trials painted more than a frame off target, or with an implausible timeline, are left out"
        if rules["timing"] else "timing: off (flagged trials are reported, not left out)",
        f"too_fast: answers sooner than {fast['below_ms']} ms after the response opened are left out" if fast
        else "too_fast: off",
    ]


def record_rules(engine: Engine, protocol: Protocol, where: str) -> None:
    """Store the rules at the study's first start; refuse other rules once an answer is stored.

    Before any answer the stored rules follow the config (they may still change).

    Raises
    ------
    InputError
        If answers are stored and the config's rules differ from the recorded ones;
        the message names `where` (the config file) and every rule that changed.
    """
    try:
        _record(engine, exclusion_rules(protocol), where)
    except IntegrityError:  # another server process of the study recorded them first: check against theirs
        _record(engine, exclusion_rules(protocol), where)


def check_rules(engine: Engine, protocol: Protocol, where: str) -> None:
    """Refuse results under other rules than the stored answers were collected under (`study results`).

    Editing the config after data would otherwise re-score the answers under
    rules chosen after seeing them, and the document would report those as the
    study's rules. A database from before rules were recorded passes.

    Raises
    ------
    InputError
        If answers are stored and the config's rules differ from the recorded ones (naming each).
    """
    rules = exclusion_rules(protocol)
    with engine.connect() as conn:
        row = conn.execute(select(db.study_rules).where(db.study_rules.c.name == _RECORD)).first()
        if row is not None and row.fingerprint != fingerprint(rules):
            _refuse_changed(conn, json.loads(row.rules), rules, where)


def _refuse_changed(conn, recorded: dict[str, Any], rules: dict[str, Any], where: str) -> None:
    """Raise InputError naming every changed rule, if any answer is stored."""
    if conn.execute(select(exists().select_from(db.answers))).scalar():
        changed = "; ".join(f"{name}: recorded {json.dumps(recorded.get(name))}, config "
                            f"{json.dumps(rules[name])}" for name in RULES if recorded.get(name) != rules[name])
        raise InputError(f"{where}: the exclusion rules differ from those fixed when this study started, and "
                         f"answers are stored ({changed}). Rules are fixed before data: restore the recorded "
                         "values, or run the changed study on a new database.")


def _record(engine: Engine, rules: dict[str, Any], where: str) -> None:
    mark = fingerprint(rules)
    with db.write(engine) as conn:
        row = conn.execute(select(db.study_rules).where(db.study_rules.c.name == _RECORD)).first()
        if row is None:
            conn.execute(insert(db.study_rules).values(name=_RECORD, fingerprint=mark, rules=json.dumps(rules),
                                                       recorded_at=db.now()))
        elif row.fingerprint != mark:
            _refuse_changed(conn, json.loads(row.rules), rules, where)
            conn.execute(update(db.study_rules).where(db.study_rules.c.name == _RECORD)
                         .values(fingerprint=mark, rules=json.dumps(rules), recorded_at=db.now()))
