"""A real headless Chromium through each new preset: hype-time, hype-inf (with its qualification), zhang-2016.

The probe below is independent of the page's own timing code: it wraps the
canvas drawing calls and watches the cue, stamping each with the animation
frame it happened in (``document.timeline.currentTime``) and the moment of the
call, from which the frame that shows the change follows. What the page drew
and when, in frames, is compared with what the server asked for.
"""

import json
import math
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from study_app import db
from study_app.audit import flag_counts
from study_app.config import load_config
from study_app.staircase import frame_exposure
from study_helpers import IN_CI, StudyServer, make_hype_study
from test_study_browser import CHROMIUM, DESKTOP, SHOTS, _check_screen, _launch, _record_answers

pytestmark = [
    pytest.mark.browser,
    # One Chromium at a time: two of them on two cores skip frames, and these tests measure frames.
    pytest.mark.xdist_group("chromium"),
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not IN_CI,  # in CI: fail at launch, naming the path
                       reason=f"{CHROMIUM} not installed (Debian package chromium)"),
]

DRAW_PROBE = """
window.__draws = [];
(() => {
  const note = (event) => window.__draws.push(Object.assign(event, {t: document.timeline.currentTime, now: performance.now()}));
  const proto = CanvasRenderingContext2D.prototype;
  const draw = proto.drawImage, clear = proto.clearRect;
  proto.drawImage = function (...args) { note({what: "draw", canvas: this.canvas.id}); return draw.apply(this, args); };
  proto.clearRect = function (...args) { note({what: "clear", canvas: this.canvas.id}); return clear.apply(this, args); };
  document.addEventListener("DOMContentLoaded", () => {
    const cue = document.getElementById("cue");
    if (cue) new MutationObserver(() => note({what: "cue", text: cue.textContent}))
      .observe(cue, {childList: true, characterData: true, subtree: true});
  });
})();
"""


def _frames_drawn(events: list[dict], canvases: tuple[str, ...], frame_ms: float) -> list[tuple[float, str]]:
    """What the stage showed from each frame in which it changed: (paint time, "cue:3" | "draw" | "blank").

    A change made in the callback of the frame that starts at `t` reaches the screen at the first frame boundary
    after the call: one frame after `t`, or later when the callback ran late (a busy main thread), where Chromium
    can stamp the frame long before the callback runs. Timing changes by `t` alone would count that delay as
    exposure (1033 ms for an image shown from 896 to 1896 ms)."""
    changes: list[tuple[float, str]] = []
    for t in sorted({e["t"] for e in events}):
        now = [e for e in events if e["t"] == t]
        painted = t + frame_ms * (1 + math.floor((max(e["now"] for e in now) - t) / frame_ms))
        drawn = [e for e in now if e["what"] == "draw" and e["canvas"] in canvases]
        cues = [e["text"] for e in now if e["what"] == "cue" and e["text"]]
        if drawn:
            changes.append((painted, "draw"))
        elif cues:
            changes.append((painted, f"cue:{cues[-1]}"))
        elif any(e["what"] == "clear" for e in now):
            changes.append((painted, "blank"))
    return changes


def _check_steps(n: int, steps: list[dict], measured: list[float], frame_ms: float, late: list[int]) -> None:
    """Every step of trial `n` painted within a frame of its target, except that an image or mask step (what
    the server audits) more than a frame off goes into `late`, to be checked by `_check_late_trials_are_reported`."""
    off = [abs(m - step["ms"]) > frame_ms + 1 for step, m in zip(steps, measured)]
    assert not any(o for o, step in zip(off, steps) if not step["show"]), (n, measured, steps)  # countdown, blanks
    if any(off):
        late.append(n)


def _check_late_trials_are_reported(late: list[int], engine, config: Path) -> None:
    """An image painted more than a frame off target happens only when Chromium skips frames (a loaded machine),
    to one trial of a test at most; the server must have flagged that trial off timing from the page's own log,
    and, a main trial, it must be counted in the off-timing flags that `study results` and the admin page report
    (and left out where ``exclude_timing_flags`` is set)."""
    with engine.connect() as conn:
        flagged = set(conn.execute(select(db.answers.c.idx).where(db.answers.c.off_timing)).scalars())
        main = set(conn.execute(select(db.trials.c.idx).where(db.trials.c.phase == "main")).scalars())
    assert len(late) <= 1 and set(late) <= flagged, (late, flagged)
    study = load_config(config)
    reported = flag_counts(engine, study.protocol, study.algorithm_names)
    assert sum(counts["off_timing"] for counts in reported.values()) == len(flagged & main), (reported, flagged)


def _engine(config: Path):
    return db.make_engine(load_config(config).database_url)


def _current(engine, session_id: str):
    with engine.connect() as conn:
        index = conn.execute(select(db.sessions.c.next_index).where(db.sessions.c.id == session_id)).scalar_one()
        return conn.execute(select(db.trials).where((db.trials.c.session_id == session_id)
                                                    & (db.trials.c.idx == index))).one()


def _landing(browser, url: str, rater: str, answers: list | None = None, script: str = DRAW_PROBE):
    """A desktop page on the landing screen as Prolific rater `rater`, with `script` run first in every document
    and, given `answers`, every answer the page posts appended to it; return the page and the landing text."""
    page = browser.new_page(viewport=DESKTOP)
    page.add_init_script(script)
    if answers is not None:
        _record_answers(page, answers)
    page.goto(url + f"/?PROLIFIC_PID={rater}&STUDY_ID=s&SESSION_ID=t")
    return page, page.inner_text("#landing")


def _session_id(page) -> str:
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def test_hype_time_countdown_exposure_masks_and_staircase_in_chromium(tmp_path: Path):
    """3-2-1 countdown of 500 ms, the staircase's exposure, four 30 ms masks: each drawn within a frame of the
    whole-frame durations the server asked for; the staircase moves as specified on a scripted sequence of answers
    (+10 ms after a wrong one, -30 ms after three right, fresh each block), with feedback after every answer."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    config = make_hype_study(tmp_path, "hype-time", main=8, image_size=64, protocol_extra="blocks = 2\nfeedback_ms = 300")
    script = [False, True, True, True, True, True, True, False]  # right or wrong, per trial
    shots = tmp_path / "shots"
    shots.mkdir()
    server = StudyServer(config)
    engine = _engine(config)
    answers, trials_drawn, feedback_texts = [], [], []
    try:
        with playwright_api.sync_playwright() as p:
            browser = _launch(p)
            page, landing = _landing(browser, server.url, "hypetime", answers)
            assert "half of the photos are real and half are fake" in landing and "3-2-1 countdown" in landing
            assert "The task has 2 parts of 4 photos each" in landing
            page.click("#start")
            page.wait_for_selector("#task")
            session_id = _session_id(page)
            for n, right in enumerate(script):
                page.wait_for_selector("#task[data-state=answering]", timeout=20_000)
                trials_drawn.append(page.evaluate("window.__draws.splice(0)"))
                assert page.inner_text("#progress") == f"Block {n // 4 + 1} of 2: trial {n % 4 + 1} of 4"
                if n == 0:
                    _check_screen(page, shots / "hype-time-answer.png")
                truth = _current(engine, session_id).image
                page.keyboard.press("r" if (truth == "real") == right else "f")
                page.wait_for_selector("#task[data-state=feedback]", timeout=5000)
                feedback_texts.append(page.inner_text("#feedback"))
                if n == 3:
                    page.wait_for_selector("#block-done:not([hidden])", timeout=5000)
                    _check_screen(page, shots / "hype-time-block-done.png")
                    page.click("#next-block")
            page.wait_for_selector("#completion-code", timeout=15_000)
            browser.close()
    finally:
        server.stop()
        shutil.copytree(shots, SHOTS, dirs_exist_ok=True)
    assert [text == "Correct!" for text in feedback_texts] == script
    with engine.connect() as conn:
        frame_ms = conn.execute(select(db.sessions.c.frame_ms)).scalar_one()
        stored = conn.execute(select(db.trials).order_by(db.trials.c.idx)).all()
    assert abs(frame_ms - 1000 / 60) < 0.5, frame_ms  # headless Chromium paints at 60 Hz
    # The staircase, by hand: W +10; R R R -30 comes only in block 2 (R R R, then W +10 after 470).
    assert [t.level_ms for t in stored] == [500, 510, 510, 510, 500, 500, 500, 470]
    assert [t.exposure_frames for t in stored] == [frame_exposure(t.level_ms, frame_ms)[0] for t in stored]
    late = []
    for n, (events, trial) in enumerate(zip(trials_drawn, stored)):
        steps = json.loads(trial.schedule)
        changes = _frames_drawn(events, ("image-canvas",), frame_ms)
        assert [what for _, what in changes] == ["cue:3", "cue:2", "cue:1"] + ["draw"] * 5 + ["blank"], (n, changes)
        measured = [b[0] - a[0] for a, b in zip(changes, changes[1:])]
        requested = [step["ms"] for step in steps]
        assert requested[3] == pytest.approx(trial.exposure_ms) and requested[4:] == [pytest.approx(2 * frame_ms)] * 4
        _check_steps(n, steps, measured, frame_ms, late)
        logged = answers[n][0]["painted_ms"]
        assert max(abs(m - g) for m, g in zip(measured, logged)) <= frame_ms + 1, (n, measured, logged)
    _check_late_trials_are_reported(late, engine, config)


def test_hype_inf_qualification_admits_then_unlimited_viewing_in_chromium(tmp_path: Path):
    """A rater right on every qualification image is admitted and sees each main image until answering; one
    wrong on both reals is screened out with the screened completion code."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    config = make_hype_study(tmp_path, "hype-inf", main=4, image_size=64, protocol_extra="qualification_trials = 4",
                             completion_extra='screened_code = "SCREENED7"')
    server = StudyServer(config)
    engine = _engine(config)
    answers, looks = [], []
    try:
        with playwright_api.sync_playwright() as p:
            browser = _launch(p)
            page, landing = _landing(browser, server.url, "admitted", answers)
            assert "half of the photos are real and half are fake" in landing and "stays on the screen" in landing
            assert "at least 65% right on the real photos and 65% right on the fake ones" in landing
            page.click("#start")
            page.wait_for_selector("#task")
            session_id = _session_id(page)
            for n in range(8):
                page.wait_for_selector("#task[data-state=answering]", timeout=15_000)
                page.wait_for_timeout(400)  # looking at the image
                looks.append(page.evaluate("window.__draws.splice(0)"))
                assert page.is_visible("#verdict") and not page.is_visible("#feedback:not(:empty)")
                page.click("#" + _current(engine, session_id).image)  # right every time
                if n == 3:
                    page.wait_for_selector("#qualified:not([hidden])", timeout=5000)
                    page.click("#start-task")
            page.wait_for_selector("#completion-code", timeout=15_000)
            assert page.inner_text("#completion-code") == "DONE42"
            failing = browser.new_page(viewport=DESKTOP)
            failing.goto(server.url + "/?PROLIFIC_PID=screened&STUDY_ID=s&SESSION_ID=t")
            failing.click("#start")
            failing.wait_for_selector("#task")
            other = _session_id(failing)
            for n in range(4):
                failing.wait_for_selector("#task[data-state=answering]", timeout=15_000)
                failing.keyboard.press("f")  # "fake" every time: both reals wrong
            failing.wait_for_selector("#screened", timeout=15_000)
            assert failing.inner_text("#completion-code") == "SCREENED7"
            _check_screen(failing, SHOTS / "hype-inf-screened.png")
            browser.close()
    finally:
        server.stop()
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(db.sessions.c.id, db.sessions.c.status)).all())
    assert statuses == {session_id: "complete", other: "screened"}
    for n, (events, (body, _)) in enumerate(zip(looks, answers)):
        # The image drawn once, when the response opened, and still up after the 400 ms look.
        assert [e["what"] for e in events if e["what"] == "draw"] == ["draw"] and events[-1]["what"] == "draw", n
        assert body["painted_ms"][0] >= 400 and body["reaction_ms"] == body["painted_ms"][0]


def test_zhang_2016_side_by_side_with_a_vigilance_trial_in_chromium(tmp_path: Path):
    """Zhang et al.'s colorization test: both images side by side for 1 s, a random-colour vigilance trial."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    config = make_hype_study(tmp_path, "zhang-2016", main=2, practice=1, image_size=64,
                             protocol_extra="vigilance_trials = 1\nfeedback_ms = 300")
    server = StudyServer(config)
    engine = _engine(config)
    answers, shown = [], []
    try:
        with playwright_api.sync_playwright() as p:
            browser = _launch(p)
            page, landing = _landing(browser, server.url, "zhang", answers)
            assert "side by side, for 1 second" in landing
            page.click("#start")
            for n in range(4):
                page.wait_for_selector("#task[data-state=answering]", timeout=15_000)
                shown.append(page.evaluate("window.__draws.splice(0)"))
                page.keyboard.press("f")
                if n == 0:
                    page.wait_for_selector("#practice-done:not([hidden])", timeout=5000)
                    page.click("#start-main")
            page.wait_for_selector("#completion-code", timeout=15_000)
            browser.close()
    finally:
        server.stop()
    with engine.connect() as conn:
        kinds = conn.execute(select(db.trials.c.kind).order_by(db.trials.c.idx)).scalars().all()
        stored = conn.execute(select(db.answers.c.frame_ms)).scalars().all()
    assert sorted(kinds) == ["normal", "normal", "normal", "vigilance"] and len(stored) == 4
    frame_ms, late = stored[0], []
    for n, events in enumerate(shown):
        changes = _frames_drawn(events, ("left-canvas", "right-canvas"), frame_ms)
        # The trial: the fixation cross, both images, blank (the second list also holds the practice feedback).
        exposure = [c[0] - b[0] for a, b, c in zip(changes, changes[1:], changes[2:]) if (a[1], b[1]) == ("cue:+", "draw")]
        assert len(exposure) == 1, (n, changes)
        _check_steps(n, [{"ms": 1000, "show": ["left", "right"]}], exposure, frame_ms, late)
        assert answers[n][0]["painted_ms"][1] == pytest.approx(exposure[0], abs=frame_ms + 1)
    _check_late_trials_are_reported(late, engine, config)


ANSWER_AT_ONCE = """
document.addEventListener("DOMContentLoaded", () => {
  const task = document.getElementById("task");
  if (task) new MutationObserver(() => {
    if (task.dataset.state === "answering") document.dispatchEvent(new KeyboardEvent("keydown", {key: "f"}));
  }).observe(task, {attributes: true, attributeFilter: ["data-state"]});
});
"""


@pytest.mark.parametrize("preset", ["hype-inf", "zhang-2016"])
def test_an_answer_the_instant_the_response_opens_is_stored_in_chromium(tmp_path: Path, preset: str):
    """A key pressed in the very task that opens the response (a scripted rater, a key held ready) comes after
    the response is on screen: stored with a reaction time >= 0, neither dropped nor refused as a negative one."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    config = make_hype_study(tmp_path, preset, main=3, image_size=64,
                             protocol_extra="vigilance_trials = 0" if preset == "zhang-2016" else "")
    server = StudyServer(config)
    try:
        with playwright_api.sync_playwright() as p:
            browser = _launch(p)
            page, _ = _landing(browser, server.url, "quick", script=ANSWER_AT_ONCE)
            page.click("#start")
            page.wait_for_selector("#completion-code", timeout=20_000)
            browser.close()
    finally:
        server.stop()
    with _engine(config).connect() as conn:
        stored = conn.execute(select(db.answers.c.reaction_ms, db.answers.c.painted_ms)).all()
    assert len(stored) == 3 and all(reaction >= 0 for reaction, _ in stored), stored
    if preset == "hype-inf":  # the image held until the answer was up as long as the reaction took
        assert all(json.loads(painted)[-1] == reaction for reaction, painted in stored), stored


LATE_LEAD = """
document.addEventListener("DOMContentLoaded", () => {
  const cue = document.getElementById("cue");
  if (cue) new MutationObserver(() => {  // the main thread busy from 480 to 540 ms into the fixation cross
    if (cue.textContent === "+") setTimeout(() => { const end = performance.now() + 60; while (performance.now() < end); }, 480);
  }).observe(cue, {childList: true, characterData: true, subtree: true});
});
"""


def test_a_late_fixation_cross_does_not_shorten_the_exposure_in_chromium(tmp_path: Path):
    """A busy main thread ends the 500 ms fixation cross frames late; the images still get their 1000 ms (each
    step is timed from its own paint, not from the trial's start), so the late step costs no exposure."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    config = make_hype_study(tmp_path, "zhang-2016", main=2, image_size=64, protocol_extra="vigilance_trials = 0")
    server = StudyServer(config)
    answers, shown = [], []
    try:
        with playwright_api.sync_playwright() as p:
            browser = _launch(p)
            page, _ = _landing(browser, server.url, "late", answers, script=DRAW_PROBE + LATE_LEAD)
            page.click("#start")
            for _ in range(2):
                page.wait_for_selector("#task[data-state=answering]", timeout=15_000)
                shown.append(page.evaluate("window.__draws.splice(0)"))
                page.keyboard.press("f")
            page.wait_for_selector("#completion-code", timeout=15_000)
            browser.close()
    finally:
        server.stop()
    for n, ((body, _), events) in enumerate(zip(answers, shown)):
        frame_ms = body["frame_ms"]
        lead, exposure = body["painted_ms"][:2]
        assert lead > 500 + frame_ms, (n, body["painted_ms"])  # the cross did end late, and the page logged it
        changes = _frames_drawn(events, ("left-canvas", "right-canvas"), frame_ms)
        drawn = [c[0] - b[0] for a, b, c in zip(changes, changes[1:], changes[2:]) if (a[1], b[1]) == ("cue:+", "draw")]
        assert len(drawn) == 1 and abs(drawn[0] - exposure) <= frame_ms + 1, (n, changes, body["painted_ms"])
        # Not shortened to catch up (that was 2 frames short); a loaded machine may still end it late, never early.
        assert exposure >= 1000 - frame_ms - 1 and drawn[0] >= 1000 - frame_ms - 1, (n, changes, body["painted_ms"])
