"""Sessions: assign an algorithm so each fills up evenly, and start one per rater.

A slot is held by a complete session or by an active one seen within the
session timeout; an abandoned session past the timeout frees its slot (and
cannot be resumed: its rater has had their one session), and so does a
session whose rater failed the qualification (``screened``).
"""

import json
import random
import secrets
from dataclasses import dataclass, replace

from sqlalchemy import Connection, Engine, case, func, insert, select
from sqlalchemy.exc import IntegrityError

from study_app import db
from study_app.config import StudyConfig
from study_app.images import new_token
from study_app.config import Protocol
from study_app.presentation import schedule, unlimited_schedule
from study_app.single import plan_qualification, plan_single_session
from study_app.stimuli import Stimuli
from study_app.trials import VIGILANCE_PREFIX, PlannedTrial, plan_session

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
    screened: int = 0  # failed the qualification: not admitted, no slot held


def slots(conn: Connection, config: StudyConfig, at: float) -> dict[str, Slots]:
    """Per algorithm, sessions complete, active (holding a slot), expired and screened out."""
    s = db.sessions
    held = case((s.c.status == "complete", 0), (s.c.status == "screened", 3),
                (s.c.last_seen >= at - config.protocol.session_timeout_s, 1), else_=2)
    each = select(s.c.algorithm, held.label("held")).subquery()
    counts = {name: [0, 0, 0, 0] for name in config.algorithm_names}
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


def plan_trials(protocol: Protocol, session_id: str, stimuli: Stimuli, algorithm: str) -> list[PlannedTrial]:
    """Every trial of a new session: the qualification block (if any) first, then the task's own trials."""
    fakes = {name: list(keys) for name, keys in stimuli.fakes.items()}
    if protocol.trial_kind == "single":
        return plan_single_session(protocol, session_id, list(stimuli.real), algorithm, fakes)
    plan = plan_session(protocol, session_id, list(stimuli.real), fakes[algorithm])
    used = {key.removeprefix(VIGILANCE_PREFIX) for t in plan for key in (t.real_key, t.fake_key)}
    qualification = plan_qualification(protocol, session_id, list(stimuli.real), fakes, used,
                                       chance=secrets.SystemRandom())
    return qualification + [replace(t, index=t.index + len(qualification)) for t in plan]


def _trial_schedule(protocol: Protocol, trial: PlannedTrial, two_image: str) -> tuple[str, float | None]:
    """A new trial's stored schedule (JSON; empty for a staircase trial, decided later) and its exposure."""
    if trial.phase == "qualification" or protocol.task == "hype-inf":
        return json.dumps([step.as_json() for step in unlimited_schedule()]), None
    if protocol.task == "hype-time":
        return "", None  # study_app.adaptive decides it from the answers before it
    return two_image, float(protocol.exposure_ms)


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
            plan = plan_trials(protocol, session_id, stimuli, algorithm)
            conn.execute(insert(db.sessions).values(
                id=session_id, rater_id=rater_id, platform=platform, algorithm=algorithm,
                status="active", csrf=secrets.token_urlsafe(24), next_index=0, n_trials=len(plan),
                external=json.dumps(external, sort_keys=True), created_at=at, last_seen=at,
            ))
            rows = []
            for t in plan:
                trial_steps, exposure_ms = _trial_schedule(protocol, t, steps)
                rows.append({"session_id": session_id, "idx": t.index, "phase": t.phase, "kind": t.kind,
                             "real_key": t.real_key, "fake_key": t.fake_key, "fake_left": t.fake_left,
                             "schedule": trial_steps, "stim_token": new_token(), "views": 0, "image": t.image,
                             "source": t.source, "block": t.block, "exposure_ms": exposure_ms})
            conn.execute(insert(db.trials), rows)
    except IntegrityError:
        # The same rater started twice at once (another process): the first insert won.
        winner = find_session(engine, rater_id)
        if winner is None:
            raise
        return winner.id
    return session_id
