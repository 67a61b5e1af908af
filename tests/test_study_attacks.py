"""Red-team attacks on the study site that earlier tests did not cover, each as a scripted dishonest rater.

Through the Flask test client: a bot that answers HYPE-inf images a few ms after they
arrive while claiming a human reaction time; `study results` run with exclusion rules
changed after data; a script that remembers every image it was sent and recognises a
real photo shown again; a HYPE-time rater without feedback who reads the staircase's
exposure to learn whether each answer was right and counts the block's reals.
"""

import json
import random
import time

import pytest
from scipy import stats
from sqlalchemy import select

from p2p_eval.cli import main
from study_app import create_app, db
from study_app.audit import flag_counts
from study_app.config import load_config
from study_app.single import plan_single_session
from study_app.trials import plan_session
from study_app.presentation import schedule_ms
from study_helpers import RaterActions, honest_timing, make_hype_study, make_study

CHANCE_P = 1e-4  # a two-sided binomial p below this means the attacker beats a coin


def _app(config):
    return create_app({"STUDY_CONFIG": str(config), "TESTING": True})


# --- a bot claiming a human reaction time ---------------------------------------------------------------------


def test_a_bot_answering_as_the_image_arrives_is_too_fast_whatever_reaction_it_claims(tmp_path, capsys):
    """HYPE-inf shows each image until the answer, so no answer is ever refused for coming soon. A bot that
    fetches the image and answers within a few ms, claiming a 900 ms reaction (within the 1 s the `implausible`
    flag allows), used to pass `too_fast_ms = 250`: the rule read the page's claim. The server saw the answer
    arrive a few ms after the image left, so the response cannot have been open 250 ms."""
    config = make_hype_study(tmp_path, "hype-inf", main=6, protocol_extra="too_fast_ms = 250")
    app = _app(config)
    for bot in (True, False):
        rater = RaterActions(app.test_client())
        session_id = rater.start()
        csrf = rater.csrf(session_id)
        while not (trial := rater.view(session_id))["done"]:
            if not bot:
                time.sleep(0.4)  # a person: looks, then answers
            reply = rater.answer(session_id, trial["index"], "fake", csrf=csrf, reaction_ms=900.0 if bot else 400.0,
                                 painted_ms=[900.0 if bot else 400.0])
            assert reply.status_code == 200, reply.get_json()
    engine = app.extensions["study_engine"]
    with engine.connect() as conn:
        stored = conn.execute(select(db.answers.c.server_ms, db.answers.c.implausible)).all()
    assert len(stored) == 12 and sum(ms < 100 for ms, _ in stored) == 6  # the bot's six: answered within 100 ms ...
    assert not any(implausible for _, implausible in stored)  # ... and not implausible: the claim is within 1 s
    counts = flag_counts(engine, app.extensions["study"].protocol, ("A", "B"))
    assert sorted(c["excluded"] for c in counts.values() if c["trials"]) == [0, 6]
    assert main(["study", "results", str(config), "--json", str(tmp_path / "r.json"), "--resamples", "100"]) == 0
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["data"]["exclusions"]["too_fast"] == {"trials": 6, "raters": 1}
    assert sum(run["n_trials"] for run in document["runs"]) == 6  # the person's trials only
