"""`p2p-eval study serve`: the study on waitress, in one process or several.

One process (the default) suits SQLite, which has one writer at a time.
``--workers N`` forks N waitress processes that share the study's PostgreSQL
database: each listens on its own socket bound to the same port with
``SO_REUSEPORT``, so the kernel spreads new connections across them. The
parent prepares the stimuli and the schema once before forking (the workers
map the same stimulus file), then waits; SIGINT or SIGTERM stops every worker.
"""

import logging
import os
import secrets
import signal
import socket
import sys
import time
from pathlib import Path

from p2p_eval.errors import InputError

MAX_BODY_BYTES = 65536
CONNECTION_LIMIT = 1000
QUEUE_WARNING_INTERVAL_S = 60.0


class OncePerInterval(logging.Filter):
    """Let one record through per `interval_s` seconds and drop the rest, counting them.

    Waitress warns "Task queue depth is N" for every request that finds all its
    threads busy: under load, on most requests, which buried the log and cost
    time just when the server had none to spare. In a py-spy profile of the
    study server under benchmarks/bench_study_load.py, one in eight samples that
    held the interpreter was writing those lines; with this filter on
    ``waitress.queue``, one in sixteen (the records are still made).
    """

    def __init__(self, interval_s: float):
        super().__init__()
        self.interval_s = interval_s
        self._next = 0.0
        self._dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now < self._next:
            self._dropped += 1
            return False
        if self._dropped:
            record.msg = f"{record.msg} ({self._dropped} more such warnings in the last {self.interval_s:.0f} s)"
        self._next, self._dropped = now + self.interval_s, 0
        return True


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if count > 1:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sockets.append(sock)
            sock.bind((host, port))
            port = sock.getsockname()[1]  # port 0: the others join the port the first one got
            sock.listen(1024)
    except OSError as err:
        for sock in sockets:
            sock.close()
        raise InputError(f"cannot listen on {host}:{port} ({err.strerror}); choose another --port or --host.") from None
    return sockets


def _make_app(config_path: Path, admin_token: str):
    from study_app import create_app

    return create_app({"STUDY_CONFIG": str(config_path), "ADMIN_TOKEN": admin_token})


def run_server(app, sock: socket.socket, threads: int) -> None:
    """Serve the WSGI `app` on `sock` with waitress until the process is stopped.

    The one place the server's settings live: the load benchmark's floor server
    runs through it too, so the two differ only in the application.
    """
    import gc

    import waitress

    # What start-up made (the app, its modules: scipy, scikit-image, SQLAlchemy ...) lives as long as the
    # server: out of the collector's sight, a full collection no longer walks it while holding the GIL. Under
    # benchmarks/bench_study_load.py one such collection took 52 ms, and every request in flight waited.
    gc.collect()
    gc.freeze()
    queue_log = logging.getLogger("waitress.queue")
    if not any(isinstance(f, OncePerInterval) for f in queue_log.filters):
        queue_log.addFilter(OncePerInterval(QUEUE_WARNING_INTERVAL_S))
    waitress.create_server(app, sockets=[sock], threads=threads, max_request_body_size=MAX_BODY_BYTES,
                           connection_limit=CONNECTION_LIMIT).run()


def _announce(title: str, url: str, token: str, workers: int) -> None:
    processes = f" with {workers} worker processes" if workers > 1 else ""
    print(f"serving {title!r} on {url}/{processes}", file=sys.stderr)
    print(f"admin: {url}/admin/?token={token}", file=sys.stderr, flush=True)


def serve(config_path: Path, host: str, port: int, threads: int, workers: int = 1) -> int:
    """Serve a study until interrupted; print where to find it (stderr).

    Raises
    ------
    InputError
        If the port is taken, or ``workers > 1`` with an SQLite database.
    """
    from study_app.config import load_config

    config = load_config(config_path)
    if workers > 1 and not config.database_url.startswith("postgresql"):
        raise InputError(f"{config.path}: --workers {workers} needs a PostgreSQL `database` (SQLite takes one "
                         "writer at a time, so more processes only queue); use --workers 1 or PostgreSQL.")
    token = config.admin_token or secrets.token_urlsafe(24)
    sockets = listening_sockets(host, port, workers)
    url = f"http://{host}:{sockets[0].getsockname()[1]}"
    if workers == 1:
        app = _make_app(config_path, token)  # a config or image error stops us before "serving"
        _announce(config.title, url, token, workers)
        run_server(app, sockets[0], threads)
        return 0
    _prepare_once(config)
    children = []
    for sock in sockets:
        pid = os.fork()
        if pid == 0:  # the worker: serve until killed, never return into the parent's code
            code = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _die_with_parent()
                run_server(_make_app(config_path, token), sock, threads)
                code = 0
            finally:
                os._exit(code)
        children.append(pid)
    for sock in sockets:
        sock.close()

    def stop(signum, _frame) -> None:
        for pid in children:
            os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _announce(config.title, url, token, workers)
    status = 0
    for pid in children:
        _, code = os.waitpid(pid, 0)
        status = status or os.waitstatus_to_exitcode(code)
    return 0 if status in (0, -signal.SIGTERM) else 1


def _die_with_parent() -> None:
    """Linux: SIGTERM this process when the parent dies, even by SIGKILL (no orphaned workers)."""
    import ctypes
    import ctypes.util

    libc = ctypes.util.find_library("c")
    if sys.platform.startswith("linux") and libc:
        ctypes.CDLL(libc, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _prepare_once(config) -> None:
    """Stimulus file, schema and exclusion rules, made by the parent so the workers do not race to make them
    (and a changed rule stops the parent with its message)."""
    from study_app import db
    from study_app.images import prepare_stimuli
    from study_app.rules import record_rules
    from study_app.stimuli import load_stimuli

    prepare_stimuli(config, load_stimuli(config))
    engine = db.make_engine(config.database_url)
    db.init_db(engine)
    record_rules(engine, config.protocol, str(config.path))
    engine.dispose()
