"""Sessions: assign an algorithm so each fills up evenly, and start one per rater.

A slot is held by a complete session or by an active one seen within the
session timeout; an abandoned session past the timeout frees its slot (and
cannot be resumed: its rater has had their one session).
"""

import json
import random
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, case, func, insert, select
from sqlalchemy.exc import IntegrityError

from study_app import db
from study_app.config import StudyConfig
from study_app.images import new_token
from study_app.presentation import schedule
from study_app.stimuli import Stimuli
from study_app.trials import plan_session

# Sessions are assigned one at a time, so two simultaneous starts do not both see
# the same least-filled algorithm: SQLite writers queue (`db.write`); server
# processes sharing a PostgreSQL database take this advisory lock.
_PG_LOCK_KEY = 0x50325053  # "P2PS"


class StudyFull(Exception):
    """Every algorithm has its raters."""


class AlreadyTookPart(Exception):
    """The rater id finished or abandoned a session before."""


@dataclass(frozen=True)
class Slots:
    """How full one algorithm is."""

    complete: int
    active: int
    expired: int


def slots(conn: Connection, config: StudyConfig, at: float) -> dict[str, Slots]:
    """Per algorithm, sessions complete, active (holding a slot) and expired."""
    s = db.sessions
    held = case((s.c.status == "complete", 0), (s.c.last_seen >= at - config.protocol.session_timeout_s, 1), else_=2)
    each = select(s.c.algorithm, held.label("held")).subquery()
    counts = {name: [0, 0, 0] for name in config.algorithm_names}
    for algorithm, kind, n in conn.execute(
            select(each.c.algorithm, each.c.held, func.count()).group_by(each.c.algorithm, each.c.held)):
        if algorithm in counts:
            counts[algorithm][kind] = n
    return {name: Slots(*c) for name, c in counts.items()}


def pick_algorithm(filled: dict[str, Slots], target: int, rng: random.Random) -> str:
    """The least-filled algorithm with a free slot (ties broken at random).

    Raises
    ------
    StudyFull
        If every algorithm holds `target` sessions.
    """
    held = {name: s.complete + s.active for name, s in filled.items()}
    open_ = {name: n for name, n in held.items() if n < target}
    if not open_:
        raise StudyFull()
    fewest = min(open_.values())
    return rng.choice(sorted(name for name, n in open_.items() if n == fewest))


def find_session(engine: Engine, rater_id: str):
    """The session row of `rater_id`, or None if they never started one."""
    with engine.connect() as conn:
        return conn.execute(select(db.sessions).where(db.sessions.c.rater_id == rater_id)).first()


def is_expired(row, config: StudyConfig, at: float) -> bool:
    """Whether an active session has been idle past the timeout at time `at`."""
    return row.status == "active" and row.last_seen < at - config.protocol.session_timeout_s


def start_session(
    engine: Engine, config: StudyConfig, stimuli: Stimuli, rater_id: str, platform: str, external: dict
) -> str:
    """The rater's session id: their running session, or a new one.

    Raises
    ------
    AlreadyTookPart
        If the rater's session is complete or expired.
    StudyFull
        If no algorithm has a free slot.
    """
    existing = find_session(engine, rater_id)
    at = db.now()
    if existing is not None:
        if existing.status == "complete" or is_expired(existing, config, at):
            raise AlreadyTookPart()
        return existing.id
    session_id = secrets.token_urlsafe(16)
    protocol = config.protocol
    steps = json.dumps([step.as_json() for step in schedule(
        protocol.presentation, exposure_ms=protocol.exposure_ms, lead_ms=protocol.lead_ms, gap_ms=protocol.gap_ms)])
    try:
        with db.write(engine) as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
            algorithm = pick_algorithm(
                slots(conn, config, at), config.protocol.raters_per_algorithm, secrets.SystemRandom()
            )
            plan = plan_session(config.protocol, session_id, list(stimuli.real), list(stimuli.fakes[algorithm]))
            conn.execute(insert(db.sessions).values(
                id=session_id, rater_id=rater_id, platform=platform, algorithm=algorithm,
                status="active", csrf=secrets.token_urlsafe(24), next_index=0, n_trials=len(plan),
                external=json.dumps(external, sort_keys=True), created_at=at, last_seen=at,
            ))
            conn.execute(insert(db.trials), [
                {"session_id": session_id, "idx": t.index, "phase": t.phase, "kind": t.kind,
                 "real_key": t.real_key, "fake_key": t.fake_key, "fake_left": t.fake_left,
                 "schedule": steps, "stim_token": new_token(), "views": 0}
                for t in plan
            ])
    except IntegrityError:
        # The same rater started twice at once (another process): the first insert won.
        winner = find_session(engine, rater_id)
        if winner is None:
            raise
        return winner.id
    return session_id
