"""Pages raters see: landing (AMT / Prolific / link), the task page, the end, images.

Rater identity comes from the platform's URL parameters (AMT ``workerId``,
Prolific ``PROLIFIC_PID``) or is generated for a plain link. The landing page
signs it into the start form, which doubles as the CSRF token of that POST.
"""

import json
import re
import secrets

from flask import (
    Blueprint, Response, abort, current_app, make_response, redirect, render_template, request, url_for,
)
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from study_app import db
from study_app.assign import AlreadyTookPart, StudyFull, find_session, is_expired, start_session
from study_app.images import encoded_png
from study_app.trials import VIGILANCE_PREFIX

bp = Blueprint("rater", __name__)

AMT_PREVIEW = "ASSIGNMENT_ID_NOT_AVAILABLE"
AMT_SUBMIT_HOSTS = ("https://www.mturk.com", "https://workersandbox.mturk.com")
_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{22}$")
_START_MAX_AGE_S = 24 * 3600
_RATER_COOKIE = "p2p_study_rater"
_RATER_COOKIE_AGE_S = 180 * 24 * 3600
_LOCAL_ID = re.compile(r"^local:[A-Za-z0-9_\-]{16}$")


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="study-start")


def _platform_ids(args) -> tuple[str, dict[str, str]]:
    """Platform name and its ids from the landing URL; 400 on malformed ids."""
    if "workerId" in args or "assignmentId" in args:
        keys = ("workerId", "assignmentId", "hitId", "turkSubmitTo")
        platform = "amt"
    elif "PROLIFIC_PID" in args:
        keys = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")
        platform = "prolific"
    else:
        return "local", {}
    ids = {k: args.get(k, "") for k in keys}
    for key, value in ids.items():
        if key == "turkSubmitTo":
            if value.rstrip("/") not in AMT_SUBMIT_HOSTS:
                abort(400, f"turkSubmitTo must be one of {AMT_SUBMIT_HOSTS}.")
        elif not _ID.match(value):
            abort(400, f"Missing or malformed URL parameter {key}.")
    return platform, ids


@bp.get("/")
def landing():
    study = current_app.extensions["study"]
    if request.args.get("assignmentId") == AMT_PREVIEW:
        return render_template("landing.html", study=study, preview=True, start_token=None)
    platform, ids = _platform_ids(request.args)
    if platform == "amt":
        rater_id = f"amt:{ids['workerId']}"
    elif platform == "prolific":
        rater_id = f"prolific:{ids['PROLIFIC_PID']}"
    else:
        # A plain link: the browser keeps its generated id (best effort; cookies can be cleared).
        remembered = request.cookies.get(_RATER_COOKIE, "")
        rater_id = remembered if _LOCAL_ID.match(remembered) else f"local:{secrets.token_urlsafe(12)}"
    existing = find_session(db.get_engine(), rater_id)
    if existing is not None:
        if existing.status == "active" and not is_expired(existing, study, db.now()):
            return redirect(url_for("rater.task", session_id=existing.id), 303)
        return _already_took_part(study)
    token = _signer().dumps({"rater": rater_id, "platform": platform, "external": ids})
    response = make_response(render_template("landing.html", study=study, preview=False, start_token=token))
    if platform == "local":
        response.set_cookie(_RATER_COOKIE, rater_id, max_age=_RATER_COOKIE_AGE_S, httponly=True, samesite="Lax")
    return response


def _already_took_part(study):
    return render_template("message.html", study=study, title="Thank you",
                           message="You have already taken part in this study; each person may take part once."), 403


@bp.post("/start")
def start():
    try:
        identity = _signer().loads(request.form.get("start_token", ""), max_age=_START_MAX_AGE_S)
    except BadSignature:
        abort(400, "Missing or invalid start token; open the study link again.")
    study = current_app.extensions["study"]
    try:
        session_id = start_session(
            db.get_engine(), study, current_app.extensions["study_stimuli"],
            identity["rater"], identity["platform"], identity["external"],
        )
    except AlreadyTookPart:
        return _already_took_part(study)
    except StudyFull:
        return render_template("message.html", study=study, title="Study full",
                               message="This study has all the participants it needs. Thank you for your interest."), 503
    return redirect(url_for("rater.task", session_id=session_id), 303)


def session_or_404(session_id: str):
    """The session row, or 404 (unknown ids get the same answer as malformed ones)."""
    if not _TOKEN.match(session_id):
        abort(404)
    with db.get_engine().connect() as conn:
        row = conn.execute(select(db.sessions).where(db.sessions.c.id == session_id)).first()
    if row is None:
        abort(404)
    return row


def _amt_submit(row) -> dict | None:
    external = json.loads(row.external)
    if row.platform != "amt":
        return None
    return {"action": external["turkSubmitTo"].rstrip("/") + "/mturk/externalSubmit",
            "assignmentId": external["assignmentId"], "session": row.id}


@bp.get("/s/<session_id>")
def task(session_id: str):
    row = session_or_404(session_id)
    study = current_app.extensions["study"]
    if row.status == "complete":
        return render_template("done.html", study=study, amt=_amt_submit(row))
    if is_expired(row, study, db.now()):
        return render_template("message.html", study=study, title="Session timed out",
                               message="This session was idle too long and has ended. Thank you."), 410
    return render_template("task.html", study=study, session=row)


@bp.get("/img/<token>")
def image(token: str):
    """A trial image: only while its trial is the session's current, shown one."""
    if not _TOKEN.match(token):
        abort(404)
    t, s = db.trials, db.sessions
    with db.get_engine().connect() as conn:
        row = conn.execute(
            select(t, s.c.algorithm, s.c.next_index, s.c.status, s.c.last_seen)
            .join(s, s.c.id == t.c.session_id)
            .where((t.c.left_token == token) | (t.c.right_token == token))
        ).first()
    study = current_app.extensions["study"]
    if (row is None or row.status != "active" or row.idx != row.next_index or row.served_at is None
            or is_expired(row, study, db.now())):
        abort(404)
    stimuli = current_app.extensions["study_stimuli"]
    is_fake = (token == row.left_token) == row.fake_left
    if not is_fake:
        png = encoded_png(stimuli.real[row.real_key], study.protocol.image_size)
    elif row.fake_key.startswith(VIGILANCE_PREFIX):
        png = encoded_png(stimuli.real[row.fake_key[len(VIGILANCE_PREFIX):]], study.protocol.image_size, blur=True)
    else:
        png = encoded_png(stimuli.fakes[row.algorithm][row.fake_key], study.protocol.image_size)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"})

