"""The production server (waitress, child processes): SIGKILL mid-study loses nothing; several
processes on one port fill the algorithms evenly."""

import http.client
import os
import threading
import time
import urllib.error
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select, text

from study_app import db
from study_app.config import DATABASE_URL_ENV, load_config
from study_helpers import HttpRater, StudyServer, database_url, make_study, postgres_server  # noqa: F401


def test_sigkill_mid_study_keeps_every_answer_once_and_sessions_resume(tmp_path: Path):
    config = make_study(tmp_path, n_images=30, practice=5, main=20, exposure_ms=17)
    server = StudyServer(config)
    acknowledged: list[tuple[str, int]] = []
    try:
        raters = [HttpRater(server.url) for _ in range(4)]
        for rater, n in zip(raters[:3], (3, 7, 12)):
            for _ in range(n):
                index = rater.trial()["index"]
                assert rater.answer(index) == 200
                acknowledged.append((rater.session_id, index))

        def keep_answering(rater: HttpRater) -> None:
            # Answers until the server dies under it; only 200s count as acknowledged.
            try:
                while True:
                    index = rater.trial()["index"]
                    if rater.answer(index) != 200:
                        return
                    acknowledged.append((rater.session_id, index))
            except (urllib.error.URLError, http.client.HTTPException, OSError):  # killed mid-reply: IncompleteRead
                return

        worker = threading.Thread(target=keep_answering, args=(raters[3],), daemon=True)
        worker.start()
        deadline = time.monotonic() + 20
        while sum(s == raters[3].session_id for s, _ in acknowledged) < 5 and time.monotonic() < deadline:
            time.sleep(0.005)
        server.kill()
        worker.join(timeout=20)
    finally:
        server.stop()

    server = StudyServer(config)
    try:
        engine = db.make_engine(load_config(config).database_url)
        with engine.connect() as conn:
            stored = conn.execute(select(db.answers.c.session_id, db.answers.c.idx)).all()
            counters = dict(conn.execute(select(db.sessions.c.id, db.sessions.c.next_index)).all())
        assert len(stored) == len(set(stored))
        assert set(acknowledged) <= set(stored)  # nothing acknowledged is lost
        for session_id, next_index in counters.items():
            assert sorted(i for s, i in stored if s == session_id) == list(range(next_index))
        for rater in raters:  # each session resumes where its stored answers end
            rater.base = server.url
            assert rater.trial()["index"] == counters[rater.session_id]
            assert rater.answer(counters[rater.session_id] - 1) == 409  # the last one cannot be replayed
        while not (trial := raters[0].trial())["done"]:
            assert raters[0].answer(trial["index"]) == 200
    finally:
        server.stop()
    with engine.connect() as conn:
        first = conn.execute(select(db.answers.c.idx).where(db.answers.c.session_id == raters[0].session_id)).scalars()
        assert sorted(first) == list(range(25))


@pytest.mark.xdist_group("postgres")
def test_worker_processes_share_a_port_and_fill_algorithms_evenly(tmp_path: Path, request):
    url = database_url("postgresql", request)
    config = make_study(tmp_path, algorithms=("A", "B", "C"), raters=4)
    server = StudyServer(config, workers=3, env={DATABASE_URL_ENV: url})
    outcomes: list = []

    def start(i: int) -> None:
        try:
            HttpRater(server.url, f"?PROLIFIC_PID=p{i}&STUDY_ID=s&SESSION_ID=t")
            outcomes.append("started")
        except urllib.error.HTTPError as err:
            outcomes.append(err.code)

    try:
        raters = [threading.Thread(target=start, args=(i,), daemon=True) for i in range(15)]
        for rater in raters:
            rater.start()
        for rater in raters:
            rater.join(timeout=60)
        engine = db.make_engine(url)
        with engine.connect() as conn:
            assigned = Counter(conn.execute(select(db.sessions.c.algorithm)).scalars())
            serving = set(conn.execute(text(
                "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'p2p-study %'")).scalars())
        engine.dispose()
    finally:
        server.stop()
    assert sorted(outcomes, key=str) == [503] * 3 + ["started"] * 12  # 3 algorithms x 4 raters, then full
    assert assigned == {"A": 4, "B": 4, "C": 4}
    assert len(serving - {f"p2p-study {os.getpid()}"}) >= 2  # the starts went through several processes
