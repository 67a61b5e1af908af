"""Dishonest raters: each trick that used to work now scores at chance, is refused, or is flagged.

Sides from the seed (leak 1), answers without looking (4), a reload as a second look (5) and
a forged exposure (6), through the Flask test client on SQLite and PostgreSQL. The network
layer (2) is tested against the real server in test_study_network.py, what the page paints (3)
in Chromium in test_study_browser.py.
"""

import json
import time

import numpy as np
import pytest
from scipy import stats
from sqlalchemy import select

from p2p_eval.cli import main
from study_app import create_app, db
from study_app.audit import flag_counts, kept_rows
from study_app.trials import session_rng
from study_helpers import (  # noqa: F401
    ADMIN_TOKEN, BACKENDS, RaterActions, app, client, honest_timing, make_study, postgres_server, rater,
    study_config, wait_out,
)

CHANCE_P = 1e-4  # a two-sided binomial p below this means the predictor beats a coin


def _sides(app, session_id: str) -> list[bool]:
    with app.extensions["study_engine"].connect() as conn:
        return list(conn.execute(select(db.trials.c.fake_left).where(db.trials.c.session_id == session_id)
                                 .order_by(db.trials.c.idx)).scalars())


def _old_plan_sides(seed: int, session_id: str, fake_keys: list[str], n: int) -> list[bool]:
    """Which side was fake under the old planner: replayed from the seed and the session id in the URL."""
    rng = session_rng(seed, session_id)
    rng.choice(sorted(fake_keys), size=n, replace=False)
    return list(rng.integers(0, 2, size=n).astype(bool))


def test_sides_follow_from_nothing_a_rater_knows(tmp_path):
    # Two fresh databases, the same config and seed, the same rater: the sides differ.
    config = make_study(tmp_path / "s", n_images=50, practice=10, main=40)
    apps = [create_app({"STUDY_CONFIG": str(config), "DATABASE_URL": f"sqlite:///{tmp_path / f'{i}.sqlite'}"})
            for i in range(2)]
    first, second = (_sides(a, RaterActions(a.test_client()).start("?PROLIFIC_PID=same&STUDY_ID=s&SESSION_ID=t"))
                     for a in apps)
    assert len(first) == len(second) == 50 and first != second
    # A predictor given the config, the seed and the session ids (in the raters' URLs) replays the
    # planner: over 400 trials it does no better than a coin.
    hits = total = 0
    for i in range(8):
        session_id = RaterActions(apps[0].test_client()).start()
        actual = _sides(apps[0], session_id)
        predicted = _old_plan_sides(0, session_id, [f"frame{k:03d}" for k in range(50)], len(actual))
        hits += sum(p == a for p, a in zip(predicted, actual))
        total += len(actual)
    # (Against the planner before this change, which drew the sides from `session_rng`, it scored 400/400.)
    assert total == 400
    assert stats.binomtest(hits, total, 0.5).pvalue > CHANCE_P, hits


@pytest.mark.parametrize("app", BACKENDS, indirect=True)
def test_an_answer_needs_the_images_fetched_and_shown(app, client, rater):
    session_id = rater.start()
    csrf = rater.csrf(session_id)
    trial = rater.trial(session_id)  # a bot: the trial, never its images
    refused = rater.answer(session_id, 0, csrf=csrf, wait=False)
    assert refused.status_code == 422 and "never fetched" in refused.get_json()["error"]
    viewed = time.perf_counter()
    assert client.get(trial["stimulus"]["url"]).status_code == 200
    refused = rater.answer(session_id, 0, csrf=csrf, wait=False)  # fetched, answered at once
    assert refused.status_code == 422 and "sooner than they are shown" in refused.get_json()["error"]
    with app.extensions["study_engine"].connect() as conn:
        assert conn.execute(select(db.answers)).first() is None
    wait_out(trial["schedule"], viewed)
    body = {"index": 0, "choice": "left"} | honest_timing(trial["schedule"], (time.perf_counter() - viewed) * 1000)
    assert client.post(f"/api/s/{session_id}/answer", json=body, headers={"X-CSRF-Token": csrf}).status_code == 200


def _flags(app) -> list[tuple]:
    with app.extensions["study_engine"].connect() as conn:
        return conn.execute(select(db.answers.c.idx, db.answers.c.reexposed, db.answers.c.off_timing,
                                   db.answers.c.implausible).order_by(db.answers.c.idx)).all()


@pytest.mark.parametrize("app", BACKENDS, indirect=True)
def test_a_reload_is_a_second_exposure_and_leaves_the_results(app, client, rater, study_config, tmp_path, capsys):
    session_id = rater.start()
    csrf = rater.csrf(session_id)
    for index in range(6):
        rater.view(session_id)
        if index == 3:
            rater.view(session_id)  # reload mid-trial: the images are sent again
        assert rater.answer(session_id, index, csrf=csrf).status_code == 200
    with app.extensions["study_engine"].connect() as conn:
        views = conn.execute(select(db.trials.c.views).order_by(db.trials.c.idx)).scalars().all()
    assert views == [1, 1, 1, 2, 1, 1]
    assert [row.reexposed for row in _flags(app)] == [False, False, False, True, False, False]
    counts = flag_counts(app.extensions["study_engine"], app.extensions["study"].protocol, ("A", "B"))
    algorithm = next(name for name, c in counts.items() if c["trials"])
    assert counts[algorithm] == {"reexposed": 1, "off_timing": 0, "implausible": 0, "excluded": 1, "trials": 4}
    page = client.get(f"/admin/?token={ADMIN_TOKEN}").get_data(as_text=True)
    assert f"<td>{algorithm}</td><td>4</td><td>1</td><td>0</td><td>0</td><td>1</td>" in page
    if not app.config.get("DATABASE_URL", "").startswith("postgresql"):
        assert main(["study", "results", str(study_config), "--json", str(tmp_path / "r.json"), "--resamples", "100"]) == 0
        assert "main trials: 4; re-exposed 1, off timing 0, implausible 0; excluded 1" in capsys.readouterr().out
        scored = {r["name"]: r for r in json.loads((tmp_path / "r.json").read_text())["runs"]}[algorithm]
        assert scored["n_trials"] == 3  # the re-exposed trial left the score
    # The results drop it by default; `exclude_reexposed = false` keeps it.
    rows = [{"phase": "main", "reexposed": r.reexposed, "off_timing": r.off_timing, "implausible": r.implausible}
            for r in _flags(app) if r.idx >= 2]
    protocol = app.extensions["study"].protocol
    assert len(kept_rows(rows, protocol)) == 3
    assert len(kept_rows(rows, type(protocol)(exclude_reexposed=False))) == 4


def test_a_forged_exposure_is_flagged(app, rater):
    session_id = rater.start()
    csrf = rater.csrf(session_id)
    rater.view(session_id)  # honest
    assert rater.answer(session_id, 0, csrf=csrf).status_code == 200
    rater.view(session_id)  # a 2 s look reported as the 200 ms exposure and a short reaction
    time.sleep(2.0)
    assert rater.answer(session_id, 1, csrf=csrf, reaction_ms=300.0).status_code == 200
    rater.view(session_id)  # a page that painted 250 ms of a 200 ms exposure (3 frames over)
    assert rater.answer(session_id, 2, csrf=csrf, painted_ms=[250.0]).status_code == 200
    assert [tuple(r)[1:] for r in _flags(app)] == [(False, False, False), (False, False, True), (False, True, False)]
    with app.extensions["study_engine"].connect() as conn:
        server_ms = conn.execute(select(db.answers.c.server_ms).order_by(db.answers.c.idx)).scalars().all()
    assert server_ms[1] > 2000 and np.all(np.array(server_ms) >= 200 - 50)  # the server's own view, stored
