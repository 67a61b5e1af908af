"""Load test of the study site against a floor server, side by side, with the same client.

100 simulated raters at once, no think time, each on its own keep-alive HTTP
connection over loopback (one asyncio client for all, reading whole responses
into large buffers: a slow client would measure itself). First every rater opens
the landing page and starts a session; then, timed, each completes its trials as
the page does: GET the trial (JSON), GET its stimulus, POST the answer.

The study is `p2p-eval study serve` (waitress) in child processes. The *floor*
is the least a server must do for the same traffic: the same waitress with the
same thread count and options, answering the same number and sizes of requests
per trial -- a JSON GET, the stimulus bytes from memory, a POST that inserts and
commits one row -- with the same database settings (SQLite: WAL, the log flushed
to disk after each commit, before the reply, as the study's `sqlite_write` does;
PostgreSQL: the same cluster), written with no framework.
The ratio of their answer rates is what the study's own work costs.

Checked after each run: every acknowledged answer is stored exactly once. The
two servers take turns over several rounds (floor first, then study first, ...)
so that a machine shared with other work slows both alike; the figures are the
medians over the rounds.

    python benchmarks/bench_study_load.py [--raters 100] [--trials 12] [--threads 4] [--rounds 3]
    python benchmarks/bench_study_load.py --workers 4    # 4 processes each, on PostgreSQL

``--workers`` starts a throw-away PostgreSQL cluster (Debian's ``postgresql``, run as user
``postgres``, as the tests do; needs root) and psycopg2 (the ``[postgres]`` extra).

The last two lines are ``study/floor answers/s ratio: X`` and
``answer p99: study Y ms, floor Z ms``.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from study_app import db  # noqa: E402
from study_app.config import DATABASE_URL_ENV, load_config  # noqa: E402
from study_app.driver import WriteAheadLog, sqlite_write  # noqa: E402
from study_app.serve import listening_sockets, run_server  # noqa: E402
from study_helpers import StudyServer, make_study, start_postgres  # noqa: E402

IMAGE_SIZE = 256
LOAD_TIMEOUT_S = 600
READ_BUFFER = 1 << 20


# --- the client -----------------------------------------------------------------------------

class Client:
    """One rater's keep-alive HTTP/1.1 connection; records (kind, seconds) per request."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latencies: list):
        self.reader, self.writer, self.latencies = reader, writer, latencies

    async def request(self, kind: str, method: str, path: str, body: bytes = b"",
                      headers: dict | None = None) -> tuple[int, dict, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        start = time.perf_counter()
        self.writer.write(head.encode() + b"\r\n" + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        fields = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        data = await self.reader.readexactly(int(fields.get("content-length", 0)))
        self.latencies.append((kind, time.perf_counter() - start))
        return int(lines[0].split()[1]), fields, data


async def _start_study_session(client: Client, _number: int) -> tuple[str, dict]:
    """Landing page and Start, as a rater; the session's trial URL and answer headers."""
    _, _, landing = await client.request("page", "GET", "/")
    token = re.search(rb'name="start_token" value="([^"]+)"', landing).group(1).decode()
    status, fields, _ = await client.request("start", "POST", "/start", f"start_token={token}".encode(),
                                             {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 303, status
    task = fields["location"].split("://", 1)[-1].split("/", 1)[-1]
    _, _, page = await client.request("page", "GET", "/" + task)
    csrf = re.search(rb'data-csrf="([^"]+)"', page).group(1).decode()
    session_id = task.rsplit("/", 1)[-1]
    return f"/api/s/{session_id}", {"Content-Type": "application/json", "X-CSRF-Token": csrf}


async def _start_floor_session(_client: Client, number: int) -> tuple[str, dict]:
    return f"/s/rater{number}", {"Content-Type": "application/json"}


async def _trials(client: Client, base: str, headers: dict, rng: np.random.Generator) -> int:
    """Every trial of one session, as the page does it; returns the answers acknowledged."""
    answered = 0
    while True:
        _, _, body = await client.request("trial", "GET", base + "/trial")
        trial = json.loads(body)
        if trial["done"]:
            return answered
        requested = time.perf_counter()
        status, _, _ = await client.request("stimulus", "GET", trial["stimulus"]["url"])
        assert status == 200, status
        load_ms = (time.perf_counter() - requested) * 1000
        painted = [float(step["ms"]) for step in trial["schedule"]]
        answer = {"index": trial["index"], "choice": "left" if rng.random() < 0.5 else "right",
                  "reaction_ms": 1.0, "painted_ms": painted, "frame_ms": 16.7, "load_ms": load_ms}
        status, _, body = await client.request("answer", "POST", base + "/answer", json.dumps(answer).encode(), headers)
        assert status == 200, (status, body)
        answered += 1


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes `pids`, their reaped children and their live descendants (Linux)."""
    total = 0.0
    for pid in pids:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK") + _cpu_seconds([int(c) for c in children])
    return total


async def _load(port: int, raters: int, kind: str, server_pids: list[int], database_pids: list[int]) -> dict:
    """Start every rater's session (untimed), then run all their trials at once (timed)."""
    latencies: list = []
    clients = []
    for _ in range(raters):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=READ_BUFFER)
        clients.append(Client(reader, writer, latencies))
    start = _start_study_session if kind == "study" else _start_floor_session
    sessions = await asyncio.gather(*(start(client, i) for i, client in enumerate(clients)))
    latencies.clear()
    begin, cpu, db_cpu = time.perf_counter(), _cpu_seconds(server_pids), _cpu_seconds(database_pids)
    own = time.process_time()
    answered = await asyncio.wait_for(asyncio.gather(*(
        _trials(c, base, headers, np.random.default_rng(i))
        for i, (c, (base, headers)) in enumerate(zip(clients, sessions)))), LOAD_TIMEOUT_S)
    wall, own = time.perf_counter() - begin, time.process_time() - own
    cpu, db_cpu = _cpu_seconds(server_pids) - cpu, _cpu_seconds(database_pids) - db_cpu
    for client in clients:
        client.writer.close()
    answers = np.array([s for k, s in latencies if k == "answer"]) * 1000
    every = np.array([s for _, s in latencies]) * 1000
    return {"answers": sum(answered), "wall_s": wall, "answers_per_s": sum(answered) / wall,
            "cpu_ms_per_answer": 1000 * (cpu + db_cpu) / sum(answered), "db_cpu_ms_per_answer": 1000 * db_cpu / sum(answered),
            "client_cpu": own / wall,
            "requests_per_s": every.size / wall, "answer_p50_ms": np.percentile(answers, 50),
            "answer_p99_ms": np.percentile(answers, 99), "all_p99_ms": np.percentile(every, 99)}


def _client_process(port: int, raters: int, kind: str, server_pids: list[int], database_pids: list[int],
                    cpus: set[int] | None, pipe) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        pipe.send(asyncio.run(_load(port, raters, kind, server_pids, database_pids)))
    except BaseException as err:  # the parent re-raises it
        pipe.send(err)


def run_client(port: int, args, kind: str, server_pids: list[int]) -> dict:
    """The load, from a client process of its own (pinned to the client CPU when there are two or more)."""
    receive, send = multiprocessing.Pipe(duplex=False)
    client = multiprocessing.get_context("fork").Process(
        target=_client_process, args=(port, args.raters, kind, server_pids, args.database_pids, args.client_cpus, send))
    client.start()
    result = receive.recv()
    client.join()
    if isinstance(result, BaseException):
        raise result
    return result


# --- the floor ------------------------------------------------------------------------------

def floor_app(database: str, stimulus: bytes, trials: int):
    """The floor server's WSGI app: the study's traffic with nothing but the database write.

    ``GET /s/<rater>/trial`` answers a JSON trial of the study's size, ``GET /stim/...`` the
    stimulus bytes, ``POST /s/<rater>/answer`` inserts and commits one row (SQLite file
    path, or a PostgreSQL URL).
    """
    local = threading.local()
    postgres = database.startswith("postgresql")
    log = None if postgres else WriteAheadLog(database)

    def connection():
        if not hasattr(local, "conn"):
            if postgres:
                import psycopg2

                local.conn = psycopg2.connect(database)
                local.conn.autocommit = True
            else:
                local.conn = sqlite3.connect(database, timeout=30, check_same_thread=False)
                db.sqlite_settings(local.conn)
                local.conn.execute("PRAGMA synchronous=NORMAL")  # the log is flushed as the study's (`sqlite_write`)
        return local.conn

    def insert(session: str, index: int, body: bytes) -> None:
        conn = connection()
        if postgres:
            with conn.cursor() as cursor:
                cursor.execute("INSERT INTO floor_answers VALUES (%s, %s, %s)", (session, index, body.decode()))
            return
        with sqlite_write(conn, log):  # the study's write discipline: one writer, on disk before the reply
            conn.execute("INSERT INTO floor_answers VALUES (?, ?, ?)", (session, index, body.decode()))

    progress: dict[str, int] = {}

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if environ["REQUEST_METHOD"] == "POST":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            session = path.split("/")[2]
            insert(session, json.loads(body)["index"], body)
            progress[session] = progress.get(session, 0) + 1
            out, kind = json.dumps({"stored": True, "done": progress[session] == trials, "feedback": None}), "json"
        elif path.startswith("/stim/"):
            out, kind = stimulus, "octet-stream"
        else:
            session = path.split("/")[2]
            index = progress.get(session, 0)
            out = json.dumps({"done": index == trials, "index": index, "n_trials": trials, "n_practice": 0,
                              "practice": False, "schedule": [{"ms": 17, "show": ["left", "right"], "cue": ""}],
                              "stimulus": {"url": "/stim/" + "x" * 22, "size": IMAGE_SIZE, "slots": ["left", "right"]},
                              "choices": ["left", "right"]})
            kind = "json"
        out = out if isinstance(out, bytes) else out.encode()
        start_response("200 OK", [("Content-Type", f"application/{kind}"), ("Content-Length", str(len(out))),
                                  ("Cache-Control", "no-store")])
        return [out]

    return app


def _create_floor_table(database: str) -> None:
    ddl = "CREATE TABLE floor_answers (session TEXT, idx INTEGER, body TEXT, PRIMARY KEY (session, idx))"
    if database.startswith("postgresql"):
        import psycopg2

        with psycopg2.connect(database) as conn, conn.cursor() as cursor:
            cursor.execute(ddl)
    else:
        with sqlite3.connect(database) as conn:
            db.sqlite_settings(conn)
            conn.execute(ddl)


def _serve_floor(database: str, trials: int, threads: int, workers: int) -> tuple[int, list[int]]:
    """Fork `workers` floor processes on one port (as `study serve --workers`); their port and pids."""
    _create_floor_table(database)
    stimulus = os.urandom(2 * IMAGE_SIZE * IMAGE_SIZE * 3)
    sockets = listening_sockets("127.0.0.1", 0, workers)
    pids = []
    for sock in sockets:
        pid = os.fork()
        if pid == 0:
            try:
                run_server(floor_app(database, stimulus, trials), sock, threads)  # the study's server settings
            finally:
                os._exit(0)
        pids.append(pid)
    port = sockets[0].getsockname()[1]
    for sock in sockets:
        sock.close()
    return port, pids


def _count_floor(database: str) -> tuple[int, int]:
    query = "SELECT COUNT(*), COUNT(DISTINCT session || ':' || idx) FROM floor_answers"
    if database.startswith("postgresql"):
        import psycopg2

        with psycopg2.connect(database) as conn, conn.cursor() as cursor:
            cursor.execute(query)
            return cursor.fetchone()
    with sqlite3.connect(database) as conn:
        return conn.execute(query).fetchone()


# --- the runs -------------------------------------------------------------------------------

@contextmanager
def server_side(args):
    """Processes started inside run on the server CPUs (they inherit this thread's affinity)."""
    if not args.server_cpus:
        yield
        return
    own = os.sched_getaffinity(0)
    os.sched_setaffinity(0, args.server_cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, own)


def run_floor(args, database: str) -> dict:
    with server_side(args):
        port, pids = _serve_floor(database, args.trials, args.threads, args.workers)
    try:
        result = run_client(port, args, "floor", pids)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
    stored, distinct = _count_floor(database)
    assert stored == distinct == result["answers"] == args.raters * args.trials, (stored, distinct, result)
    return result


def run_study(args, workdir: Path, database_url: str | None) -> dict:
    config = make_study(workdir, algorithms=("A", "B", "C"), n_images=max(args.trials, 8), practice=0,
                        main=args.trials, exposure_ms=17, raters=args.raters, image_size=IMAGE_SIZE)
    with server_side(args):
        server = StudyServer(config, threads=args.threads, workers=args.workers,
                             env={DATABASE_URL_ENV: database_url} if database_url else None)
    port = int(server.url.rsplit(":", 1)[1])
    try:
        result = run_client(port, args, "study", [server.process.pid])
    finally:
        server.stop()
    engine = db.make_engine(database_url or load_config(config).database_url)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(db.answers)).scalar()
        distinct = conn.execute(select(func.count()).select_from(
            select(db.answers.c.session_id, db.answers.c.idx).distinct().subquery())).scalar()
        complete = conn.execute(select(func.count()).where(db.sessions.c.status == "complete")).scalar()
    engine.dispose()
    assert stored == distinct == result["answers"] == args.raters * args.trials, (stored, distinct, result)
    assert complete == args.raters, complete
    return result


def _postmaster_pid(base: str) -> int:
    """The PostgreSQL server's pid: its CPU time (and its backends') counts as the servers' own."""
    import psycopg2

    conn = psycopg2.connect(base + "/postgres")
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    conn.close()
    return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _postgres_database(base: str, name: str) -> str:
    import psycopg2

    conn = psycopg2.connect(base + "/postgres")
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    conn.close()
    return f"{base}/{name}"


def _round(args, workdir: Path, number: int, postgres: str | None) -> dict[str, dict]:
    """One floor run and one study run on fresh databases; which goes first alternates."""
    runs = {
        "floor": lambda: run_floor(args, _postgres_database(postgres, f"floor{number}") if postgres
                                   else str(workdir / "floor.sqlite")),
        "study": lambda: run_study(args, workdir / "study",
                                   _postgres_database(postgres, f"study{number}") if postgres else None),
    }
    order = ("floor", "study") if number % 2 == 0 else ("study", "floor")
    return {name: runs[name]() for name in order}


def _cpu_plan(args) -> None:
    """Client on the first CPU, servers (and PostgreSQL) on the others, when there are two or more."""
    cpus = sorted(os.sched_getaffinity(0))
    args.client_cpus, args.server_cpus = ({cpus[0]}, set(cpus[1:])) if args.pin and len(cpus) >= 2 else (None, None)


def _report(args, backend: str, rounds: list[dict[str, dict]]) -> None:
    where = (f"client on CPU {sorted(args.client_cpus)}, servers on {sorted(args.server_cpus)}" if args.client_cpus
             else "client and servers on any CPU")
    print(f"{args.raters} raters at once, no think time, x {args.trials} trials; loopback; waitress; {backend}; "
          f"{len(os.sched_getaffinity(0))} CPUs ({where}); load average {os.getloadavg()[0]:.1f}")
    print(f"{'round':>5} {'server':>6} {'answers':>7} {'wall s':>7} {'answers/s':>9} {'req/s':>7} {'answer p50':>10} "
          f"{'p99 ms':>7} {'all p99':>8} {'server CPU ms/answer':>21} {'of it database':>14} {'client CPU':>10}")
    for number, results in enumerate(rounds):
        for name in ("study", "floor"):
            r = results[name]
            print(f"{number + 1:>5} {name:>6} {r['answers']:>7} {r['wall_s']:>7.2f} {r['answers_per_s']:>9.1f} "
                  f"{r['requests_per_s']:>7.1f} {r['answer_p50_ms']:>10.1f} {r['answer_p99_ms']:>7.1f} "
                  f"{r['all_p99_ms']:>8.1f} {r['cpu_ms_per_answer']:>21.2f} {r['db_cpu_ms_per_answer']:>14.2f} "
                  f"{r['client_cpu']:>10.0%}")
    figures = {name: {key: [r[name][key] for r in rounds] for key in rounds[0][name]} for name in ("study", "floor")}
    for name, f in figures.items():
        print(f"{name}: answers/s median {np.median(f['answers_per_s']):.0f}, best {max(f['answers_per_s']):.0f}; "
              f"answer p99 median {np.median(f['answer_p99_ms']):.0f} ms, best {min(f['answer_p99_ms']):.0f} ms; "
              f"server CPU per answer median {np.median(f['cpu_ms_per_answer']):.2f} ms, "
              f"best {min(f['cpu_ms_per_answer']):.2f} ms")
    study, floor = figures["study"], figures["floor"]
    print(f"best study/floor answers/s ratio: {max(study['answers_per_s']) / max(floor['answers_per_s']):.2f}; "
          f"floor/study server CPU per answer (medians): "
          f"{np.median(floor['cpu_ms_per_answer']) / np.median(study['cpu_ms_per_answer']):.2f}")
    print("every answer stored exactly once; every session complete: OK")
    print(f"study/floor answers/s ratio: {np.median(study['answers_per_s']) / np.median(floor['answers_per_s']):.2f}")
    print(f"answer p99: study {np.median(study['answer_p99_ms']):.0f} ms, floor {np.median(floor['answer_p99_ms']):.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raters", type=int, default=100, help="simultaneous raters (default 100)")
    parser.add_argument("--trials", type=int, default=12, help="trials per session (default 12)")
    parser.add_argument("--threads", type=int, default=4, help="waitress threads per process (default 4)")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes; more than 1 runs both servers on PostgreSQL (default 1: SQLite)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of floor and study, in turn (default 3)")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="let the client and the servers run on any CPU (default: client on one, servers on the rest)")
    args = parser.parse_args()
    _cpu_plan(args)
    with server_side(args):
        postgres = start_postgres(fsync=True) if args.workers > 1 else None
    args.database_pids = [_postmaster_pid(postgres)] if postgres else []
    backend = (f"PostgreSQL 15 (fsync on), {args.workers} processes x {args.threads} threads" if postgres
               else f"SQLite (WAL, log flushed before each reply), 1 process x {args.threads} threads")
    rounds = []
    for number in range(args.rounds):
        with tempfile.TemporaryDirectory() as workdir:
            rounds.append(_round(args, Path(workdir), number, postgres))
    _report(args, backend, rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
