"""Load test of the study site: many simulated raters at once against the production server.

Each rater is a thread with its own keep-alive HTTP connection on loopback. It
opens the landing page, starts a session, and completes every trial the way
the page does (fetch the trial, fetch both images, post the answer). The server
is `p2p-eval study serve` (waitress) in a child process on an SQLite database.
Printed: answers/s and p50/p99 latency of answer POSTs and of all requests,
for each waitress thread count, side by side; then it checks that every answer
is stored exactly once and every session is complete.

    python benchmarks/bench_study_load.py [--raters 100] [--trials 12] [--threads 4 16]
"""

import argparse
import http.client
import json
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from study_app import db  # noqa: E402
from study_app.config import load_config  # noqa: E402
from study_helpers import StudyServer, make_study  # noqa: E402

REQUEST_TIMEOUT_S = 60


class Rater(threading.Thread):
    """One simulated rater; records (kind, seconds) per request."""

    def __init__(self, url: str, barrier: threading.Barrier, seed: int):
        super().__init__(daemon=True)
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=REQUEST_TIMEOUT_S)
        self.barrier, self.rng = barrier, np.random.default_rng(seed)
        self.latencies: list[tuple[str, float]] = []
        self.answered = 0
        self.error: Exception | None = None

    def request(self, kind: str, method: str, path: str, body=None, headers=None) -> tuple[int, dict, bytes]:
        start = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        data = response.read()
        self.latencies.append((kind, time.perf_counter() - start))
        return response.status, dict(response.getheaders()), data

    def run(self) -> None:
        try:
            self.barrier.wait()
            _, _, landing = self.request("page", "GET", "/")
            token = re.search(rb'name="start_token" value="([^"]+)"', landing).group(1).decode()
            status, headers, _ = self.request("start", "POST", "/start", body=f"start_token={token}",
                                              headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert status == 303, status
            task_path = urlsplit(headers["Location"]).path
            session_id = task_path.rsplit("/", 1)[-1]
            _, _, page = self.request("page", "GET", task_path)
            csrf = re.search(rb'data-csrf="([^"]+)"', page).group(1).decode()
            while True:
                _, _, body = self.request("trial", "GET", f"/api/s/{session_id}/trial")
                trial = json.loads(body)
                if trial["done"]:
                    return
                for side in ("left", "right"):
                    status, _, _ = self.request("image", "GET", trial[side])
                    assert status == 200, status
                answer = {"index": trial["index"], "choice": "left" if self.rng.random() < 0.5 else "right",
                          "reaction_ms": 800.0, "exposure_ms": 1000.0, "exposure_frames": 60, "frame_ms": 16.7}
                status, _, body = self.request("answer", "POST", f"/api/s/{session_id}/answer", body=json.dumps(answer),
                                               headers={"Content-Type": "application/json", "X-CSRF-Token": csrf})
                assert status == 200, (status, body)
                self.answered += 1
        except Exception as err:  # reported by the main thread
            self.error = err


def run_load(raters: int, trials: int, threads: int, workdir: Path) -> dict:
    config = make_study(workdir, algorithms=("A", "B", "C"), n_images=max(trials, 8), practice=2,
                        main=trials - 2, raters=raters, image_size=256)
    server = StudyServer(config, threads=threads)
    try:
        barrier = threading.Barrier(raters + 1)
        clients = [Rater(server.url, barrier, seed) for seed in range(raters)]
        for client in clients:
            client.start()
        barrier.wait()
        start = time.perf_counter()
        for client in clients:
            client.join(timeout=600)
        wall = time.perf_counter() - start
    finally:
        server.stop()
    errors = [c.error for c in clients if c.error is not None]
    if errors:
        raise SystemExit(f"{len(errors)} rater(s) failed, e.g. {errors[0]!r}; server log:\n" + "".join(server.log[-20:]))
    engine = db.make_engine(load_config(config).database_url)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(db.answers)).scalar()
        distinct = conn.execute(select(func.count()).select_from(
            select(db.answers.c.session_id, db.answers.c.idx).distinct().subquery())).scalar()
        complete = conn.execute(select(func.count()).where(db.sessions.c.status == "complete")).scalar()
    acknowledged = sum(c.answered for c in clients)
    assert stored == distinct == acknowledged == raters * trials, (stored, distinct, acknowledged)
    assert complete == raters, complete
    answers = np.array([s for c in clients for k, s in c.latencies if k == "answer"]) * 1000
    every = np.array([s for c in clients for _, s in c.latencies]) * 1000
    return {"threads": threads, "answers": acknowledged, "requests": every.size, "wall_s": wall,
            "answers_per_s": acknowledged / wall, "requests_per_s": every.size / wall,
            "answer_p50_ms": np.percentile(answers, 50), "answer_p99_ms": np.percentile(answers, 99),
            "all_p50_ms": np.percentile(every, 50), "all_p99_ms": np.percentile(every, 99)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raters", type=int, default=100, help="simultaneous raters (default 100)")
    parser.add_argument("--trials", type=int, default=12, help="trials per session (default 12: 2 practice + 10)")
    parser.add_argument("--threads", type=int, nargs="+", default=[4, 16], help="waitress threads to compare")
    args = parser.parse_args()
    results = []
    for threads in args.threads:
        with tempfile.TemporaryDirectory() as workdir:
            results.append(run_load(args.raters, args.trials, threads, Path(workdir)))
    print(f"{args.raters} raters at once x {args.trials} trials, loopback, waitress + SQLite (WAL, synchronous=FULL)")
    print(f"{'threads':>7} {'answers':>7} {'wall s':>7} {'answers/s':>9} {'req/s':>7} "
          f"{'answer p50':>10} {'p99 ms':>7} {'all p50':>8} {'p99 ms':>7}")
    for r in results:
        print(f"{r['threads']:>7} {r['answers']:>7} {r['wall_s']:>7.1f} {r['answers_per_s']:>9.1f} "
              f"{r['requests_per_s']:>7.1f} {r['answer_p50_ms']:>10.1f} {r['answer_p99_ms']:>7.1f} "
              f"{r['all_p50_ms']:>8.1f} {r['all_p99_ms']:>7.1f}")
    for r in results[1:]:
        print(f"answers/s ratio, {r['threads']} vs {results[0]['threads']} threads: "
              f"{r['answers_per_s'] / results[0]['answers_per_s']:.2f}x")
    print("every answer stored exactly once; every session complete: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
