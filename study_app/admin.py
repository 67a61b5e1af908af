"""The researcher's pages: progress, the live results table, JSON and CSV downloads.

Every view needs the admin token (config ``admin_token`` or the
``P2P_STUDY_ADMIN_TOKEN`` environment variable), as ``Authorization: Bearer
TOKEN`` or ``?token=TOKEN``; without a configured token the pages are off.
"""

import functools
import hmac
import json

from flask import Blueprint, Response, abort, current_app, render_template, request

from study_app import db
from study_app.analysis import answered_trials, study_document, trials_csv
from study_app.assign import slots
from study_app.audit import flag_counts
from study_app.rules import describe
from study_app.site_results import add_site_facts, database_hype_document, records_csv

bp = Blueprint("admin", __name__)

LIVE_RESAMPLES = 2000  # the live table; `p2p-eval study results` uses the full 10,000


def _given_token() -> str:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer "):]
    return request.args.get("token", "")


def admin_required(view):
    """Refuse with 403 unless the request carries the admin token."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        expected = current_app.config.get("ADMIN_TOKEN")
        if not expected or not hmac.compare_digest(_given_token().encode(), expected.encode()):
            abort(403, "Admin token missing or wrong.")
        return view(*args, **kwargs)

    return wrapped


def _document() -> tuple[dict, list]:
    """The live results: the study's fool rates, or its HYPE scores (with every answered trial)."""
    study, engine = current_app.extensions["study"], db.get_engine()
    if study.protocol.task != "2afc":
        return database_hype_document(study, engine, n_resamples=LIVE_RESAMPLES)
    document, rows = study_document(study, engine, n_resamples=LIVE_RESAMPLES)
    add_site_facts(document, study, engine, rows)
    return document, rows


@bp.get("/")
@admin_required
def overview():
    study = current_app.extensions["study"]
    engine = db.get_engine()
    with engine.connect() as conn:
        progress = slots(conn, study, db.now())
    document, _ = _document()
    return render_template(
        "admin.html", study=study, progress=progress, results=document["runs"], kind=document["kind"],
        data=document["data"], timing=document["data"].get("timing"), token=_given_token(),
        flags=flag_counts(engine, study.protocol, study.algorithm_names), rules=describe(study.protocol),
    )


@bp.get("/results.json")
@admin_required
def results_json():
    document, _ = _document()
    return Response(json.dumps(document, indent=2, default=float), mimetype="application/json",
                    headers={"Content-Disposition": "attachment; filename=study-results.json"})


@bp.get("/trials.csv")
@admin_required
def trials_export():
    """Every answered trial: the study's export, or a HYPE study's records file."""
    study = current_app.extensions["study"]
    if study.protocol.task != "2afc":
        text = records_csv(_document()[1])
    else:
        text = trials_csv(answered_trials(db.get_engine()))
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": "attachment; filename=study-trials.csv"})
