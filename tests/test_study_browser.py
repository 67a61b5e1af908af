"""A real headless Chromium completes a session against the real waitress server."""

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from study_app import db
from study_app.config import load_config
from study_helpers import StudyServer, make_study

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EXPOSURE_MS = 300

# Independent of the app's own timing: records every class change of the stage
# (the app shows/hides both images by toggling one class) with performance.now().
VISIBILITY_PROBE = """
window.__shown = [];
document.addEventListener("DOMContentLoaded", () => {
  const stage = document.getElementById("stage");
  if (!stage) return;
  new MutationObserver(() => {
    window.__shown.push({visible: !stage.classList.contains("hidden-stimuli"), t: performance.now()});
  }).observe(stage, {attributes: true, attributeFilter: ["class"]});
});
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed (Debian package chromium)"),
]


def _exposures(page) -> list[float]:
    events = page.evaluate("window.__shown")
    return [b["t"] - a["t"] for a, b in zip(events, events[1:]) if a["visible"] and not b["visible"]]


def _record_answer(route, answers: list) -> None:
    """Pass the answer POST through to the server, keeping the server's reply."""
    response = route.fetch()
    answers.append(response.json())
    route.fulfill(response=response)


def _screenshot_stimuli(page, path: Path) -> None:
    """The stimulus screen, re-shown for the picture (a live capture can miss a short exposure
    on a loaded machine); the probe's records of this re-showing are dropped."""
    recorded = page.evaluate("window.__shown.length")
    page.evaluate("document.getElementById('stage').classList.remove('hidden-stimuli')")
    page.locator("#stage").screenshot(path=str(path))
    page.evaluate("document.getElementById('stage').classList.add('hidden-stimuli')")
    page.evaluate(f"window.__shown.splice({recorded})")


def _check_screenshot(page, path: Path) -> None:
    page.screenshot(path=str(path))
    pixels = np.asarray(Image.open(io.BytesIO(path.read_bytes())).convert("RGB"), dtype=float)
    assert path.stat().st_size > 2000 and pixels.std() > 5, f"{path} looks empty"


def test_a_whole_session_in_chromium(tmp_path: Path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    config = make_study(tmp_path, practice=2, main=3, exposure_ms=EXPOSURE_MS, image_size=128)
    shots = tmp_path / "shots"
    shots.mkdir()
    server = StudyServer(config)
    answers = []
    try:
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 900, "height": 600})
            page.add_init_script(VISIBILITY_PROBE)
            page.route("**/api/s/*/answer", lambda route: _record_answer(route, answers))
            page.goto(server.url + "/?PROLIFIC_PID=browser1&STUDY_ID=s&SESSION_ID=t")
            _check_screenshot(page, shots / "1-landing.png")
            page.click("#start")
            banked = []  # exposures of the page before the reload
            for n in range(5):
                page.wait_for_selector("#task.answering", timeout=10_000)
                if n == 1:
                    _screenshot_stimuli(page, shots / "2-stimuli.png")
                progress = page.inner_text("#progress")
                assert progress == (f"Practice trial {n + 1} of 2" if n < 2 else f"Trial {n - 1} of 3")
                if n == 0:
                    _check_screenshot(page, shots / "2-answer.png")
                if n == 3:  # reload mid-study: the same trial comes back
                    banked = _exposures(page)
                    page.reload()
                    page.wait_for_selector("#task.answering", timeout=10_000)
                    assert page.inner_text("#progress") == progress
                exposures = banked + _exposures(page)
                if n % 2:
                    page.keyboard.press("j")
                else:
                    page.click("#left")
                if n < 2:
                    page.wait_for_selector("#continue:not([hidden])", timeout=5000)
                    assert page.inner_text("#feedback").startswith(("Correct!", "Wrong."))
                    if n == 0:
                        _check_screenshot(page, shots / "3-feedback.png")
                    page.click("#continue")
            page.wait_for_selector("#completion-code", timeout=10_000)
            assert page.inner_text("#completion-code") == "DONE42"
            _check_screenshot(page, shots / "4-done.png")
            browser.close()
    finally:
        server.stop()
        shutil.copytree(shots, Path("/tmp/p2p-study-shots"), dirs_exist_ok=True)
    stimuli = np.asarray(Image.open(shots / "2-stimuli.png").convert("RGB"))
    painted = np.count_nonzero(np.abs(stimuli.astype(int) - 128).sum(axis=2) > 30)
    assert painted > 0.8 * 2 * 128 * 128, "the stimulus screenshot shows no images"  # noise on grey
    assert [a["feedback"] is not None for a in answers] == [True, True, False, False, False]
    # 6 exposures: 5 trials and the reloaded one; each ends within 50 ms of the exposure time.
    assert len(exposures) == 6
    assert all(abs(e - EXPOSURE_MS) <= 50 for e in exposures), exposures
    engine = db.make_engine(load_config(config).database_url)
    with engine.connect() as conn:
        stored = conn.execute(select(db.answers).order_by(db.answers.c.idx)).all()
        views = conn.execute(select(db.trials.c.views).order_by(db.trials.c.idx)).scalars().all()
    assert [a.idx for a in stored] == [0, 1, 2, 3, 4]
    assert all(abs(a.exposure_ms - EXPOSURE_MS) <= 50 and 5 < a.frame_ms < 40 for a in stored)
    assert views == [1, 1, 1, 2, 1]  # the reload is on record
