"""The database path every trial takes: per-thread driver connections and SQLite's write discipline.

A trial is three requests of one to four short statements each. Checking a
connection out of SQLAlchemy's pool and back per request, and SQLAlchemy's work
per execution (cache key, execution context, result object, events), cost
several times what the database spent on them; so did SQLite's disk flush while
every other writer waited for it. The trial routes therefore run their
statements (`study_app.statements.Prepared`) on per-thread driver connections
(`Driver`), and SQLite writers flush the log after releasing the write lock
(`sqlite_write`).
Everything else goes through SQLAlchemy (`study_app.db`).
"""

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.engine import Dialect

if TYPE_CHECKING:  # statements import this module's connections
    from study_app.statements import Prepared

_SQLITE_WRITES = threading.Lock()


class WriteAheadLog:
    """The write-ahead log of an SQLite database in WAL mode, to flush to disk.

    Parameters
    ----------
    database : str
        Path of the database file (the log is ``database + "-wal"``).
    """

    def __init__(self, database: str):
        self.path = database + "-wal"
        self._file = None

    def sync(self) -> None:
        """Flush the log to disk: every transaction committed before the call is durable after it."""
        file = self._file
        on_disk = os.stat(self.path)  # the log the database uses now (SQLite deletes it when its last connection closes)
        held = os.fstat(file.fileno()) if file is not None else None
        if held is None or (held.st_dev, held.st_ino) != (on_disk.st_dev, on_disk.st_ino):
            file = self._file = open(self.path, "rb")  # held while the database is served
        os.fsync(file.fileno())


@contextmanager
def sqlite_write(connection, log: WriteAheadLog | None) -> Iterator[None]:
    """An SQLite write transaction on the driver `connection` (autocommit mode), committed on leaving.

    Writers of this process queue on a lock, then take SQLite's write lock at
    BEGIN IMMEDIATE: without that, simultaneous writers met SQLite's busy
    handler, which sleeps in steps of up to 100 ms, and a transaction that read
    before writing could fail outright. With `log`, the connection commits at
    ``synchronous=NORMAL`` and the log is flushed *after* the lock is released
    and before this returns: what ``synchronous=FULL`` does inside COMMIT, while
    every other writer waited for the disk. Simultaneous writers now share
    flushes (one fsync makes every commit before it durable), and an
    acknowledged commit is on disk all the same. (A checkpoint in between
    flushes the log itself before copying it into the database.)

    Parameters
    ----------
    connection : sqlite3.Connection
    log : WriteAheadLog or None
        None: the commit's durability is the connection's ``synchronous`` setting.
    """
    with _SQLITE_WRITES:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
            connection.execute("COMMIT")
        finally:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
    if log is not None:
        log.sync()


class DriverConnection:
    """A driver (DBAPI) connection and the SQLAlchemy dialect its statements are compiled for.

    Attributes
    ----------
    dialect : Dialect
    connection : DBAPI connection
    prepared : set of str or None
        PostgreSQL with psycopg2: the `Prepared` statements PREPAREd on this
        connection (None: statements are sent as they are).
    writing : bool
        Inside `Driver.write`.
    begun : bool
        The transaction's BEGIN went to the database (a ROLLBACK is due on failure).
    pending : list of bytes
        Bound statements not sent yet (with prepared statements only): the
        transaction's BEGIN and statements `Prepared.defer`red; the next
        statement or the COMMIT carries them (one round trip instead of several).
    """

    __slots__ = ("dialect", "connection", "prepared", "writing", "begun", "pending")

    def __init__(self, dialect: Dialect, connection: Any, prepared: set[str] | None = None):
        self.dialect, self.connection, self.prepared = dialect, connection, prepared
        self.writing, self.begun, self.pending = False, False, []


class Driver:
    """Per-thread driver connections of one engine, for the statements every trial runs.

    Each server thread keeps its own connection for its life: made by the
    engine (so with the engine's connect settings), then detached from its pool.
    A connection that the database dropped (a PostgreSQL restart) is closed and
    replaced at the next request: that request fails, the page retries.

    Parameters
    ----------
    engine : Engine
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect
        self._sqlite = engine.dialect.name == "sqlite"
        self._log: WriteAheadLog | None = None
        self._local = threading.local()

    def _connection(self) -> DriverConnection:
        conn = self._local.__dict__.get("conn")
        if conn is None:
            proxied = self.engine.raw_connection()
            proxied.detach()
            raw = proxied.dbapi_connection
            if not self._sqlite:
                # A read or a lone write is one round trip; transactions send BEGIN themselves. Commits wait
                # for the disk only in durable transactions (`write`).
                raw.autocommit = True
                with raw.cursor() as cursor:
                    cursor.execute("SET synchronous_commit = off")
            elif raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                # Durable writes flush the log themselves (`sqlite_write`); in any other journal mode
                # (a file system without shared memory) commits stay synchronous=FULL.
                raw.execute("PRAGMA synchronous=NORMAL")
                self._log = self._log or WriteAheadLog(raw.execute("PRAGMA database_list").fetchone()[2])
            # psycopg2 binds parameters on the client, so one call may carry several statements (`Prepared.run`);
            # other drivers (psycopg 3) bind on the server and send statements one by one, as SQLAlchemy would.
            batches = self.dialect.driver == "psycopg2"
            conn = self._local.__dict__["conn"] = DriverConnection(self.dialect, raw, set() if batches else None)
        return conn

    def _dropped(self, err: BaseException, conn: DriverConnection) -> None:
        """Forget this thread's connection if `err` says the database dropped it."""
        if isinstance(err, self.dialect.loaded_dbapi.Error) and self.dialect.is_disconnect(err, conn.connection, None):
            self._local.__dict__.pop("conn", None)
            try:
                conn.connection.close()
            except self.dialect.loaded_dbapi.Error:
                pass

    @contextmanager
    def read(self) -> Iterator[DriverConnection]:
        """A connection for reads: each statement sees one consistent snapshot (autocommit)."""
        conn = self._connection()
        try:
            yield conn
        except BaseException as err:
            self._dropped(err, conn)
            raise

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[DriverConnection]:
        """A write transaction, committed on leaving (rolled back on an exception).

        PostgreSQL writers run concurrently; the statements themselves are
        compare-and-set. SQLite writers: `sqlite_write`.

        Parameters
        ----------
        durable : bool, optional
            On disk before this returns (default). ``False`` is for records that
            the next durable commit makes durable with it (SQLite: no flush of
            the log; PostgreSQL: ``synchronous_commit = off``): a killed server
            keeps them, a power cut may lose the last ones.
        """
        conn = self._connection()
        raw = conn.connection
        try:
            if self._sqlite:
                with sqlite_write(raw, self._log if durable else None):
                    yield conn
            else:
                begin = [b"BEGIN", b"SET LOCAL synchronous_commit = on"] if durable else [b"BEGIN"]
                conn.writing = True
                if conn.prepared is not None:
                    conn.pending = list(begin)  # sent with the first statement
                else:
                    conn.begun = True
                    with raw.cursor() as cursor:
                        for statement in begin:
                            cursor.execute(statement)
                try:
                    yield conn
                    if conn.begun or conn.pending != begin:  # (else no statement ran: nothing to commit)
                        statements, conn.pending, conn.begun = conn.pending + [b"COMMIT"], [], True
                        with raw.cursor() as cursor:
                            cursor.execute(b"; ".join(statements))
                except BaseException:
                    if conn.begun and not raw.closed:
                        try:
                            with raw.cursor() as cursor:
                                cursor.execute("ROLLBACK")
                        except self.dialect.loaded_dbapi.Error:
                            pass  # a dropped connection: `_dropped` below forgets it
                    raise
                finally:
                    conn.writing, conn.begun, conn.pending = False, False, []
        except BaseException as err:
            self._dropped(err, conn)
            raise

    def write_alone(self, statement: "Prepared", *, durable: bool = True, **params) -> tuple[int, list[tuple]]:
        """Run one write statement as its own transaction: `write` without BEGIN and COMMIT around it
        (a statement is atomic by itself), so one call to the database instead of three.

        Parameters
        ----------
        statement : Prepared
        durable : bool, optional
            As in `write`.
        **params
            The statement's parameters.

        Returns
        -------
        rowcount : int
        rows : list of named tuples
        """
        if not self._sqlite and durable:
            with self.write() as conn:
                return statement.run(conn, **params)
        conn = self._connection()
        try:
            if self._sqlite:
                with _SQLITE_WRITES:  # autocommit: the statement commits when it completes, within the lock
                    result = statement.run(conn, **params)
                if durable and self._log is not None:
                    self._log.sync()
                return result
            return statement.run(conn, **params)  # autocommit, synchronous_commit off (`_connection`)
        except BaseException as err:
            self._dropped(err, conn)
            raise
