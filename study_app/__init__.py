"""The perceptual-study site: an app factory, as in Flask's tutorial.

Production: ``p2p-eval study serve CONFIG`` (waitress), or any WSGI server with
``P2P_STUDY_CONFIG=study.toml gunicorn 'study_app:create_app()'``.
"""

import hashlib
import os
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

CONFIG_ENV = "P2P_STUDY_CONFIG"
SECRET_KEY_ENV = "P2P_STUDY_SECRET_KEY"
MAX_REQUEST_BYTES = 4096  # an answer is ~200 bytes; anything far larger is refused (413)

_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self' https://www.mturk.com https://workersandbox.mturk.com; "
    "base-uri 'none'; frame-ancestors 'self' https://*.mturk.com"
)


_SECURITY_HEADERS = (("Content-Security-Policy", _CSP), ("X-Content-Type-Options", "nosniff"),
                     ("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-store"))


class _SecurityHeaders:
    """WSGI middleware: every response gets the site's security headers, and ``no-store`` unless it sets its
    own Cache-Control (or any of the others). An ``after_request`` hook that did the same through
    Werkzeug's header objects cost a quarter of what a trial route's own work does."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            present = {name.lower() for name, _ in headers}
            return start_response(status, headers + [h for h in _SECURITY_HEADERS if h[0].lower() not in present],
                                  exc_info)

        return self.app(environ, start)


def _secret_key(admin_token: str | None) -> str:
    """The key that signs start forms: the same in every server process of a study.

    From ``P2P_STUDY_SECRET_KEY``, else derived from the (secret) admin token,
    else random (then only one server process can serve the study).
    """
    if os.environ.get(SECRET_KEY_ENV):
        return os.environ[SECRET_KEY_ENV]
    if admin_token:
        return hashlib.sha256(f"p2p-study-start:{admin_token}".encode()).hexdigest()
    return secrets.token_urlsafe(32)


def _no_session_cookie():
    from flask.sessions import SessionInterface

    class NoSessionCookie(SessionInterface):
        """The site keeps its state in the database, none in Flask's signed session cookie, so no
        request opens or signs one (that cost more than a trial's database work)."""

        def open_session(self, app, request):
            return None  # Flask then uses a null session

        def save_session(self, app, session, response):
            pass

    return NoSessionCookie()


def create_app(test_config: Mapping[str, Any] | None = None) -> "Flask":
    """Build the study app.

    Parameters
    ----------
    test_config : mapping, optional
        Overrides: ``STUDY_CONFIG`` (path of the study TOML), ``DATABASE_URL``,
        ``ADMIN_TOKEN``, ``SECRET_KEY``. Without it the study file comes from
        the ``P2P_STUDY_CONFIG`` environment variable.

    Returns
    -------
    Flask
    """
    from flask import Flask

    from study_app.config import load_config
    from study_app.images import prepare_stimuli
    from study_app.stimuli import load_stimuli

    app = Flask(__name__)
    app.config.from_mapping(MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES, STUDY_CONFIG=os.environ.get(CONFIG_ENV))
    if test_config is not None:
        app.config.update(test_config)
    if not app.config["STUDY_CONFIG"]:
        raise RuntimeError(f"Set {CONFIG_ENV} to the study's TOML file (or pass STUDY_CONFIG).")
    study = load_config(app.config["STUDY_CONFIG"])
    app.config.setdefault("DATABASE_URL", study.database_url)
    app.config.setdefault("ADMIN_TOKEN", study.admin_token)
    if not app.config.get("SECRET_KEY"):  # Flask's default is None
        app.config["SECRET_KEY"] = _secret_key(app.config["ADMIN_TOKEN"])
    app.extensions["study"] = study
    app.extensions["study_stimuli"] = stimuli = load_stimuli(study)
    app.extensions["study_store"] = prepare_stimuli(study, stimuli)  # every image's pixels, once per study

    from study_app import admin, api, db, rater

    app.session_interface = _no_session_cookie()
    db.init_app(app)
    from study_app.rules import record_rules

    record_rules(app.extensions["study_engine"], study.protocol, str(study.path))  # or refuse changed rules
    app.register_blueprint(rater.bp)
    app.register_blueprint(api.bp, url_prefix="/api")
    app.register_blueprint(admin.bp, url_prefix="/admin")

    app.wsgi_app = _SecurityHeaders(app.wsgi_app)
    return app
