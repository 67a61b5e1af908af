"""Pages raters see: landing (AMT / Prolific / link), the task page, the end, and the stops.

Rater identity comes from the platform's URL parameters (AMT ``workerId``,
Prolific ``PROLIFIC_PID``) or is generated for a plain link. The landing page
signs it into the start form, which doubles as the CSRF token of that POST.
A rater who cannot go on (study full, timed out, taken part before) is told
what to do next on their platform, so they are not penalised for it.
"""

import json
import re
import secrets

from flask import (
    Blueprint, abort, current_app, make_response, redirect, render_template, request, url_for,
)
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from study_app import db
from study_app.assign import AlreadyTookPart, StudyFull, find_session, is_expired, start_session

bp = Blueprint("rater", __name__)

AMT_PREVIEW = "ASSIGNMENT_ID_NOT_AVAILABLE"
AMT_SUBMIT_HOSTS = ("https://www.mturk.com", "https://workersandbox.mturk.com")
_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{22}$")
_START_MAX_AGE_S = 24 * 3600
_RATER_COOKIE = "p2p_study_rater"
_RATER_COOKIE_AGE_S = 180 * 24 * 3600
_LOCAL_ID = re.compile(r"^local:[A-Za-z0-9_\-]{16}$")
# What a rater who cannot continue should do on their platform (AMT_Real_vs_Fake's
# index_template.html: "Please click 'Return HIT' to avoid any impact on your approval rating.").
NEXT_STEPS = {
    "amt": "Please return the HIT (the \u201cReturn\u201d button on Mechanical Turk) to avoid any impact "
           "on your approval rating.",
    "prolific": "Please return your submission on Prolific (\u201cStop without completing\u201d): a returned "
                "submission does not count against you.",
    "local": None,
}


@bp.app_template_filter("duration")
def duration(ms: int) -> str:
    """A duration in words, exactly: ``250`` -> "0.25 seconds", ``1000`` -> "1 second".

    >>> duration(250), duration(1000), duration(1500)
    ('0.25 seconds', '1 second', '1.5 seconds')
    """
    seconds = ms / 1000
    return f"{seconds:g} second{'' if seconds == 1 else 's'}"


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
        return _already_took_part(study, platform)
    token = _signer().dumps({"rater": rater_id, "platform": platform, "external": ids})
    response = make_response(render_template("landing.html", study=study, preview=False, start_token=token))
    if platform == "local":
        response.set_cookie(_RATER_COOKIE, rater_id, max_age=_RATER_COOKIE_AGE_S, httponly=True, samesite="Lax")
    return response


def _stop(study, platform: str, title: str, message: str, status: int):
    """A page for a rater who cannot go on, with their platform's next step."""
    return render_template("message.html", study=study, title=title, message=message,
                           next_steps=NEXT_STEPS[platform]), status


def _already_took_part(study, platform: str):
    return _stop(study, platform, "Thank you",
                 "You have already taken part in this study; each person may take part once.", 403)


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
        return _already_took_part(study, identity["platform"])
    except StudyFull:
        return _stop(study, identity["platform"], "Study full",
                     "This study has all the participants it needs. Thank you for your interest.", 503)
    return redirect(url_for("rater.task", session_id=session_id), 303)


def check_session_id(session_id: str) -> None:
    """404 for an id that cannot be a session's (no query runs for it)."""
    if not _TOKEN.match(session_id):
        abort(404)


def session_or_404(session_id: str):
    """The session row, or 404 (unknown ids get the same answer as malformed ones)."""
    check_session_id(session_id)
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
    if row.status in ("complete", "screened"):  # screened: failed the qualification; paid or told to return
        return render_template("done.html", study=study, amt=_amt_submit(row), screened=row.status == "screened",
                               next_steps=NEXT_STEPS[row.platform])
    if is_expired(row, study, db.now()):
        return _stop(study, row.platform, "Session timed out",
                     "This session was idle too long and has ended. Thank you for your time.", 410)
    return render_template("task.html", study=study, session=row)
