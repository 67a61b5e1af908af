"""Helpers for the study-site tests: a small study on disk, the app, and `RaterActions`."""

import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from p2p_eval.data.files import write_png

ADMIN_TOKEN = "admin-token-for-tests-0123456789"

IN_CI = bool(os.environ.get("CI"))
"""CI (``make test`` on a fresh clone) installs chromium and postgresql: there a missing one is a failure, since a
skip would pass the browser and PostgreSQL tests without running them."""


def skip_unless_ci(reason: str) -> None:
    """Skip the test for a missing system tool, except in CI, where the same message fails it."""
    if IN_CI:
        pytest.fail(f"{reason}; CI installs it (Makefile APT_PACKAGES), so it must be there")
    pytest.skip(reason)


def _write_images(root: Path, algorithms: tuple[str, ...], n_images: int) -> str:
    """Random 32x32 PNGs in ``real/`` and ``fake_<name>/``; return the config's [[algorithms]] tables."""
    rng = np.random.default_rng(0)
    for folder in ("real",) + tuple(f"fake_{name}" for name in algorithms):
        for i in range(n_images):
            write_png(root / folder / f"frame{i:03d}.png", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    return "".join(f'\n[[algorithms]]\nname = "{name}"\nimages = "fake_{name}"\n' for name in algorithms)


def make_study(
    root: Path,
    *,
    algorithms: tuple[str, ...] = ("A", "B"),
    n_images: int = 8,
    practice: int = 2,
    main: int = 4,
    vigilance: int = 0,
    exposure_ms: int = 200,
    lead_ms: int = 0,
    pairing: str = "paired",
    raters: int = 50,
    timeout_s: int = 3600,
    image_size: int = 32,
    extra: str = "",
    protocol_extra: str = "",
) -> Path:
    """Write real and fake image folders (32x32 PNGs) and a study.toml; return its path.

    The schedule is simultaneous: `lead_ms` of fixation (none by default), then both images for `exposure_ms`.
    `extra` goes at the top level (before the tables); `protocol_extra` into [protocol].
    """
    tables = _write_images(root, algorithms, n_images)
    path = root / "study.toml"
    path.write_text(
        f'title = "Test study"\nadmin_token = "{ADMIN_TOKEN}"\n{extra}\n'
        f'[protocol]\npairing = "{pairing}"\nexposure_ms = {exposure_ms}\nlead_ms = {lead_ms}\n'
        f"practice_trials = {practice}\n"
        f"main_trials = {main}\nvigilance_trials = {vigilance}\nraters_per_algorithm = {raters}\n"
        f"image_size = {image_size}\nsession_timeout_s = {timeout_s}\n{protocol_extra}\n\n"
        f'[real]\nimages = "real"\n{tables}\n[completion]\ncode = "DONE42"\n',
        encoding="utf-8",
    )
    return path


def make_hype_study(
    root: Path,
    preset: str,
    *,
    algorithms: tuple[str, ...] = ("A", "B"),
    n_images: int = 24,
    main: int = 6,
    practice: int = 0,
    raters: int | None = None,
    image_size: int = 32,
    protocol_extra: str = "",
    completion_extra: str = "",
) -> Path:
    """Write image folders and a study.toml on a preset (``hype-inf``, ``hype-time``, ``zhang-2016`` ...) with
    `main` main and `practice` practice trials; return its path. `raters` (default: the preset's) and
    `protocol_extra` go into [protocol]."""
    tables = _write_images(root, algorithms, n_images)
    path = root / "study.toml"
    path.write_text(
        f'title = "Test study"\nadmin_token = "{ADMIN_TOKEN}"\n\n'
        f'[protocol]\npreset = "{preset}"\npractice_trials = {practice}\nmain_trials = {main}\n'
        + (f"raters_per_algorithm = {raters}\n" if raters else "")
        + f"image_size = {image_size}\n{protocol_extra}\n\n"
        f'[real]\nimages = "real"\n{tables}\n[completion]\ncode = "DONE42"\n{completion_extra}\n',
        encoding="utf-8",
    )
    return path


def honest_timing(schedule: list[dict], elapsed_ms: float, frame_ms: float = 16.7) -> dict:
    """The timing fields a page reports when every step was painted as requested and `elapsed_ms`
    passed between the stimulus request and the answer (a step until the answer lasts the reaction time)."""
    timed = sum(step["ms"] for step in schedule if step["ms"] is not None)
    reaction = max(elapsed_ms - timed - 2.0, 0.0)
    painted = [float(step["ms"]) if step["ms"] is not None else reaction for step in schedule]
    return {"painted_ms": painted, "frame_ms": frame_ms, "load_ms": 2.0, "reaction_ms": reaction}


def wait_out(schedule: list[dict], since: float) -> None:
    """Sleep until the schedule has run since `since` (``time.perf_counter()``): a person sees it first."""
    remaining = sum(step["ms"] or 0 for step in schedule) / 1000 - (time.perf_counter() - since)
    if remaining > 0:
        time.sleep(remaining)


class RaterActions:
    """One rater going through the site with a Flask test client, as the page does."""

    def __init__(self, client):
        self._client = client
        self._viewed: dict[str, tuple[dict, float]] = {}  # session id -> (trial, when its stimulus came)

    def start(self, query: str = "") -> str:
        """Open the landing page, press Start; return the session id."""
        landing = self._client.get("/" + query)
        if landing.status_code == 303:  # a running session resumes
            return landing.headers["Location"].rsplit("/", 1)[-1]
        token = re.search(r'name="start_token" value="([^"]+)"', landing.get_data(as_text=True)).group(1)
        started = self._client.post("/start", data={"start_token": token})
        assert started.status_code == 303, started.get_data(as_text=True)
        return started.headers["Location"].rsplit("/", 1)[-1]

    def csrf(self, session_id: str) -> str:
        page = self._client.get(f"/s/{session_id}").get_data(as_text=True)
        return re.search(r'data-csrf="([^"]+)"', page).group(1)

    def trial(self, session_id: str) -> dict:
        return self._client.get(f"/api/s/{session_id}/trial").get_json()

    def display(self, session_id: str, frame_ms: float, *, csrf: str | None = None):
        """Report the display's frame period, as the page does before a HYPE-time session's first trial."""
        headers = {"X-CSRF-Token": self.csrf(session_id) if csrf is None else csrf}
        return self._client.post(f"/api/s/{session_id}/display", json={"frame_ms": frame_ms}, headers=headers)

    def view(self, session_id: str) -> dict:
        """Fetch the current trial and its stimulus (``trial["pixels"]``), as the page does to show it
        (reporting a 60 Hz display first when the trial asks for it)."""
        trial = self.trial(session_id)
        if trial.get("display") == "needed":
            assert self.display(session_id, 1000 / 60).status_code == 200
            trial = self.trial(session_id)
        if not trial["done"]:
            response = self._client.get(trial["stimulus"]["url"])
            assert response.status_code == 200, response.get_data(as_text=True)
            trial["pixels"] = response.data
            self._viewed[session_id] = (trial, time.perf_counter())
        return trial

    def answer(self, session_id: str, index: int, choice: str = "left", *, csrf: str | None = None,
               wait: bool = True, **fields):
        """Post an answer with honest timing; by default first wait out the schedule since the last view."""
        trial, viewed_at = self._viewed.get(session_id) or (self.trial(session_id), time.perf_counter())
        if wait:
            wait_out(trial["schedule"], viewed_at)
        body = {"index": index, "choice": choice} | honest_timing(
            trial["schedule"], (time.perf_counter() - viewed_at) * 1000, 1000 / 60) | fields
        headers = {"X-CSRF-Token": self.csrf(session_id) if csrf is None else csrf}
        return self._client.post(f"/api/s/{session_id}/answer", json=body, headers=headers)

    def complete(self, session_id: str, choose=lambda trial: "left") -> None:
        """View and answer every remaining trial."""
        csrf = self.csrf(session_id)
        while not (trial := self.view(session_id))["done"]:
            response = self.answer(session_id, trial["index"], choose(trial), csrf=csrf)
            assert response.status_code == 200, response.get_json()


@pytest.fixture
def study_config(tmp_path: Path) -> Path:
    return make_study(tmp_path / "study")


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


_cluster: dict[str, str] = {}


@pytest.fixture
def postgres_server() -> str:
    """Base URL of a throw-away PostgreSQL cluster on a free loopback port.

    Started once per test process (test modules import this fixture, so a
    session-scoped fixture would start one per module) and stopped at exit.
    Needs Debian's `postgresql` package (the Makefile's APT_PACKAGES) and root,
    because `initdb` refuses root and runs as user `postgres` instead.
    """
    if "url" not in _cluster:
        _cluster["url"] = start_postgres()
    return _cluster["url"]


def start_postgres(fsync: bool = False) -> str:
    """Start a throw-away cluster; return its base URL. Tests run it without fsync (faster);
    the load benchmark with it, as a real deployment would."""
    import atexit
    import os
    import shutil
    import socket
    import subprocess
    import tempfile

    bin_dir = _postgres_bin()
    if bin_dir is None or os.geteuid() != 0 or shutil.which("runuser") is None:
        skip_unless_ci("PostgreSQL tests need Debian's postgresql package and root (to run initdb as `postgres`)")
    # Not under pytest's tmp folder: that is private to root, and the server runs as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="p2p-study-pg-"))
    shutil.chown(root, "postgres")
    data = root / "data"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_postgres + [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True)
    subprocess.run(as_postgres + [str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"), "-o",
                                  f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync={'on' if fsync else 'off'}", "start"],
                   check=True, capture_output=True)

    def stop() -> None:
        subprocess.run(as_postgres + [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    return f"postgresql://postgres@127.0.0.1:{port}"


_databases = iter(range(1_000_000))


def database_url(backend: str, request) -> str | None:
    """None for the default SQLite file; a fresh PostgreSQL database otherwise."""
    if backend == "sqlite":
        return None
    from sqlalchemy import create_engine

    from study_app.db import driver_url

    base = request.getfixturevalue("postgres_server")
    name = f"study_{next(_databases)}"
    admin = create_engine(driver_url(base + "/postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return f"{base}/{name}"


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.xdist_group("postgres"))]
"""Parametrize a test's `app` (indirect) or backend over both databases."""


@pytest.fixture
def app(request, study_config: Path):
    """The study app; ``@pytest.mark.parametrize("app", BACKENDS, indirect=True)`` adds PostgreSQL."""
    from study_app import create_app

    test_config = {"STUDY_CONFIG": str(study_config), "TESTING": True}
    url = database_url(getattr(request, "param", "sqlite"), request)
    if url:
        test_config["DATABASE_URL"] = url
    return create_app(test_config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def rater(client) -> RaterActions:
    return RaterActions(client)


HTTP_TIMEOUT_S = 30
"""A server that accepts a connection and never answers fails the test instead of hanging it."""


class HttpRater:
    """A rater speaking HTTP to a real server (no browser), with honest timing."""

    def __init__(self, base: str, query: str = ""):
        self.base = base
        landing = urllib.request.urlopen(base + "/" + query, timeout=HTTP_TIMEOUT_S).read().decode()
        token = re.search(r'name="start_token" value="([^"]+)"', landing).group(1)
        request = urllib.request.Request(base + "/start", data=f"start_token={token}".encode(), method="POST")
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as page:  # follows the 303 to the task page
            self.session_id = page.url.rsplit("/", 1)[-1]
            self.csrf = re.search(r'data-csrf="([^"]+)"', page.read().decode()).group(1)
        self.viewed = None  # (trial, perf_counter when its stimulus came)

    def trial(self) -> dict:
        """The current trial, and its stimulus fetched (as the page does to show it)."""
        with urllib.request.urlopen(f"{self.base}/api/s/{self.session_id}/trial", timeout=HTTP_TIMEOUT_S) as response:
            trial = json.loads(response.read())
        if not trial["done"]:
            with urllib.request.urlopen(self.base + trial["stimulus"]["url"], timeout=HTTP_TIMEOUT_S) as response:
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
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
                return response.status
        except urllib.error.HTTPError as err:
            return err.code


class StudyServer:
    """`p2p-eval study serve` in a child process (the production waitress server)."""

    def __init__(self, config: Path, threads: int = 4, workers: int = 1, env: dict | None = None):
        import os
        import subprocess
        import sys

        root = Path(__file__).resolve().parent.parent
        env = dict(os.environ, PYTHONPATH=str(root), **(env or {}))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "p2p_eval", "study", "serve", str(config), "--port", "0", "--threads", str(threads),
             "--workers", str(workers)],
            cwd=root, env=env, stderr=subprocess.PIPE, text=True,
        )
        self.url = None
        for line in self.process.stderr:
            found = re.search(r"on (http://127\.0\.0\.1:\d+)/", line)
            if found:
                self.url = found.group(1)
                break
        if self.url is None:
            self.process.kill()
            raise RuntimeError(f"server did not start (exit {self.process.wait()})")
        # Keep reading the server's log: a full pipe would block the server.
        self.log: list[str] = []
        self._drain = threading.Thread(target=lambda: self.log.extend(self.process.stderr), daemon=True)
        self._drain.start()

    def kill(self) -> None:
        """SIGKILL: no clean-up, as in a crash or an OOM kill."""
        import signal

        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self._drain.join(timeout=10)
