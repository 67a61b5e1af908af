"""The trial routes' database path (study_app/driver.py): durable answers, dropped connections, statements.

SQLite answers commit at ``synchronous=NORMAL`` and the route flushes the
write-ahead log itself before replying (outside the write lock, so that
simultaneous answers share a flush): the flush must hit the log the database
uses, for every acknowledged answer, and never be skipped. The SIGKILL test in
test_study_server.py checks what a killed server keeps.
"""

import logging
import os
import sqlite3

import psycopg2
import pytest
from sqlalchemy import bindparam, insert, select, update

from study_app import db
from study_app.driver import WriteAheadLog, sqlite_write
from study_app.serve import OncePerInterval, run_server
from study_app.statements import Prepared
from study_helpers import BACKENDS, app, client, postgres_server, rater, study_config  # noqa: F401


@pytest.fixture
def flushed(monkeypatch) -> list[tuple[int, int]]:
    """(device, inode) of every file `os.fsync` flushes, in order (the flush itself still happens)."""
    calls = []
    real = os.fsync

    def record(fd):
        held = os.fstat(fd)
        calls.append((held.st_dev, held.st_ino))
        real(fd)

    monkeypatch.setattr("study_app.driver.os.fsync", record)
    return calls


def _log_file(app) -> tuple[int, int]:
    on_disk = os.stat(app.extensions["study_engine"].url.database + "-wal")
    return on_disk.st_dev, on_disk.st_ino


def test_every_acknowledged_answer_flushes_the_log_the_database_uses(rater, app, flushed):
    session_id = rater.start()
    for index in range(3):
        rater.view(session_id)
        assert not flushed  # a stimulus record waits for the next answer's flush
        assert rater.answer(session_id, index).status_code == 200
        assert flushed == [_log_file(app)]  # before the reply
        flushed.clear()
    with app.extensions["study_engine"].connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_refused_answer_flushes_nothing_and_stores_nothing(rater, app, flushed):
    session_id = rater.start()
    rater.view(session_id)
    assert rater.answer(session_id, 0, wait=False).status_code == 422  # sooner than the images are shown
    assert not flushed
    with app.extensions["study_engine"].connect() as conn:
        assert conn.execute(select(db.answers)).all() == []


def test_the_flush_follows_a_log_that_was_replaced(tmp_path, flushed):
    path = str(tmp_path / "study.sqlite")
    log = WriteAheadLog(path)
    inodes = []
    for round_ in range(2):  # the last connection's close deletes the log; the next write makes a new one
        conn = sqlite3.connect(path, isolation_level=None)
        db.sqlite_settings(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        with sqlite_write(conn, log):
            conn.execute("INSERT INTO t VALUES (?)", (round_,))
        on_disk = os.stat(path + "-wal")
        inodes.append((on_disk.st_dev, on_disk.st_ino))
        conn.close()
        assert not os.path.exists(path + "-wal")
    assert flushed == inodes


def test_a_failed_write_rolls_back_and_leaves_the_connection_usable(tmp_path):
    conn = sqlite3.connect(str(tmp_path / "t.sqlite"), isolation_level=None)
    db.sqlite_settings(conn)
    conn.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
    with pytest.raises(sqlite3.IntegrityError), sqlite_write(conn, None):
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("INSERT INTO t VALUES (1)")
    assert not conn.in_transaction
    with sqlite_write(conn, None):
        conn.execute("INSERT INTO t VALUES (2)")
    assert conn.execute("SELECT x FROM t").fetchall() == [(2,)]


@pytest.mark.parametrize("app", BACKENDS, indirect=True)
def test_prepared_statements_run_on_driver_and_sqlalchemy_connections(app):
    """The trial routes run them on their own connections; other routes inside `db.write` transactions."""
    statement = Prepared(select(db.sessions.c.id, db.sessions.c.status).where(db.sessions.c.id == bindparam("b_id")))
    with app.app_context():
        with db.write(app.extensions["study_engine"]) as conn:
            conn.execute(db.sessions.insert().values(
                id="s1", rater_id="r1", platform="local", algorithm="A", status="active", csrf="c", next_index=0,
                n_trials=1, external="{}", created_at=0.0, last_seen=0.0))
            assert statement.run(conn, b_id="s1")[1][0].status == "active"  # inside the open transaction
        with db.get_driver().read() as conn:
            _, rows = statement.run(conn, b_id="s1")
            assert [(row.id, row.status) for row in rows] == [("s1", "active")]
            assert statement.run(conn, b_id="unknown")[1] == []


def _insert_session(conn, session_id: str) -> None:
    conn.execute(db.sessions.insert().values(
        id=session_id, rater_id="r-" + session_id, platform="local", algorithm="A", status="active", csrf="c",
        next_index=0, n_trials=1, external="{}", created_at=0.0, last_seen=0.0))


@pytest.mark.parametrize("app", BACKENDS, indirect=True)
def test_a_driver_write_that_fails_undoes_its_first_statement_too(app):
    """On PostgreSQL the transaction's BEGIN travels with its first statement, and each statement is
    PREPAREd once per connection, and a deferred statement travels with the next one or the COMMIT: a
    failure after the first statement (or of a deferred one) must still undo it, leave no transaction
    open, and the prepared statements must keep working."""
    touch = Prepared(update(db.sessions).where(db.sessions.c.id == bindparam("b_id"))
                     .values(last_seen=bindparam("b_at")))
    clash = Prepared(insert(db.sessions).values(
        id=bindparam("b_id"), rater_id=bindparam("b_rater"), platform="local", algorithm="A", status="active", csrf="c",
        next_index=0, n_trials=1, external="{}", created_at=0.0, last_seen=0.0))
    seen = Prepared(select(db.sessions.c.last_seen).where(db.sessions.c.id == bindparam("b_id")))
    with app.app_context():
        with db.write(app.extensions["study_engine"]) as conn:
            _insert_session(conn, "s1")
        driver = db.get_driver()
        refused = app.extensions["study_engine"].dialect.loaded_dbapi.IntegrityError
        for attempt in range(2):  # the second time, both statements are already prepared
            with pytest.raises(refused):
                with driver.write() as conn:
                    assert touch.run(conn, b_id="s1", b_at=5.0 + attempt)[0] == 1
                    clash.run(conn, b_id="s2", b_rater="r-s1")  # taken by s1
            with driver.read() as conn:
                assert seen.run(conn, b_id="s1")[1] == [(0.0,)]
        with pytest.raises(refused):  # the same, the clash deferred: it fails at the commit
            with driver.write() as conn:
                assert touch.run(conn, b_id="s1", b_at=7.0)[0] == 1
                clash.defer(conn, b_id="s2", b_rater="r-s1")
        with driver.read() as conn:
            assert seen.run(conn, b_id="s1")[1] == [(0.0,)]
        with driver.write() as conn:
            pass  # no statement: nothing sent, nothing left open
        with driver.write() as conn:  # a deferred statement runs before the next one
            clash.defer(conn, b_id="s3", b_rater="r-s3")  # a free rater id: no clash
            assert seen.run(conn, b_id="s3")[1] == [(0.0,)]
        assert not conn.pending
        with driver.write() as conn:
            assert touch.run(conn, b_id="s1", b_at=9.0)[0] == 1
        with driver.read() as conn:
            assert seen.run(conn, b_id="s1")[1] == [(9.0,)]
            raw = conn.connection
            assert not (raw.in_transaction if isinstance(raw, sqlite3.Connection) else raw.get_transaction_status())


@pytest.mark.parametrize("app", BACKENDS, indirect=True)
def test_two_answers_to_one_trial_at_once_store_one(app, rater):
    """The compare-and-set of an answer (on PostgreSQL one statement that moves the session and closes the
    trial): both answers wait on the session's row, the first moves it, the second finds it moved: 409,
    nothing stored, the trial closed once."""
    import threading
    import time

    from study_helpers import honest_timing

    session_id = rater.start()
    csrf = rater.csrf(session_id)
    trial = rater.view(session_id)
    time.sleep(sum(step["ms"] or 0 for step in trial["schedule"]) / 1000 + 0.05)
    body = {"index": 0, "choice": "left"} | honest_timing(trial["schedule"], 300.0)
    engine = app.extensions["study_engine"]
    statuses: list[int] = []
    ready = threading.Barrier(3)

    def answer() -> None:
        client = app.test_client()
        ready.wait(timeout=30)
        statuses.append(client.post(f"/api/s/{session_id}/answer", json=body,
                                    headers={"X-CSRF-Token": csrf}).status_code)

    answering = [threading.Thread(target=answer, daemon=True) for _ in range(2)]
    holder = engine.connect()
    if engine.dialect.name == "postgresql":  # hold the session's row, so that both answers queue on it
        holder.execute(select(db.sessions.c.id).where(db.sessions.c.id == session_id).with_for_update())
    for thread in answering:
        thread.start()
    ready.wait(timeout=30)
    time.sleep(0.3)
    holder.commit()
    holder.close()
    for thread in answering:
        thread.join(timeout=30)
    assert sorted(statuses) == [200, 409]
    with engine.connect() as conn:
        assert conn.execute(select(db.answers.c.idx)).scalars().all() == [0]
        assert conn.execute(select(db.sessions.c.next_index)).scalar_one() == 1


@pytest.mark.parametrize("app", [BACKENDS[1]], indirect=True)
def test_a_connection_the_database_dropped_is_replaced(app, rater, client):
    """A PostgreSQL restart kills every connection: one request fails, the page retries, the next one works."""
    session_id = rater.start()
    assert rater.trial(session_id)["index"] == 0  # this thread's driver connection now exists
    with app.extensions["study_engine"].connect() as conn:
        conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        conn.commit()
    with pytest.raises(psycopg2.OperationalError, match="terminat|closed the connection"):  # Prepared: DB-API
        client.get(f"/api/s/{session_id}/trial")  # TESTING: the error reaches the test
    assert rater.trial(session_id)["index"] == 0


def test_waitress_queue_warnings_pass_once_per_interval(caplog, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("study_app.serve.time.monotonic", lambda: clock[0])
    logger = logging.getLogger("test.queue")
    logger.addFilter(OncePerInterval(60))
    with caplog.at_level(logging.WARNING, logger="test.queue"):
        for depth in range(5):
            logger.warning("Task queue depth is %d", depth)
            clock[0] += 10
        clock[0] += 60
        logger.warning("Task queue depth is %d", 7)
    assert [record.getMessage() for record in caplog.records] == [
        "Task queue depth is 0", "Task queue depth is 7 (4 more such warnings in the last 60 s)"]


def test_the_server_hides_what_start_up_made_from_the_garbage_collector(monkeypatch):
    """A full collection walks every object the app made at start-up, holding the GIL: 52 ms under load."""
    import gc

    import waitress

    frozen = []

    class Server:
        def run(self):
            frozen.append(gc.get_freeze_count())

    monkeypatch.setattr(waitress, "create_server", lambda *args, **kwargs: Server())
    try:
        run_server(object(), None, threads=1)
    finally:
        gc.unfreeze()
    assert frozen and frozen[0] > 0
