"""The trial API the task page talks to: the current trial, its stimulus, the answer.

The server holds the whole state. ``GET trial`` only reads: the current trial
(the session's ``next_index``), its schedule and the one-time URL of its
stimulus. ``GET stim`` sends the stimulus once per token and rotates the token
in the same write, so a reload must ask for the trial again and is counted as
a second exposure (``views``). An answer is stored only for exactly the current
trial, with the session's CSRF token, after its stimulus was sent and no sooner
than its schedule lasts; the counter moves in the same transaction
(compare-and-set), so a replayed, skipped or concurrent answer is refused with
409 and stores nothing, and the stimulus token dies with it. Which side is fake
(or whether a single image was real) leaves the server only in the reply to a
stored answer that gets feedback.

Single-image trials (HYPE) answer ``real`` or ``fake``. A HYPE-time session
first reports its display's frame period (``POST display``, once; the trial
says ``display: "needed"`` until then); each staircase trial's exposure is
decided on the server from the stored answers (`study_app.adaptive`), in the
answer's transaction. The last qualification answer decides, in the same
transaction, whether the rater goes on or is screened out.
"""

import hmac
import json
import math
import re

from flask import Blueprint, Response, abort, current_app, jsonify, request, url_for
from sqlalchemy import bindparam, case, exists, func, insert, select, update

from study_app import db
from study_app.adaptive import FRAME_MS_RANGE
from study_app.assign import is_expired
from study_app.audit import exposure, mask_frames, round_trip_ms, sent_stamp, too_soon, trial_flags
from study_app.images import new_token, single_image, stimulus_slots, trial_images
from study_app.presentation import CHOICES
from study_app.rater import check_session_id
from study_app.single_api import after_single_answer, feedback, pause, progress, set_display

bp = Blueprint("api", __name__)

_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{22}$")
_MAX_STEPS = 64
_ANSWER_FIELDS = {
    # name: (type, low, high); painted_ms is a list of such floats, one per schedule step
    "index": (int, 0, 100_000),
    "choice": (str, None, None),
    "reaction_ms": (float, 0.0, 86_400_000.0),
    "painted_ms": (list, 0.0, 86_400_000.0),  # a step until the answer lasts as long as the rater looks
    "frame_ms": (float, 0.1, 1000.0),
    "load_ms": (float, 0.0, 86_400_000.0),
}
# The same bytes for every stimulus: nothing in the headers may differ between trials. no-transform: a
# compressing proxy or CDN (which honours it, RFC 9111 5.2.2.6) would make a blurred fake the shorter response.
_STIMULUS_HEADERS = {"Cache-Control": "no-store, max-age=0, no-transform", "Pragma": "no-cache"}

# The statements of every trial, built and compiled once (`db.Prepared`).
_s, _t = db.sessions, db.trials
_CURRENT = db.Prepared(
    select(_s, _t.c.idx, _t.c.phase, _t.c.schedule, _t.c.stim_token, _t.c.image)
    .select_from(_s.outerjoin(_t, (_t.c.session_id == _s.c.id) & (_t.c.idx == _s.c.next_index)))
    .where(_s.c.id == bindparam("b_session")))
_ALGORITHM = select(_s.c.algorithm).where(_s.c.id == _t.c.session_id).scalar_subquery()
# One statement sends a stimulus: it checks the trial is its active session's current one, spends
# the token and returns what the stimulus holds (a separate read first cost as much again).
_SEND_STIMULUS = db.Prepared(
    update(_t)
    .where((_t.c.stim_token == bindparam("b_token")) & exists().where(
        (_s.c.id == _t.c.session_id) & (_s.c.next_index == _t.c.idx) & (_s.c.status == "active")
        & (_s.c.last_seen >= bindparam("b_cutoff"))))
    .values(stim_token=bindparam("b_new_token"), views=_t.c.views + 1,
            served_at=func.coalesce(_t.c.served_at, bindparam("b_at")), fetched_at=bindparam("b_at"),
            request_ms=bindparam("b_request_ms"))
    .returning(_t.c.real_key, _t.c.fake_key, _t.c.fake_left, _t.c.image, _t.c.source, _ALGORITHM.label("algorithm"))
)
_SEND_FEEDBACK = db.Prepared(  # the just-answered practice trial's, once, before the next trial is shown
    update(_t)
    .where((_t.c.feedback_token == bindparam("b_token")) & exists().where(
        (_s.c.id == _t.c.session_id) & (_s.c.next_index == _t.c.idx + 1)))
    .values(feedback_token=None)
    .returning(_t.c.real_key, _t.c.fake_key, _t.c.fake_left, _t.c.image, _t.c.source, _ALGORITHM.label("algorithm"))
)
_advance = (  # compare-and-set: only the current trial of an active session moves on
    update(_s)
    .where((_s.c.id == bindparam("b_session")) & (_s.c.next_index == bindparam("b_index")) & (_s.c.status == "active"))
    .values(next_index=_s.c.next_index + 1, last_seen=bindparam("b_at"), status=bindparam("b_status"),
            completed_at=bindparam("b_completed"))
)
_close = (  # the stimulus token dies with the answer; a practice trial gets one for its feedback
    update(_t)
    .values(stim_token=None, feedback_token=case(((_t.c.phase == "practice") & _t.c.image.is_(None),
                                                  bindparam("b_feedback")), else_=None))
    .returning(_t.c.phase, _t.c.fake_left, _t.c.fetched_at, _t.c.request_ms, _t.c.views, _t.c.image, _t.c.block,
               _t.c.level_ms, _t.c.streak)
)
_ADVANCE = db.Prepared(_advance)
_CLOSE_TRIAL = db.Prepared(_close.where((_t.c.session_id == bindparam("b_session")) & (_t.c.idx == bindparam("b_index"))))
# PostgreSQL: both in one statement (a data-modifying WITH; the trial is closed only if the session moved),
# one round trip instead of two. SQLite, in process, has no round trips to save and no such WITH.
_moved = _advance.returning(_s.c.id).cte("moved")
_ADVANCE_AND_CLOSE = db.Prepared(_close.add_cte(_moved).where((_t.c.session_id == _moved.c.id)
                                                              & (_t.c.idx == bindparam("b_index"))))
_STORE_ANSWER = db.Prepared(insert(db.answers).values({c.name: bindparam("v_" + c.name) for c in db.answers.c}))


def _current(session_id: str):
    """The session with its current trial's columns (``idx`` is None once complete); 404 if unknown."""
    check_session_id(session_id)
    with db.get_driver().read() as conn:
        _, rows = _CURRENT.run(conn, b_session=session_id)
    if not rows:
        abort(404)
    return rows[0]


@bp.get("/s/<session_id>/trial")
def current_trial(session_id: str):
    row = _current(session_id)
    study = current_app.extensions["study"]
    if row.status in ("complete", "screened"):  # screened: failed the qualification, the end page says so
        return jsonify(done=True)
    if is_expired(row, study, db.now()):
        abort(410, "This session timed out.")
    if not row.schedule:  # a staircase trial: decided once the display's frame period is known
        return jsonify(done=False, display="needed")
    store = current_app.extensions["study_store"]
    kind = "2afc" if row.image is None else "single"  # (not "kind": that would say which trials are vigilance)
    return jsonify(
        done=False,
        index=row.idx,
        n_trials=row.n_trials,
        n_practice=study.protocol.practice_trials,
        practice=row.phase == "practice",
        layout=kind,
        progress=progress(study.protocol, row.idx),
        schedule=json.loads(row.schedule),
        # The URL carries the time the trial leaves, signed: the stimulus request measures a round trip (audit).
        stimulus={"url": url_for("api.stimulus", token=row.stim_token,
                                 sent=sent_stamp(current_app.secret_key, row.stim_token, db.now())), "size": store.size,
                  "slots": stimulus_slots(row.image)},
        choices=list(CHOICES[kind]),
    )


def _send(statement, token: str, **values) -> Response:
    """Spend a one-time token: the stimulus it stands for, or 404."""
    if not _TOKEN.match(token):
        abort(404)
    # Not flushed to disk on its own: the answer's commit flushes it (a killed server keeps it).
    _, rows = db.get_driver().write_alone(statement, durable=False, b_token=token, **values)
    if not rows:  # spent, not the current trial, or its session is over
        abort(404)
    row = rows[0]
    store = current_app.extensions["study_store"]
    if row.image is None:
        images = trial_images(row.real_key, row.fake_key, row.fake_left, row.algorithm)
    else:
        images = single_image(row.image, row.real_key, row.fake_key, row.source or row.algorithm)
    return Response(store.stimulus(images), mimetype="application/octet-stream", headers=_STIMULUS_HEADERS)


@bp.get("/stim/<token>")
def stimulus(token: str):
    """The current trial's stimulus: its slots' raw RGB pixels back to back, once per token."""
    at = db.now()
    return _send(_SEND_STIMULUS, token, b_new_token=new_token(), b_at=at,
                 b_cutoff=at - current_app.extensions["study"].protocol.session_timeout_s,
                 b_request_ms=round_trip_ms(current_app.secret_key, token, request.args.get("sent", ""), at))


@bp.get("/feedback/<token>")
def feedback_stimulus(token: str):
    """A just-answered practice trial's stimulus again, for its feedback; once."""
    return _send(_SEND_FEEDBACK, token)


def _number(name: str, value, kind: type, low: float, high: float):
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, kind):
        abort(400, f"Expected `{name}` to be {kind.__name__}, got {value!r}.")
    if not math.isfinite(value) or not low <= value <= high:
        abort(400, f"Expected `{name}` in [{low}, {high}], got {value!r}.")
    return value


def _parse_answer(body, n_steps: int, choices: tuple[str, ...]) -> dict:
    """The answer fields, type- and range-checked; 400 naming the first bad one."""
    if not isinstance(body, dict) or set(body) != set(_ANSWER_FIELDS):
        abort(400, f"Expected a JSON object with exactly the fields {sorted(_ANSWER_FIELDS)}.")
    answer = {}
    for name, (kind, low, high) in _ANSWER_FIELDS.items():
        value = body[name]
        if kind is str:
            if not isinstance(value, str):
                abort(400, f"Expected `{name}` to be str, got {value!r}.")
        elif kind is list:
            if not isinstance(value, list) or len(value) != n_steps:
                abort(400, f"Expected `{name}` to be a list of {n_steps} numbers (one per step), got {value!r}.")
            value = [_number(name, v, float, low, high) for v in value]
        else:
            value = _number(name, value, kind, low, high)
        answer[name] = value
    if answer["choice"] not in choices:
        abort(400, f"Expected `choice` to be one of {list(choices)}, got {answer['choice']!r}.")
    return answer


def _advance_and_close(conn, **params):
    """Move the session past the answered trial (compare-and-set, first: it takes the session's row lock and
    refuses a concurrent duplicate) and close that trial; the trial's row, or None if the session did not move."""
    if conn.dialect.name == "postgresql":
        _, rows = _ADVANCE_AND_CLOSE.run(conn, **params)
        return rows[0] if rows else None
    moved, _ = _ADVANCE.run(conn, **params)
    return _CLOSE_TRIAL.run(conn, **params)[1][0] if moved == 1 else None


@bp.post("/s/<session_id>/answer")
def answer(session_id: str):
    row = _current(session_id)
    if row.status in ("complete", "screened"):
        abort(409, "This session is complete.")
    if is_expired(row, current_app.extensions["study"], db.now()):
        abort(410, "This session timed out.")
    if not hmac.compare_digest(request.headers.get("X-CSRF-Token", ""), row.csrf):
        abort(403, "Missing or wrong CSRF token.")
    if (request.content_length or 0) > current_app.config["MAX_CONTENT_LENGTH"]:
        abort(413, "Request too large.")
    if not request.is_json:
        abort(415, "Send the answer as application/json.")
    if not row.schedule:
        abort(409, "This trial is not shown yet: report the display first.")
    steps = json.loads(row.schedule)
    given = _parse_answer(request.get_json(silent=True), len(steps), CHOICES["2afc" if row.image is None else "single"])
    if given["index"] < row.next_index:
        abort(409, f"Trial {given['index']} is already answered.")
    if given["index"] > row.next_index:
        abort(409, f"Trial {given['index']} is out of order; the current trial is {row.next_index}.")
    at = db.now()
    feedback_token = new_token()
    last = given["index"] + 1 == row.n_trials
    key = {"b_session": row.id, "b_index": given["index"]}
    with db.get_driver().write() as conn:  # an abort() inside rolls everything back
        trial = _advance_and_close(conn, **key, b_at=at, b_status="complete" if last else "active",
                                   b_completed=at if last else None, b_feedback=feedback_token)
        if trial is None:
            abort(409, "This trial is already answered.")
        if trial.fetched_at is None:
            abort(422, "This trial's images were never fetched; an answer needs them seen.")
        server_ms = (at - trial.fetched_at) * 1000
        if too_soon(server_ms, steps):
            abort(422, f"Answer {server_ms:.0f} ms after the images were sent, sooner than they are shown.")
        exposure_ms, exposure_frames = exposure(steps, given["painted_ms"], given["frame_ms"])
        if trial.image is None:
            correct = (given["choice"] == "left") == bool(trial.fake_left)
        else:
            correct = given["choice"] == trial.image
        masks = mask_frames(steps, given["painted_ms"], given["frame_ms"])
        _STORE_ANSWER.defer(conn, **{"v_" + name: value for name, value in dict(  # nothing reads its result
            session_id=row.id, idx=given["index"], choice=given["choice"], correct=correct,
            reaction_ms=given["reaction_ms"], exposure_ms=exposure_ms, exposure_frames=exposure_frames,
            frame_ms=given["frame_ms"], painted_ms=json.dumps(given["painted_ms"]), load_ms=given["load_ms"],
            server_ms=server_ms, received_at=at, mask_frames=json.dumps(masks) if masks else None,
            **trial_flags(steps, painted_ms=given["painted_ms"], frame_ms=given["frame_ms"], load_ms=given["load_ms"],
                          reaction_ms=given["reaction_ms"], server_ms=server_ms, request_ms=trial.request_ms,
                          views=trial.views),
        ).items()})
        screened = False
        if trial.image is not None and not last:
            screened = after_single_answer(conn, row, given["index"], trial, correct)
    # Stored and committed: only now may the rater be told the truth.
    return jsonify(stored=True, done=last or screened, screened=screened,
                   feedback=feedback(trial, correct, feedback_token), pause=pause(given["index"], screened))


@bp.post("/s/<session_id>/display")
def display(session_id: str):
    """The rater's display frame period, fixed once per session (`study_app.single_api.set_display`).

    Idempotent: a second report (a reload) changes nothing and gets the stored value back.
    """
    row = _current(session_id)
    if row.status != "active" or is_expired(row, current_app.extensions["study"], db.now()):
        abort(409, "This session is not running.")
    if not hmac.compare_digest(request.headers.get("X-CSRF-Token", ""), row.csrf):
        abort(403, "Missing or wrong CSRF token.")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or set(body) != {"frame_ms"}:
        abort(400, "Expected a JSON object with exactly the field frame_ms.")
    frame_ms = _number("frame_ms", body["frame_ms"], float, 0.0, 1000.0)
    low, high = FRAME_MS_RANGE
    if not low <= frame_ms <= high:
        abort(422, f"This display's frame period ({frame_ms:.1f} ms) is outside the {low:g}-{high:g} ms the study "
                   "can time; use another browser or computer.")
    return jsonify(frame_ms=set_display(row, frame_ms))


@bp.errorhandler(400)
@bp.errorhandler(403)
@bp.errorhandler(404)
@bp.errorhandler(409)
@bp.errorhandler(410)
@bp.errorhandler(413)
@bp.errorhandler(415)
@bp.errorhandler(422)
def _json_error(error):
    return jsonify(error=error.description, status=error.code), error.code
