"""The production server (waitress, child process): SIGKILL mid-study loses nothing."""

import json
import re
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from sqlalchemy import select

from study_app import db
from study_app.config import load_config
from study_helpers import StudyServer, honest_timing, make_study, wait_out


class HttpRater:
    """A rater speaking HTTP to a real server (no browser)."""

    def __init__(self, base: str):
        self.base = base
        landing = urllib.request.urlopen(base + "/").read().decode()
        token = re.search(r'name="start_token" value="([^"]+)"', landing).group(1)
        request = urllib.request.Request(base + "/start", data=f"start_token={token}".encode(), method="POST")
        with urllib.request.urlopen(request) as page:  # follows the 303 to the task page
            self.session_id = page.url.rsplit("/", 1)[-1]
            self.csrf = re.search(r'data-csrf="([^"]+)"', page.read().decode()).group(1)

        self.viewed = None  # (trial, perf_counter when its stimulus came)

    def trial(self) -> dict:
        """The current trial, and its stimulus fetched (as the page does to show it)."""
        with urllib.request.urlopen(f"{self.base}/api/s/{self.session_id}/trial") as response:
            trial = json.loads(response.read())
        if not trial["done"]:
            with urllib.request.urlopen(self.base + trial["stimulus"]["url"]) as response:
                response.read()
            self.viewed = (trial, time.perf_counter())
        return trial

    def answer(self, index: int, choice: str = "left") -> int:
        trial, viewed_at = self.viewed
        wait_out(trial["schedule"], viewed_at)
        body = json.dumps({"index": index, "choice": choice}
                          | honest_timing(trial["schedule"], (time.perf_counter() - viewed_at) * 1000)).encode()
        request = urllib.request.Request(
            f"{self.base}/api/s/{self.session_id}/answer", data=body, method="POST",
            headers={"Content-Type": "application/json", "X-CSRF-Token": self.csrf})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as err:
            return err.code


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
            except (urllib.error.URLError, ConnectionError, OSError):
                return

        worker = threading.Thread(target=keep_answering, args=(raters[3],))
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
