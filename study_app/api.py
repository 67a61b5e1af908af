"""The trial API the task page talks to: fetch the current trial, answer it.

The server holds the whole state: the current trial is the session's
``next_index``; an answer is stored only for exactly that trial, after it was
shown, with the session's CSRF token, and the counter moves in the same
transaction (a compare-and-set), so a replayed, skipped or concurrent answer
is refused with 409 and stores nothing. Which side is fake leaves the server
only in the reply to a stored practice answer.
"""

import hmac
import math

from flask import Blueprint, abort, current_app, jsonify, request, url_for
from sqlalchemy import insert, select, update

from study_app import db
from study_app.assign import is_expired
from study_app.rater import session_or_404

bp = Blueprint("api", __name__)

_ANSWER_FIELDS = {
    # name: (type, low, high)
    "index": (int, 0, 100_000),
    "choice": (str, None, None),
    "reaction_ms": (float, 0.0, 86_400_000.0),
    "exposure_ms": (float, 0.0, 600_000.0),
    "exposure_frames": (int, 0, 1_000_000),
    "frame_ms": (float, 0.1, 1000.0),
}


def _active_session(session_id: str):
    row = session_or_404(session_id)
    if row.status == "complete":
        abort(409, "This session is complete.")
    if is_expired(row, current_app.extensions["study"], db.now()):
        abort(410, "This session timed out.")
    return row


@bp.get("/s/<session_id>/trial")
def current_trial(session_id: str):
    row = session_or_404(session_id)
    study = current_app.extensions["study"]
    if row.status == "complete":
        return jsonify(done=True)
    if is_expired(row, study, db.now()):
        abort(410, "This session timed out.")
    t = db.trials
    at = db.now()
    with db.get_engine().begin() as conn:
        trial = conn.execute(select(t).where((t.c.session_id == row.id) & (t.c.idx == row.next_index))).one()
        conn.execute(update(t).where((t.c.session_id == row.id) & (t.c.idx == trial.idx)).values(
            served_at=trial.served_at or at, views=t.c.views + 1))
        conn.execute(update(db.sessions).where(db.sessions.c.id == row.id).values(last_seen=at))
    protocol = study.protocol
    return jsonify(
        done=False,
        index=trial.idx,
        n_trials=row.n_trials,
        n_practice=protocol.practice_trials,
        practice=trial.phase == "practice",
        exposure_ms=protocol.exposure_ms,
        left=url_for("rater.image", token=trial.left_token),
        right=url_for("rater.image", token=trial.right_token),
    )


def _parse_answer(body) -> dict:
    """The answer fields, type- and range-checked; 400 naming the first bad one."""
    if not isinstance(body, dict) or set(body) != set(_ANSWER_FIELDS):
        abort(400, f"Expected a JSON object with exactly the fields {sorted(_ANSWER_FIELDS)}.")
    answer = {}
    for name, (kind, low, high) in _ANSWER_FIELDS.items():
        value = body[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, kind):
            abort(400, f"Expected `{name}` to be {kind.__name__}, got {value!r}.")
        if kind is not str and (not math.isfinite(value) or not low <= value <= high):
            abort(400, f"Expected `{name}` in [{low}, {high}], got {value!r}.")
        answer[name] = value
    if answer["choice"] not in ("left", "right"):
        abort(400, f"Expected `choice` to be 'left' or 'right', got {answer['choice']!r}.")
    return answer


@bp.post("/s/<session_id>/answer")
def answer(session_id: str):
    row = _active_session(session_id)
    if not hmac.compare_digest(request.headers.get("X-CSRF-Token", ""), row.csrf):
        abort(403, "Missing or wrong CSRF token.")
    if (request.content_length or 0) > current_app.config["MAX_CONTENT_LENGTH"]:
        abort(413, "Request too large.")
    if not request.is_json:
        abort(415, "Send the answer as application/json.")
    given = _parse_answer(request.get_json(silent=True))
    if given["index"] < row.next_index:
        abort(409, f"Trial {given['index']} is already answered.")
    if given["index"] > row.next_index:
        abort(409, f"Trial {given['index']} is out of order; the current trial is {row.next_index}.")
    t, s = db.trials, db.sessions
    at = db.now()
    with db.get_engine().begin() as conn:
        # Compare-and-set first: it takes the write lock and refuses a concurrent duplicate.
        last = given["index"] + 1 == row.n_trials
        moved = conn.execute(
            update(s).where((s.c.id == row.id) & (s.c.next_index == given["index"]) & (s.c.status == "active"))
            .values(next_index=s.c.next_index + 1, last_seen=at,
                    status="complete" if last else "active", completed_at=at if last else None)
        ).rowcount
        trial = conn.execute(select(t).where((t.c.session_id == row.id) & (t.c.idx == given["index"]))).one()
        if moved != 1 or trial.served_at is None:
            abort(409, "This trial was not shown yet or is already answered.")
        correct = (given["choice"] == "left") == trial.fake_left
        conn.execute(insert(db.answers).values(
            session_id=row.id, idx=given["index"], choice=given["choice"], correct=correct,
            reaction_ms=given["reaction_ms"], exposure_ms=given["exposure_ms"],
            exposure_frames=given["exposure_frames"], frame_ms=given["frame_ms"], received_at=at,
        ))
    # Stored and committed: only now may a practice trial tell the rater the truth.
    feedback = {"correct": correct, "fake": "left" if trial.fake_left else "right"} if trial.phase == "practice" else None
    return jsonify(stored=True, done=last, feedback=feedback)


@bp.errorhandler(400)
@bp.errorhandler(403)
@bp.errorhandler(404)
@bp.errorhandler(409)
@bp.errorhandler(410)
@bp.errorhandler(413)
@bp.errorhandler(415)
def _json_error(error):
    return jsonify(error=error.description, status=error.code), error.code
