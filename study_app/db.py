"""The responses database: schema, engine and the one hook the app factory calls.

SQLite in WAL mode with ``synchronous=FULL`` by default (embedded, survives a
killed server), PostgreSQL by URL (``postgresql://user@host/db``) when a study
runs several server processes. Only this module knows which one it is.

Uniqueness is the database's job: a rater id has one session
(``sessions.rater_id`` unique), a trial one answer (``answers`` keyed by
session and trial index), an image token one trial.
"""

import importlib.util
import logging
import time

from flask import Flask, current_app
from sqlalchemy import (
    Boolean, Column, Engine, Float, ForeignKey, Integer, MetaData, String, Table, Text,
    create_engine, event,
)

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
)

trials = Table(
    "trials", metadata,
    Column("session_id", String(32), ForeignKey("sessions.id"), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("phase", String(8), nullable=False),  # practice | main
    Column("kind", String(12), nullable=False),  # normal | vigilance
    Column("real_key", String(256), nullable=False),
    Column("fake_key", String(256), nullable=False),
    Column("fake_left", Boolean, nullable=False),
    Column("left_token", String(32), nullable=False, unique=True),
    Column("right_token", String(32), nullable=False, unique=True),
    Column("served_at", Float),  # first time the trial was sent to the browser
    Column("views", Integer, nullable=False, default=0),  # >1: the rater reloaded mid-trial
)

answers = Table(
    "answers", metadata,
    Column("session_id", String(32), ForeignKey("sessions.id"), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("choice", String(5), nullable=False),  # left | right: the side picked as fake
    Column("correct", Boolean, nullable=False),  # picked the fake
    Column("reaction_ms", Float, nullable=False),  # images hidden -> answer
    Column("exposure_ms", Float, nullable=False),  # measured in the page (rAF timestamps)
    Column("exposure_frames", Integer, nullable=False),
    Column("frame_ms", Float, nullable=False),  # the display's measured frame interval
    Column("received_at", Float, nullable=False),
)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
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
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)
    return engine


def init_db(engine: Engine) -> None:
    """Create the tables that do not exist yet (never drops data)."""
    metadata.create_all(engine)


def get_engine() -> Engine:
    """The app's engine (one pool per app; connections are per request)."""
    return current_app.extensions["study_engine"]


def init_app(app: Flask) -> None:
    """Create the engine and the schema; the one hook `create_app` calls."""
    engine = make_engine(app.config["DATABASE_URL"])
    init_db(engine)
    app.extensions["study_engine"] = engine


def now() -> float:
    """Server timestamp stored with every row (seconds since the epoch, UTC)."""
    return time.time()
