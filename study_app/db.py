"""The responses database: schema, engine and the one hook the app factory calls.

SQLite in WAL mode with ``synchronous=FULL`` by default (embedded, survives a
killed server), PostgreSQL by URL (``postgresql://user@host/db``) when a study
runs several server processes. Only this module knows which one it is.

Uniqueness is the database's job: a rater id has one session
(``sessions.rater_id`` unique), a trial one answer (``answers`` keyed by
session and trial index), a stimulus token one trial.

A trial row holds everything its kind needs to be shown and checked again
after a reload or a crash: its images, which side is fake, its schedule (the
timed steps the page plays, JSON), and the one-time token of its stimulus.
"""

import importlib.util
import logging
import operator
import os
import threading
import time
from collections import namedtuple
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from flask import Flask, current_app
from sqlalchemy import (
    Boolean, Column, Connection, Engine, Float, ForeignKey, Integer, MetaData, String, Table, Text,
    create_engine, event, inspect,
)
from sqlalchemy.engine import Dialect

from p2p_eval.errors import InputError

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
    Column("fake_left", Boolean, nullable=False),  # drawn from the OS's CSPRNG at session start
    Column("schedule", Text, nullable=False),  # JSON: the steps the page plays (study_app.presentation)
    Column("stim_token", String(32), unique=True),  # one-time URL token of the stimulus; null once answered
    Column("feedback_token", String(32), unique=True),  # one-time token of a practice trial's feedback images
    Column("served_at", Float),  # first time the stimulus was sent
    Column("fetched_at", Float),  # last time the stimulus was sent
    Column("views", Integer, nullable=False, default=0),  # times the stimulus was sent; >1: re-exposed
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
    Column("load_ms", Float, nullable=False),  # page: stimulus requested -> decoded
    Column("server_ms", Float, nullable=False),  # server: stimulus sent -> answer received
    Column("reexposed", Boolean, nullable=False),  # the stimulus was sent more than once
    Column("off_timing", Boolean, nullable=False),  # an exposure more than one frame off target
    Column("implausible", Boolean, nullable=False),  # the page's timeline contradicts the server's
    Column("received_at", Float, nullable=False),
)


_SQLITE_WRITES = threading.Lock()


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

    SQLite has one writer at a time. Writers of this process queue on a lock
    and then take SQLite's write lock at BEGIN: without that, simultaneous
    writers met SQLite's busy handler, which sleeps in steps of up to 100 ms
    (the cause of second-long answer latencies at 100 raters), and a
    transaction that read before writing could fail outright. PostgreSQL
    writers run concurrently; the statements themselves are compare-and-set.
    The trial routes write through `Driver.write`, under the same lock.
    """
    if engine.dialect.name == "sqlite":
        # The transaction is the driver connection's own (BEGIN IMMEDIATE); statements run through `conn` join it.
        with _SQLITE_WRITES, engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            raw.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                raw.execute("COMMIT")
            finally:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
    else:
        with engine.begin() as conn:
            yield conn


class DriverConnection(NamedTuple):
    """A driver (DBAPI) connection and the SQLAlchemy dialect its statements are compiled for."""

    dialect: Dialect
    connection: Any


class Driver:
    """Per-thread driver connections for the statements every trial runs (`Statement`).

    A trial is three requests of one to four short statements each. Checking a
    connection out of SQLAlchemy's pool and back per request, and SQLAlchemy's
    work per execution, cost several times what the database spent on them.
    Here each server thread keeps its own driver connection for its life: made
    by the engine (so with the engine's connect settings), then detached from
    its pool. A connection that the database dropped (a PostgreSQL restart) is
    closed and replaced at the next request: that request fails, the page retries.

    Parameters
    ----------
    engine : Engine
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect
        self._sqlite = engine.dialect.name == "sqlite"
        self._local = threading.local()

    def _connection(self, durable: bool) -> DriverConnection:
        key = "lazy" if self._sqlite and not durable else "durable"
        conn = self._local.__dict__.get(key)
        if conn is None:
            proxied = self.engine.raw_connection()
            proxied.detach()
            raw = proxied.dbapi_connection
            if not self._sqlite:
                raw.autocommit = True  # a read is one round trip; writers send BEGIN themselves
            elif not durable:
                raw.execute("PRAGMA synchronous=NORMAL")  # see `write`
            conn = self._local.__dict__[key] = DriverConnection(self.dialect, raw)
        return conn

    def _dropped(self, err: BaseException, conn: DriverConnection) -> None:
        """Forget this thread's connection if `err` says the database dropped it."""
        if isinstance(err, self.dialect.loaded_dbapi.Error) and self.dialect.is_disconnect(err, conn.connection, None):
            for key, held in list(self._local.__dict__.items()):
                if held is conn:
                    del self._local.__dict__[key]
            try:
                conn.connection.close()
            except self.dialect.loaded_dbapi.Error:
                pass

    @contextmanager
    def read(self) -> Iterator[DriverConnection]:
        """A connection for reads: each statement sees one consistent snapshot (autocommit)."""
        conn = self._connection(True)
        try:
            yield conn
        except BaseException as err:
            self._dropped(err, conn)
            raise

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[DriverConnection]:
        """A write transaction, committed on leaving (rolled back on an exception); see `write`.

        Parameters
        ----------
        durable : bool, optional
            Wait until the commit is on disk (default). ``False`` is for records
            that the next durable commit makes durable with it (SQLite's
            ``synchronous=NORMAL`` in WAL mode, on a connection of its own;
            PostgreSQL's ``synchronous_commit = off``): a killed server keeps
            them, a power cut may lose the last ones. It saves the disk flush
            that dominates a small transaction.
        """
        conn = self._connection(durable)
        raw = conn.connection
        try:
            if self._sqlite:
                with _SQLITE_WRITES:
                    raw.execute("BEGIN IMMEDIATE")
                    try:
                        yield conn
                        raw.execute("COMMIT")
                    finally:
                        if raw.in_transaction:
                            raw.execute("ROLLBACK")
            else:
                with raw.cursor() as cursor:
                    cursor.execute("BEGIN" if durable else "BEGIN; SET LOCAL synchronous_commit = off")
                try:
                    yield conn
                    with raw.cursor() as cursor:
                        cursor.execute("COMMIT")
                except BaseException:
                    if not raw.closed:
                        try:
                            with raw.cursor() as cursor:
                                cursor.execute("ROLLBACK")
                        except self.dialect.loaded_dbapi.Error:
                            pass  # a dropped connection: `_dropped` below forgets it
                    raise
        except BaseException as err:
            self._dropped(err, conn)
            raise


class Statement:
    """A Core statement compiled once per database dialect and run on a driver connection (`Driver`).

    Parameters
    ----------
    statement : sqlalchemy Executable
        With named `bindparam` values.
    """

    def __init__(self, statement):
        self._statement = statement
        self._compiled: dict[str, tuple] = {}

    def _compile(self, dialect: Dialect) -> tuple:
        compiled = self._statement.compile(dialect=dialect)
        order = None
        if compiled.positional:  # a tuple of the parameters in order (itemgetter of one name gives no tuple)
            names = compiled.positiontup
            order = operator.itemgetter(*names) if len(names) > 1 else lambda params: (params[names[0]],)
        self._compiled[dialect.name] = compiled.string, order, compiled.params, {}  # params: the literals in it
        return self._compiled[dialect.name]

    def run(self, conn: DriverConnection, **params) -> tuple[int, list[tuple]]:
        """Execute on `conn` (inside its transaction, if any): the rowcount and the rows returned
        (named tuples: attribute access as on SQLAlchemy's rows)."""
        sql, order, literals, row_types = self._compiled.get(conn.dialect.name) or self._compile(conn.dialect)
        params = literals | params
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, order(params) if order is not None else params)
            if not cursor.description:
                return cursor.rowcount, []
            names = tuple(column[0] for column in cursor.description)
            row_type = row_types.get(names) or row_types.setdefault(names, namedtuple("Row", names))
            return cursor.rowcount, [row_type._make(values) for values in cursor.fetchall()]
        finally:
            cursor.close()


def init_db(engine: Engine) -> None:
    """Create the tables that do not exist yet (never drops data).

    Raises
    ------
    InputError
        If the database holds a study made by an older p2p-eval (its trials
        lack one-time stimulus tokens), which this version cannot serve.
    """
    metadata.create_all(engine)
    columns = {column["name"] for column in inspect(engine).get_columns("trials")}
    if "stim_token" not in columns:
        raise InputError(f"{engine.url.render_as_string(hide_password=True)}: this study database was made by an "
                         "older p2p-eval; finish that study with the version that started it, or use a new database.")


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
