"""The site through Flask's test client: the rater flow, platforms, and every bad request.

Each refused request must get a 4xx and store nothing (`_stored` is compared
before and after).
"""

import re
import time

import pytest
from sqlalchemy import select

from study_app import create_app, db
from study_helpers import (  # noqa: F401
    ADMIN_TOKEN, BACKENDS, RaterActions, app, client, make_study, postgres_server, rater, study_config, wait_out,
)


def _start_token(app, rater_id: str, platform: str) -> str:
    from itsdangerous import URLSafeTimedSerializer

    signer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="study-start")
    return signer.dumps({"rater": rater_id, "platform": platform, "external": {}})


def _stored(app) -> tuple:
    """Everything a request could change: answers, counters, sessions."""
    with app.extensions["study_engine"].connect() as conn:
        answers = conn.execute(select(db.answers).order_by(db.answers.c.session_id, db.answers.c.idx)).all()
        sessions = conn.execute(select(db.sessions.c.id, db.sessions.c.next_index, db.sessions.c.status)).all()
    return tuple(answers), tuple(sorted(sessions))


@pytest.mark.parametrize("app", BACKENDS, indirect=True)
def test_whole_session_feedback_only_in_practice(rater, client, app):
    session_id = rater.start()
    csrf = rater.csrf(session_id)
    trial = rater.trial(session_id)
    assert trial["practice"] and trial["index"] == 0
    assert not {"fake_left", "fake", "correct", "real_key", "fake_key", "kind"} & trial.keys()
    assert trial["schedule"] == [{"ms": 200, "show": ["left", "right"], "cue": ""}]  # no fixation: lead_ms = 0
    replies = []
    while not (trial := rater.view(session_id))["done"]:
        replies.append(rater.answer(session_id, trial["index"], "right", csrf=csrf).get_json())
    assert [r["feedback"] is not None for r in replies] == [True, True, False, False, False, False]
    assert {"correct", "fake", "stimulus"} == replies[0]["feedback"].keys()
    assert replies[-1]["done"] and not any(r["done"] for r in replies[:-1])
    done = client.get(f"/s/{session_id}").get_data(as_text=True)
    assert "DONE42" in done
    answers, sessions = _stored(app)
    assert len(answers) == 6 and sessions[0][1:] == (6, "complete")
    # A completed rater cannot start again.
    assert client.post("/start", data={"start_token": "x"}).status_code == 400


def test_reload_resumes_at_the_same_trial(rater, client, app):
    session_id = rater.start()
    rater.view(session_id)
    assert rater.answer(session_id, 0).status_code == 200
    first = rater.trial(session_id)
    again = rater.trial(session_id)
    assert first["index"] == again["index"] == 1
    # Asking again shows nothing: the same one-time URL (its query only says when the trial left the server).
    token = first["stimulus"]["url"].split("?")[0]
    assert again["stimulus"]["url"].split("?")[0] == token
    assert rater.view(session_id)["stimulus"]["url"].split("?")[0] == token
    assert rater.trial(session_id)["stimulus"]["url"].split("?")[0] != token  # once sent, the URL is spent
    assert rater.start() == session_id  # the same browser (cookie) resumes from the plain link
    assert RaterActions(app.test_client()).start() != session_id  # another browser is another rater


def test_same_platform_id_gets_one_session(rater, client, app):
    query = "?PROLIFIC_PID=pid123&STUDY_ID=st1&SESSION_ID=se1"
    session_id = rater.start(query)
    assert rater.start(query) == session_id  # resumes
    rater.complete(session_id)
    landing = client.get("/" + query)
    assert landing.status_code == 403 and "already taken part" in landing.get_data(as_text=True)
    # A start token signed before the session ended is refused as well.
    token = _start_token(app, "prolific:pid123", "prolific")
    again = client.post("/start", data={"start_token": token})
    assert again.status_code == 403 and "already taken part" in again.get_data(as_text=True)


def test_amt_preview_and_submit_back(rater, client):
    preview = client.get("/?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=H1")
    assert preview.status_code == 200 and 'id="preview"' in preview.get_data(as_text=True)
    assert "start_token" not in preview.get_data(as_text=True)
    query = "?workerId=W1&assignmentId=A1&hitId=H1&turkSubmitTo=https://workersandbox.mturk.com"
    session_id = rater.start(query)
    rater.complete(session_id)
    done = client.get(f"/s/{session_id}").get_data(as_text=True)
    assert 'action="https://workersandbox.mturk.com/mturk/externalSubmit"' in done
    assert 'name="assignmentId" value="A1"' in done
    assert "DONE42" not in done  # AMT takes the submit, no completion code


def _words(response) -> str:
    return " ".join(response.get_data(as_text=True).split())


def test_landing_says_exactly_what_happens(tmp_path):
    config = make_study(tmp_path, practice=1, main=1, exposure_ms=1000,
                        extra='consent = """We study how real generated images look.\n\nYou may stop at any time."""',
                        protocol_extra='presentation = "sequential"')
    text = _words(create_app({"STUDY_CONFIG": str(config)}).test_client().get("/"))
    assert "two photos</strong>, one after the other (first on the left, then on the right), each for 1 second." in text
    assert "The first trial is practice: you will be told whether you were right. The trial after it gives no" in text
    assert "<p>We study how real generated images look.</p><p>You may stop at any time.</p>" in text
    assert "By pressing Start you agree to take part." in text


def test_stops_tell_each_platform_what_to_do(tmp_path):
    app = create_app({"STUDY_CONFIG": str(make_study(tmp_path, algorithms=("A",), raters=1))})
    RaterActions(app.test_client()).start("?PROLIFIC_PID=first&STUDY_ID=s&SESSION_ID=t")  # the one slot
    for query, step in (("?workerId=W2&assignmentId=A2&hitId=H&turkSubmitTo=https://www.mturk.com", "return the HIT"),
                        ("?PROLIFIC_PID=second&STUDY_ID=s&SESSION_ID=t", "return your submission on Prolific"),
                        ("", None)):
        client = app.test_client()  # another browser
        token = re.search(r'name="start_token" value="([^"]+)"', client.get("/" + query).get_data(as_text=True))
        full = client.post("/start", data={"start_token": token.group(1)})
        assert full.status_code == 503 and "Study full" in _words(full)
        assert (step in _words(full)) if step else 'id="next-steps"' not in _words(full)


@pytest.mark.parametrize("query", [
    "?workerId=W1&assignmentId=A1&hitId=H1&turkSubmitTo=https://evil.example",
    "?workerId=../../etc&assignmentId=A1&hitId=H1&turkSubmitTo=https://www.mturk.com",
    "?PROLIFIC_PID=&STUDY_ID=s&SESSION_ID=t",
])
def test_bad_platform_ids_are_refused(client, app, query):
    before = _stored(app)
    assert client.get("/" + query).status_code == 400
    assert _stored(app) == before


@pytest.mark.parametrize("app", BACKENDS, indirect=True)
def test_bad_answers_store_nothing(rater, client, app):
    session_id = rater.start()
    csrf = rater.csrf(session_id)
    url = f"/api/s/{session_id}/answer"
    good = {"index": 0, "choice": "left", "reaction_ms": 300.0, "painted_ms": [200.0], "frame_ms": 16.7,
            "load_ms": 2.0}
    before = _stored(app)
    # Not shown: the trial's images were never fetched.
    assert client.post(url, json=good, headers={"X-CSRF-Token": csrf}).status_code == 422
    viewed = time.perf_counter()
    wait_out(rater.view(session_id)["schedule"], viewed)  # seen: now only what is wrong with a request stops it
    cases = {
        "no csrf": (client.post(url, json=good), 403),
        "wrong csrf": (client.post(url, json=good, headers={"X-CSRF-Token": "x" * 32}), 403),
        "out of order": (client.post(url, json=good | {"index": 1}, headers={"X-CSRF-Token": csrf}), 409),
        "oversized": (client.post(url, data="{" + " " * 10_000 + "}", content_type="application/json",
                                  headers={"X-CSRF-Token": csrf}), 413),
        "not json": (client.post(url, data="index=0", headers={"X-CSRF-Token": csrf}), 415),
        "bad choice": (client.post(url, json=good | {"choice": "up"}, headers={"X-CSRF-Token": csrf}), 400),
        "extra field": (client.post(url, json=good | {"correct": True}, headers={"X-CSRF-Token": csrf}), 400),
        "missing field": (client.post(url, json={k: v for k, v in good.items() if k != "choice"},
                                      headers={"X-CSRF-Token": csrf}), 400),
        "negative time": (client.post(url, json=good | {"reaction_ms": -5}, headers={"X-CSRF-Token": csrf}), 400),
        "string number": (client.post(url, json=good | {"index": "0"}, headers={"X-CSRF-Token": csrf}), 400),
        "step missing": (client.post(url, json=good | {"painted_ms": []}, headers={"X-CSRF-Token": csrf}), 400),
        "step not a number": (client.post(url, json=good | {"painted_ms": ["200"]},
                                          headers={"X-CSRF-Token": csrf}), 400),
        "infinite step": (client.post(url, data='{"index": 0, "choice": "left", "reaction_ms": 1, "painted_ms": '
                                                '[1e999], "frame_ms": 16.7, "load_ms": 1}',
                                      content_type="application/json", headers={"X-CSRF-Token": csrf}), 400),
        "unknown session": (client.post("/api/s/AAAAAAAAAAAAAAAAAAAAAA/answer", json=good,
                                        headers={"X-CSRF-Token": csrf}), 404),
        "malformed session": (client.post("/api/s/..%2F..%2Fetc/answer", json=good), 404),
        "GET on answer": (client.get(url), 405),
    }
    for name, (response, status) in cases.items():
        assert response.status_code == status, (name, response.status_code, response.get_data(as_text=True))
        assert _stored(app) == before, name
    assert client.post(url, json=good, headers={"X-CSRF-Token": csrf}).status_code == 200
    after_first = _stored(app)
    replay = client.post(url, json=good, headers={"X-CSRF-Token": csrf})
    assert replay.status_code == 409 and "already answered" in replay.get_json()["error"]
    assert _stored(app) == after_first
    assert len(after_first[0]) == 1


@pytest.mark.parametrize("path", [
    "/img/../../etc/passwd", "/img/..%2F..%2Fstudy.toml", "/static/../config.py", "/static/..%2f__init__.py",
    "/s/../admin/", "/img/" + "A" * 22, "/s/" + "A" * 22, "/api/s/" + "A" * 22 + "/trial", "/real/frame000.png",
])
def test_no_path_traversal_or_guessing(client, path):
    response = client.get(path)
    assert response.status_code in (400, 404), (path, response.status_code)
    assert b"admin_token" not in response.data and b"import" not in response.data


def test_stimulus_answers_once_for_the_current_trial_only(rater, client):
    session_id = rater.start()
    trial = rater.trial(session_id)
    assert trial["stimulus"]["slots"] == ["left", "right"] and trial["stimulus"]["size"] == 32
    response = client.get(trial["stimulus"]["url"])
    assert response.status_code == 200 and response.mimetype == "application/octet-stream"
    assert len(response.data) == 2 * 32 * 32 * 3  # both images' raw pixels
    assert "no-store" in response.headers["Cache-Control"]
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert client.get(trial["stimulus"]["url"]).status_code == 404  # once
    assert rater.answer(session_id, 0, wait=False).status_code == 422  # sooner than the images are shown
    reloaded = rater.view(session_id)  # a reload: a new URL, a second exposure
    reply = rater.answer(session_id, 0).get_json()
    assert client.get(reloaded["stimulus"]["url"]).status_code == 404  # answered: gone
    feedback = reply["feedback"]["stimulus"]
    assert client.get(feedback).data == reloaded["pixels"]  # practice feedback shows the same images, once
    assert client.get(feedback).status_code == 404
    assert client.get(rater.trial(session_id)["stimulus"]["url"]).status_code == 200


def test_admin_needs_the_token(rater, client):
    rater.complete(rater.start())
    for path in ("/admin/", "/admin/results.json", "/admin/trials.csv"):
        assert client.get(path).status_code == 403
        assert client.get(path + "?token=wrong-token-wrong-token").status_code == 403
        assert client.get(path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200
    page = client.get(f"/admin/?token={ADMIN_TOKEN}").get_data(as_text=True)
    assert "Progress" in page and "% fooled" in page
    csv_text = client.get(f"/admin/trials.csv?token={ADMIN_TOKEN}").get_data(as_text=True)
    assert len(csv_text.strip().splitlines()) == 1 + 6
    document = client.get(f"/admin/results.json?token={ADMIN_TOKEN}").get_json()
    assert document["kind"] == "study" and sum(r["n_raters"] for r in document["runs"]) == 1


def test_pages_carry_security_headers(client):
    response = client.get("/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"



def test_timed_out_session_is_refused_and_unchanged(rater, client, app):
    session_id = rater.start()
    csrf = rater.csrf(session_id)
    trial = rater.view(session_id)
    unseen = rater.trial(session_id)["stimulus"]["url"]
    with app.extensions["study_engine"].begin() as conn:
        conn.execute(db.sessions.update().where(db.sessions.c.id == session_id).values(last_seen=0.0))
    before = _stored(app)
    assert client.get(f"/api/s/{session_id}/trial").status_code == 410
    assert rater.answer(session_id, 0, csrf=csrf).status_code == 410
    assert client.get(unseen).status_code == 404
    assert client.get(f"/s/{session_id}").status_code == 410
    assert _stored(app) == before


def test_server_processes_of_one_study_accept_each_others_start_forms(study_config):
    # Several gunicorn workers: a landing page from one, the Start press to another.
    from study_app import create_app

    first, second = (create_app({"STUDY_CONFIG": str(study_config)}).test_client() for _ in range(2))
    landing = first.get("/").get_data(as_text=True)
    token = re.search(r'name="start_token" value="([^"]+)"', landing).group(1)
    assert second.post("/start", data={"start_token": token}).status_code == 303
