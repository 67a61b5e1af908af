"""Leak 2: nothing a rater can see of the network layer tells the fake's side.

Blurred fakes (always the smaller PNG) and colour-shifted fakes (the larger one) are
served by the real waitress server to a scripted rater who records, per trial, every
byte count, header and time it can observe of the trial and its stimulus. Over 480
trials none of those predicts which side is fake better than chance (AUC <= 0.6),
while the same images sent as per-image PNGs, as before, gave it away (AUC >= 0.9).
"""

import http.client
import io
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image, ImageFilter
from scipy import ndimage, stats
from sqlalchemy import select

from study_app import db
from study_app.config import load_config
from study_helpers import ADMIN_TOKEN, HttpRater, StudyServer, honest_timing

N_IMAGES = 24
SESSIONS_PER_ALGORITHM = 12
SIZE = 64
MAX_AUC = 0.6

pytestmark = pytest.mark.slow


def _write_study(root: Path) -> Path:
    """Real photos (smooth colour fields with grain), their blurred and their colour-shifted copies."""
    rng = np.random.default_rng(0)
    for i in range(N_IMAGES):
        smooth = ndimage.gaussian_filter(rng.normal(size=(SIZE, SIZE, 3)), sigma=(4, 4, 0))
        real = np.clip(128 + 60 * smooth / smooth.std() + rng.normal(0, 6, smooth.shape), 0, 255).astype(np.uint8)
        blurred = np.asarray(Image.fromarray(real).filter(ImageFilter.GaussianBlur(2)))
        shifted = np.clip(real * np.array([1.15, 0.95, 0.85]) + rng.normal(0, 4, real.shape), 0, 255).astype(np.uint8)
        for folder, pixels in (("real", real), ("fake_blur", blurred), ("fake_shift", shifted)):
            (root / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(root / folder / f"frame{i:03d}.png")
    path = root / "study.toml"
    path.write_text(
        f'title = "Network study"\nadmin_token = "{ADMIN_TOKEN}"\n\n'
        f"[protocol]\nexposure_ms = 17\nlead_ms = 0\npractice_trials = 0\nmain_trials = 20\n"
        f"raters_per_algorithm = {SESSIONS_PER_ALGORITHM}\nimage_size = {SIZE}\n\n"
        '[real]\nimages = "real"\n\n[[algorithms]]\nname = "blur"\nimages = "fake_blur"\n\n'
        '[[algorithms]]\nname = "shift"\nimages = "fake_shift"\n',
        encoding="utf-8",
    )
    return path


def _observe(conn: http.client.HTTPConnection, path: str) -> tuple[bytes, dict[str, float], tuple]:
    """GET `path`; the body, what a rater can time of it, and its headers (less Date)."""
    start = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()  # the status line and headers are in
    first = time.perf_counter()
    head = response.read(int(response.getheader("Content-Length")) // 2)
    half = time.perf_counter()
    body = head + response.read()
    end = time.perf_counter()
    assert response.status == 200, (path, response.status)
    headers = tuple(sorted((k, v) for k, v in response.getheaders() if k.lower() != "date"))
    return body, {"first_byte": first - start, "total": end - start, "first_half": half - first,
                  "second_half": end - half, "halves": (end - half) - (half - first)}, headers


def _auc(scores: np.ndarray, fake_left: np.ndarray) -> float:
    """Area under the ROC curve of `scores` for `fake_left` (ties count half)."""
    ranks = stats.rankdata(scores)
    positives = fake_left.sum()
    negatives = len(fake_left) - positives
    return (ranks[fake_left].sum() - positives * (positives + 1) / 2) / (positives * negatives)


def _png_size(pixels: np.ndarray) -> int:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=6)
    return len(buffer.getvalue())


def _observe_sessions(config: Path, choice: str) -> list[tuple[str, int, dict, tuple, bytes]]:
    """Every trial of ``2 * SESSIONS_PER_ALGORITHM`` scripted sessions on the real server, as a rater sees it:
    (session id, trial index, numbers, headers, body), answering `choice` with honest timing."""
    server = StudyServer(config)
    observed = []
    try:
        parts = urlsplit(server.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        for _ in range(2 * SESSIONS_PER_ALGORITHM):
            rater = HttpRater(server.url)
            while True:
                trial_json, trial_times, _ = _observe(conn, f"/api/s/{rater.session_id}/trial")
                trial = json.loads(trial_json)
                if trial["done"]:
                    break
                body, times, headers = _observe(conn, trial["stimulus"]["url"])
                numbers = {"bytes": len(body), "trial_bytes": len(trial_json)} | times | {
                    f"trial_{k}": v for k, v in trial_times.items()}
                observed.append((rater.session_id, trial["index"], numbers, headers, body))
                answer = {"index": trial["index"], "choice": choice} | honest_timing(trial["schedule"], 20.0)
                conn.request("POST", f"/api/s/{rater.session_id}/answer", body=json.dumps(answer),
                             headers={"Content-Type": "application/json", "X-CSRF-Token": rater.csrf})
                response = conn.getresponse()
                assert response.status == 200, response.read()
                response.read()
    finally:
        server.stop()
    return observed


def stored_per_trial(config: Path, observed: list[tuple], column) -> np.ndarray:
    """What the server stored in `column` (of ``db.trials`` or ``db.sessions``) for each trial of `observed`."""
    engine = db.make_engine(load_config(config).database_url)
    with engine.connect() as conn:
        if column.table is db.sessions:
            by_session = dict(conn.execute(select(db.sessions.c.id, column)).all())
            return np.array([by_session[s] for s, *_ in observed])
        by_trial = {(s, i): v for s, i, v in conn.execute(select(db.trials.c.session_id, db.trials.c.idx, column))}
    return np.array([by_trial[(s, i)] for s, i, *_ in observed])


def assert_nothing_observable_predicts(observed: list[tuple], label: np.ndarray, n_bytes: int) -> None:
    """Every stimulus response of `observed` (from `_observe_sessions`) carries the same headers and `n_bytes`
    bytes, and no size or timing in it separates `label` (bool, one per response) better than `MAX_AUC`."""
    assert len({headers for *_, headers, _ in observed}) == 1
    assert {numbers["bytes"] for _, _, numbers, _, _ in observed} == {n_bytes}
    for feature in observed[0][2]:
        auc = _auc(np.array([numbers[feature] for _, _, numbers, _, _ in observed]), label)
        assert max(auc, 1 - auc) <= MAX_AUC, (feature, auc)


def test_no_network_observable_predicts_the_fake(tmp_path: Path):
    config = _write_study(tmp_path)
    observed = _observe_sessions(config, "left")
    fake_left = stored_per_trial(config, observed, db.trials.c.fake_left)
    assert len(observed) == 480 and 0.4 < fake_left.mean() < 0.6
    assert_nothing_observable_predicts(observed, fake_left, 2 * SIZE * SIZE * 3)
    # The test has teeth: the same pixels as per-image PNGs (the old delivery) give the fake away.
    half = SIZE * SIZE * 3
    png_difference = np.array([
        _png_size(np.frombuffer(body[:half], np.uint8).reshape(SIZE, SIZE, 3))
        - _png_size(np.frombuffer(body[half:], np.uint8).reshape(SIZE, SIZE, 3)) for *_, body in observed])
    blurred = stored_per_trial(config, observed, db.sessions.c.algorithm) == "blur"
    assert _auc(-png_difference[blurred], fake_left[blurred]) >= 0.9  # the smaller PNG was the blurred fake
    assert _auc(png_difference[~blurred], fake_left[~blurred]) >= 0.9  # the larger one the shifted fake
