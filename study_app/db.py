"""The responses database: schema, engine and the one hook the app factory calls.

SQLite in WAL mode by default (embedded; every commit is on disk before the
reply: ``synchronous=FULL``, or the trial routes' own flush of the log, see
`study_app.driver`), PostgreSQL by URL (``postgresql://user@host/db``) when a
study runs several server processes. Only this module and the trial routes'
database path (`study_app.driver`) know which one it is.

Uniqueness is the database's job: a rater id has one session
(``sessions.rater_id`` unique), a trial one answer (``answers`` keyed by
session and trial index), a stimulus token one trial.

A trial row holds everything its kind needs to be shown and checked again
after a reload or a crash: its images, which side is fake, its schedule (the
timed steps the page plays, JSON), and the one-time token of its stimulus.
A single-image trial (the HYPE tasks) names what it shows in ``image`` and
keeps that image's key in ``real_key`` or ``fake_key`` (the other empty). A
staircase trial's schedule is empty until the server decides its exposure
from the stored answers before it (`study_app.single`); it then holds the
staircase's level and the exposure requested in ms and in display frames.

Columns added after the first release of the site are nullable, and `init_db`
adds them to a database made before them, so a running study keeps its data.
"""

import importlib.util
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app
from sqlalchemy import (
    Boolean, Column, Connection, Engine, Float, ForeignKey, Integer, MetaData, String, Table, Text,
    create_engine, event, inspect,
)

from p2p_eval.errors import InputError
from study_app.driver import Driver, sqlite_write
from study_app.statements import Prepared  # noqa: F401 -- the trial routes use db.Prepared

log = logging.getLogger(__name__)

metadata = MetaData()

sessions = Table(
    "sessions", metadata,
    Column("id", String(32), primary_key=True),  # opaque, in the rater's URL
    Column("rater_id", String(128), nullable=False, unique=True),
    Column("platform", String(16), nullable=False),  # amt | prolific | local
    Column("algorithm", String(128), nullable=False),
    Column("status", String(16), nullable=False),  # active | complete (expiry is computed)
    Column("csrf", String(64), nullable=False),
    Column("next_index", Integer, nullable=False, default=0),  # trials answered so far
    Column("n_trials", Integer, nullable=False),
    Column("external", Text, nullable=False, default="{}"),  # platform ids (JSON)
    Column("created_at", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("completed_at", Float),
    Column("frame_ms", Float),  # the rater's display frame period, fixed once (hype-time); status "screened":
    # failed the qualification
)

trials = Table(
    "trials", metadata,
    Column("session_id", String(32), ForeignKey("sessions.id"), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("phase", String(16), nullable=False),  # qualification | practice | main (PostgreSQL enforces the length)
    Column("kind", String(12), nullable=False),  # normal | vigilance
    Column("real_key", String(256), nullable=False),
    Column("fake_key", String(256), nullable=False),
    Column("fake_left", Boolean, nullable=False),  # drawn from the OS's CSPRNG at session start
    Column("schedule", Text, nullable=False),  # JSON: the steps the page plays (study_app.presentation)
    Column("stim_token", String(32), unique=True),  # one-time URL token of the stimulus; null once answered
    Column("feedback_token", String(32), unique=True),  # one-time token of a practice trial's feedback images
    Column("served_at", Float),  # first time the stimulus was sent
    Column("fetched_at", Float),  # last time the stimulus was sent
    Column("request_ms", Float),  # the last send's trial sent -> stimulus request received (a round trip; audit)
    Column("views", Integer, nullable=False, default=0),  # times the stimulus was sent; >1: re-exposed
    Column("image", String(4)),  # single-image trials: "real" | "fake" (null: a two-image trial)
    Column("source", String(128)),  # the fake's algorithm when not the session's (qualification trials)
    Column("block", Integer),  # staircase block of a main trial (0-based; null: 0)
    Column("exposure_ms", Float),  # requested exposure of the image(s), frame-rounded; null: until the answer
    Column("exposure_frames", Integer),  # the same in display frames (staircase trials)
    Column("level_ms", Float),  # the staircase's level (ms, not rounded) this trial was shown at
    Column("streak", Integer),  # right answers in a row at this level before this trial
)

answers = Table(
    "answers", metadata,
    Column("session_id", String(32), ForeignKey("sessions.id"), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("choice", String(5), nullable=False),  # left | right: the side picked as fake
    Column("correct", Boolean, nullable=False),  # picked the fake
    Column("reaction_ms", Float, nullable=False),  # response opened (last image hidden, as painted) -> answer
    Column("exposure_ms", Float, nullable=False),  # painted duration of the trial's exposure farthest off target
    Column("exposure_frames", Integer, nullable=False),  # the same, in display frames
    Column("frame_ms", Float, nullable=False),  # the display's measured frame interval
    Column("painted_ms", Text, nullable=False),  # JSON: painted duration of every schedule step (page)
    Column("load_ms", Float, nullable=False),  # page: stimulus requested -> play starts (decoded, frame measured)
    Column("server_ms", Float, nullable=False),  # server: stimulus sent -> answer received
    Column("reexposed", Boolean, nullable=False),  # the stimulus was sent more than once
    Column("off_timing", Boolean, nullable=False),  # an exposure more than one frame off target
    Column("implausible", Boolean, nullable=False),  # the page's timeline contradicts the server's
    Column("received_at", Float, nullable=False),
    Column("mask_frames", Text),  # JSON: display frames each noise mask was painted for (hype-time)
)

study_rules = Table(
    "study_rules", metadata,  # the exclusion rules fixed at the study's first start (study_app.rules)
    Column("name", String(32), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("rules", Text, nullable=False),  # JSON
    Column("recorded_at", Float, nullable=False),
)


def sqlite_settings(dbapi_connection, _record=None) -> None:
    """The settings of every SQLite connection of a study (the load benchmark's floor server uses them too).

    WAL (readers never wait for the writer), durable commits (``synchronous=FULL``:
    a commit is on disk before the reply), a 30 s busy timeout, foreign keys on,
    and no implicit BEGIN from the driver (autocommit mode): a read is one
    statement on one consistent snapshot, with no BEGIN and ROLLBACK around it,
    and writers emit BEGIN IMMEDIATE themselves (`write`), taking the write
    lock up front.
    """
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a commit is on disk before the reply
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def driver_url(url: str) -> str:
    """`url` with an installed PostgreSQL driver named (SQLAlchemy 2.1 defaults to psycopg 3)."""
    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None:
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite connections get WAL and durable commits."""
    url = driver_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, pool_size=20, max_overflow=20)
        event.listen(engine, "connect", sqlite_settings)
    else:
        # The process id in application_name: pg_stat_activity shows which server process holds a connection.
        engine = create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True,
                               connect_args={"application_name": f"p2p-study {os.getpid()}"})
    return engine


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """A durable write transaction through SQLAlchemy, committed on leaving (rolled back on an exception).

    SQLite writers queue on the process's write lock (`study_app.driver.sqlite_write`,
    under which the trial routes write too) and commit at ``synchronous=FULL``;
    PostgreSQL writers run concurrently, their statements compare-and-set.
    """
    if engine.dialect.name == "sqlite":
        # The transaction is the driver connection's own (BEGIN IMMEDIATE); statements run through `conn` join it.
        with engine.connect() as conn, sqlite_write(conn.connection.dbapi_connection, None):
            yield conn
    else:
        with engine.begin() as conn:
            yield conn


def init_db(engine: Engine) -> None:
    """Create the tables that do not exist yet (never drops data).

    Raises
    ------
    InputError
        If the database holds a study made by an older p2p-eval (its trials
        lack one-time stimulus tokens), which this version cannot serve.
    """
    metadata.create_all(engine)
    found = {table.name: {column["name"] for column in inspect(engine).get_columns(table.name)}
             for table in (sessions, trials, answers)}
    if "stim_token" not in found["trials"]:
        raise InputError(f"{engine.url.render_as_string(hide_password=True)}: this study database was made by an "
                         "older p2p-eval; finish that study with the version that started it, or use a new database.")
    for table in (sessions, trials, answers):
        for column in table.columns:
            if column.name not in found[table.name] and column.nullable:  # added since: null in the old rows
                with engine.begin() as conn:
                    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column.name} "
                                         f"{column.type.compile(dialect=engine.dialect)}")


def get_engine() -> Engine:
    """The app's engine (one pool per app; connections are per request)."""
    return current_app.extensions["study_engine"]


def get_driver() -> Driver:
    """The app's per-thread driver connections, for the trial routes."""
    return current_app.extensions["study_driver"]


def init_app(app: Flask) -> None:
    """Create the engine and the schema; the one hook `create_app` calls."""
    engine = make_engine(app.config["DATABASE_URL"])
    init_db(engine)
    app.extensions["study_engine"] = engine
    app.extensions["study_driver"] = Driver(engine)


def now() -> float:
    """Server timestamp stored with every row (seconds since the epoch, UTC)."""
    return time.time()
