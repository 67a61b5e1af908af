"""Helpers for the study-site tests: a small study on disk, the app, and `RaterActions`."""

import re
import threading
from pathlib import Path

import numpy as np
import pytest

from p2p_eval.data.files import write_png

ADMIN_TOKEN = "admin-token-for-tests-0123456789"


def make_study(
    root: Path,
    *,
    algorithms: tuple[str, ...] = ("A", "B"),
    n_images: int = 8,
    practice: int = 2,
    main: int = 4,
    vigilance: int = 0,
    exposure_ms: int = 200,
    pairing: str = "paired",
    raters: int = 50,
    timeout_s: int = 3600,
    image_size: int = 32,
    extra: str = "",
) -> Path:
    """Write real and fake image folders (32x32 PNGs) and a study.toml; return its path."""
    rng = np.random.default_rng(0)
    for folder in ("real",) + tuple(f"fake_{name}" for name in algorithms):
        for i in range(n_images):
            write_png(root / folder / f"frame{i:03d}.png", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    tables = "".join(f'\n[[algorithms]]\nname = "{name}"\nimages = "fake_{name}"\n' for name in algorithms)
    path = root / "study.toml"
    path.write_text(
        f'title = "Test study"\nadmin_token = "{ADMIN_TOKEN}"\n{extra}\n'
        f'[protocol]\npairing = "{pairing}"\nexposure_ms = {exposure_ms}\npractice_trials = {practice}\n'
        f"main_trials = {main}\nvigilance_trials = {vigilance}\nraters_per_algorithm = {raters}\n"
        f"image_size = {image_size}\nsession_timeout_s = {timeout_s}\n\n"
        f'[real]\nimages = "real"\n{tables}\n[completion]\ncode = "DONE42"\n',
        encoding="utf-8",
    )
    return path


class RaterActions:
    """One rater going through the site with a Flask test client."""

    def __init__(self, client):
        self._client = client

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

    def answer(self, session_id: str, index: int, choice: str = "left", *, csrf: str | None = None, **fields):
        body = {"index": index, "choice": choice, "reaction_ms": 850.0, "exposure_ms": 200.0,
                "exposure_frames": 12, "frame_ms": 16.7} | fields
        headers = {"X-CSRF-Token": self.csrf(session_id) if csrf is None else csrf}
        return self._client.post(f"/api/s/{session_id}/answer", json=body, headers=headers)

    def complete(self, session_id: str, choose=lambda trial: "left") -> None:
        """Answer every remaining trial."""
        csrf = self.csrf(session_id)
        while not (trial := self.trial(session_id))["done"]:
            response = self.answer(session_id, trial["index"], choose(trial), csrf=csrf)
            assert response.status_code == 200, response.get_json()


@pytest.fixture
def study_config(tmp_path: Path) -> Path:
    return make_study(tmp_path / "study")


@pytest.fixture
def app(study_config: Path):
    from study_app import create_app

    return create_app({"STUDY_CONFIG": str(study_config), "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def rater(client) -> RaterActions:
    return RaterActions(client)


class StudyServer:
    """`p2p-eval study serve` in a child process (the production waitress server)."""

    def __init__(self, config: Path, threads: int = 4):
        import os
        import subprocess
        import sys

        root = Path(__file__).resolve().parent.parent
        env = dict(os.environ, PYTHONPATH=str(root))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "p2p_eval", "study", "serve", str(config), "--port", "0", "--threads", str(threads)],
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
