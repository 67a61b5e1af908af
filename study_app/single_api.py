"""The answer-side branches of single-image trials (HYPE, qualification): feedback, pauses, decisions.

`study_app.api` calls these inside its own requests (and the answer's
transaction): the progress line of a trial, what a stored answer's reply
tells the rater, and what the server decides from it: the next staircase
exposure (`study_app.adaptive.staircase_trial`) and, after the last
qualification answer, whether the rater goes on or is screened out.
"""

from flask import current_app, url_for
from sqlalchemy import bindparam, select, update

from study_app import db
from study_app.adaptive import Shown, qualification_passed, staircase_trial
from study_app.trials import place

_s, _t = db.sessions, db.trials


def progress(protocol, index: int) -> str:
    """The rater's progress line: "Practice trial 1 of 10", "Block 2 of 3: trial 5 of 150" ..."""
    at = place(protocol, index)
    if at.phase == "qualification":
        return f"Qualification: image {at.position} of {at.count}"
    if at.phase == "practice":
        return f"Practice trial {at.position} of {at.count}"
    block = f"Block {at.block + 1} of {protocol.blocks}: trial" if protocol.blocks > 1 else "Trial"
    return f"{block} {at.position} of {at.count}"


def feedback(trial, correct: bool, feedback_token: str) -> dict | None:
    """What the rater is told after a stored answer: practice trials, and every trial with ``feedback = "every"``.

    Two-image practice trials show both images again, labelled; single-image
    trials say only whether the answer was right (showing the image again would
    lengthen its exposure).
    """
    protocol = current_app.extensions["study"].protocol
    if trial.image is None:
        if trial.phase != "practice":
            return None
        return {"correct": correct, "fake": "left" if trial.fake_left else "right",
                "stimulus": url_for("api.feedback_stimulus", token=feedback_token)}
    if trial.phase == "practice" or (trial.phase == "main" and protocol.feedback == "every"):
        return {"correct": correct, "image": trial.image}
    return None


def pause(index: int, screened: bool) -> str | None:
    """The pause the page makes before the next trial: after the qualification, the practice, or a block."""
    protocol = current_app.extensions["study"].protocol
    now, following = place(protocol, index), place(protocol, index + 1)
    if screened or following is None:
        return None
    if now.phase != following.phase:
        return {"qualification": "qualified", "practice": "practice-done"}[now.phase]
    return "block-done" if now.block != following.block else None


_NEXT_PENDING = db.Prepared(  # the next trial, if its schedule waits for this answer (a staircase trial)
    select(_t.c.phase, _t.c.block).where((_t.c.session_id == bindparam("b_session")) & (_t.c.idx == bindparam("b_index"))
                                         & (_t.c.schedule == "")))
_DECIDE = db.Prepared(  # compare-and-set: a staircase trial's exposure is decided once
    update(_t).where((_t.c.session_id == bindparam("b_session")) & (_t.c.idx == bindparam("b_index"))
                     & (_t.c.schedule == ""))
    .values(schedule=bindparam("b_schedule"), level_ms=bindparam("b_level"), streak=bindparam("b_streak"),
            exposure_ms=bindparam("b_exposure"), exposure_frames=bindparam("b_frames")))
_QUALIFICATION = db.Prepared(
    select(_t.c.image, db.answers.c.correct).select_from(_t.join(db.answers, (db.answers.c.session_id == _t.c.session_id)
                                                                 & (db.answers.c.idx == _t.c.idx)))
    .where((_t.c.session_id == bindparam("b_session")) & (_t.c.phase == "qualification")))
_SCREEN = db.Prepared(update(_s).where(_s.c.id == bindparam("b_session"))
                      .values(status="screened", completed_at=bindparam("b_at")))


def _decide(conn, session_id: str, index: int, frame_ms: float, previous: Shown | None) -> None:
    """Decide trial `index`'s staircase exposure, if it waits for one (`study_app.adaptive`)."""
    _, pending = _NEXT_PENDING.run(conn, b_session=session_id, b_index=index)
    if not pending:
        return
    columns = staircase_trial(current_app.extensions["study"].protocol, frame_ms, pending[0].phase,
                              pending[0].block or 0, previous)
    _DECIDE.run(conn, b_session=session_id, b_index=index, b_schedule=columns["schedule"], b_level=columns["level_ms"],
                b_streak=columns["streak"], b_exposure=columns["exposure_ms"], b_frames=columns["exposure_frames"])


def after_single_answer(conn, row, index: int, trial, correct: bool) -> bool:
    """In the answer's transaction: decide the next staircase exposure; after the last qualification trial,
    admit or screen out the rater. Returns whether the rater was screened out."""
    protocol = current_app.extensions["study"].protocol
    if trial.phase == "qualification" and place(protocol, index + 1).phase != "qualification":
        _, answered = _QUALIFICATION.run(conn, b_session=row.id)
        if not qualification_passed(protocol, [(a.image, bool(a.correct)) for a in answered]):
            _SCREEN.run(conn, b_session=row.id, b_at=db.now())
            return True
    if row.frame_ms is not None:
        previous = None
        if trial.level_ms is not None:
            previous = Shown(trial.phase, trial.block or 0, trial.level_ms, trial.streak, correct)
        _decide(conn, row.id, index + 1, row.frame_ms, previous)
    return False


_SET_DISPLAY = db.Prepared(update(_s).where((_s.c.id == bindparam("b_session")) & _s.c.frame_ms.is_(None))
                           .values(frame_ms=bindparam("b_frame")))
_DISPLAY = db.Prepared(select(_s.c.frame_ms).where(_s.c.id == bindparam("b_session")))


def set_display(row, frame_ms: float) -> float:
    """Store the session's display frame period if it has none; decide its current staircase trial.

    Returns
    -------
    frame_ms : float
        The stored period: the first report's (a later one changes nothing).
    """
    with db.write(db.get_engine()) as conn:
        _SET_DISPLAY.run(conn, b_session=row.id, b_frame=frame_ms)
        _, (stored,) = _DISPLAY.run(conn, b_session=row.id)
        stored = stored.frame_ms  # the first report's, if there was one
        if row.idx is not None:
            # The session's first staircase trial (the ones after it wait for the answers before them).
            _decide(conn, row.id, row.idx, stored, None)
    return stored
