"""HYPE on the study site through Flask's test client: presets, the server-side staircase, the qualification,
exclusion rules fixed before data, and `study results` of a HYPE database against the records path."""

import json
import time

import numpy as np
import pytest
from sqlalchemy import select, update

from p2p_eval.cli import main
from p2p_eval.errors import InputError
from study_app import create_app, db
from study_app.config import load_config
from study_app.presentation import PRESETS
from study_helpers import (  # noqa: F401 -- postgres_server: the fixture database_url asks for
    ADMIN_TOKEN, BACKENDS, RaterActions, database_url, make_hype_study, make_study, postgres_server,
)

FRAME_60HZ = 1000 / 60
FAST = "countdown = 0\nmasks = 1\nmask_ms = 17\n"  # hype-time trials without the 1.5 s countdown (tests wait them out)


def _app(config, database: str | None = None):
    """The site on `config`; on `database` (a URL) instead of the config's SQLite file if given."""
    return create_app({"STUDY_CONFIG": str(config), "TESTING": True} | ({"DATABASE_URL": database} if database else {}))


def _truth(app, session_id: str, index: int) -> str:
    with app.extensions["study_engine"].connect() as conn:
        return conn.execute(select(db.trials.c.image).where(
            (db.trials.c.session_id == session_id) & (db.trials.c.idx == index))).scalar_one()


def _run(app, rater: RaterActions, session_id: str, right) -> list[dict]:
    """Answer every trial of a session, right or wrong as `right(index, trial)` says; return the replies."""
    csrf, replies = rater.csrf(session_id), []
    while not (trial := rater.view(session_id))["done"]:
        truth = _truth(app, session_id, trial["index"])
        choice = truth if right(trial["index"], trial) else {"real": "fake", "fake": "real"}[truth]
        reply = rater.answer(session_id, trial["index"], choice, csrf=csrf)
        assert reply.status_code == 200, reply.get_json()
        replies.append(reply.get_json())
        if reply.get_json()["screened"]:
            break
    return replies


def _trials(app, session_id: str) -> list:
    with app.extensions["study_engine"].connect() as conn:
        return conn.execute(select(db.trials).where(db.trials.c.session_id == session_id)
                            .order_by(db.trials.c.idx)).all()


# --- presets ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["zhang-2016", "hype-inf", "hype-time"])
def test_each_preset_is_one_line_and_every_value_overrides(tmp_path, preset):
    config = make_study(tmp_path / "s", n_images=8)
    text = config.read_text()
    protocol_table = text[text.index("[protocol]"):text.index("[real]")]
    config.write_text(text.replace(protocol_table, f'protocol = "{preset}"\n\n'))
    protocol = load_config(config).protocol
    for key, value in PRESETS[preset].items():
        assert getattr(protocol, key) == value, key
    overridden = load_config(make_hype_study(tmp_path / "o", preset, main=12, raters=7)).protocol
    assert (overridden.main_trials, overridden.raters_per_algorithm, overridden.preset) == (12, 7, preset)


def test_hype_presets_are_hypes_protocols(tmp_path):
    inf = load_config(make_hype_study(tmp_path / "i", "hype-inf", main=100)).protocol
    assert (inf.task, inf.main_trials, inf.real_percent, inf.raters_per_algorithm) == ("hype-inf", 100, 50, 30)
    time = load_config(make_hype_study(tmp_path / "t", "hype-time", main=450)).protocol
    assert (time.blocks, time.countdown, time.countdown_ms, time.masks, time.mask_ms, time.feedback) == (
        3, 3, 500, 4, 30, "every")
    assert (time.staircase_start_ms, time.staircase_min_ms, time.staircase_max_ms, time.staircase_up_ms,
            time.staircase_down_ms, time.staircase_n_down) == (500, 100, 1000, 10, 30, 3)
    zhang = PRESETS["zhang-2016"]
    assert (zhang["exposure_ms"], zhang["practice_trials"], zhang["main_trials"], zhang["vigilance_trials"],
            zhang["vigilance"], zhang["raters_per_algorithm"]) == (1000, 10, 40, 4, "random-colour", 40)


@pytest.mark.parametrize("extra, message", [
    ("exposure_ms = 300", r"\[protocol\] exposure_ms: only a 2afc task has it, and this one is task = 'hype-time'"),
    ("blocks = 4", r"blocks: 6 main trials do not split into 4 equal blocks"),
    ("staircase_start_ms = 50", r"staircase_start_ms: expected an integer in \[100.0, 1000.0\]"),
    ("staircase_min_ms = 600", r"Expected 0 < min_ms <= start_ms <= max_ms"),
    ("qualification_trials = 1", r"qualification_trials: a qualification needs real and fake images"),
    ("qualification_min_real = 1.5", r"qualification_min_real: expected a number in \[0.0, 1.0\]"),
    ('feedback = "sometimes"', r"feedback: expected one of \['practice', 'every'\]"),
])
def test_protocol_values_that_cannot_hold_are_refused(tmp_path, extra, message):
    with pytest.raises(InputError, match=message):
        load_config(make_hype_study(tmp_path, "hype-time", protocol_extra=extra))


def test_inf_keys_of_the_staircase_are_refused(tmp_path):
    with pytest.raises(InputError, match=r"masks: only a hype-time task has it"):
        load_config(make_hype_study(tmp_path, "hype-inf", protocol_extra="masks = 2"))


# --- single-image sessions and the staircase ------------------------------------------------------------------


def test_hype_inf_sessions_show_each_input_once_half_real_and_mix_qualification_fakes(tmp_path):
    app = _app(make_hype_study(tmp_path, "hype-inf", algorithms=("A", "B", "C"), main=10,
                               protocol_extra="qualification_trials = 6"))
    for _ in range(3):
        rater = RaterActions(app.test_client())
        trials = _trials(app, rater.start())
        keys = [t.real_key or t.fake_key for t in trials]
        assert len(set(keys)) == len(keys) == 16  # no input twice in a session
        for phase in ("qualification", "main"):  # no feedback: exactly half real, shuffled
            assert [t.image for t in trials if t.phase == phase].count("real") == (3 if phase == "qualification" else 5)
        assert sorted(t.source for t in trials if t.phase == "qualification" and t.image == "fake") == ["A", "B", "C"]
        assert all(t.source is None and t.schedule == '[{"ms": null, "show": ["image"], "cue": ""}]'
                   for t in trials if t.phase == "main")


def test_which_trials_show_a_real_image_follows_from_nothing_a_rater_knows(tmp_path):
    """Same config, seed and session id: the images are the same, which of them is real is not (OS CSPRNG)."""
    from study_app.single import plan_single_session

    protocol = load_config(make_hype_study(tmp_path, "hype-time", main=24, n_images=60,
                                           protocol_extra="qualification_trials = 10")).protocol
    fakes = {"A": [f"frame{i:03d}" for i in range(60)], "B": [f"frame{i:03d}" for i in range(60)]}
    plans = [plan_single_session(protocol, "same-session", fakes["A"], "A", fakes) for _ in range(2)]
    assert [t.image for t in plans[0]] != [t.image for t in plans[1]]  # equal by chance about once in 2**32


def test_a_single_image_answer_needs_its_image_fetched(tmp_path):
    app = _app(make_hype_study(tmp_path, "hype-inf", main=2))
    rater = RaterActions(app.test_client())
    session_id = rater.start()
    response = rater.answer(session_id, 0, "real", wait=False)  # the trial was read, its image never fetched
    assert response.status_code == 422 and "never fetched" in response.get_json()["error"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_staircase_moves_as_specified_on_the_server(tmp_path, backend, request):
    """+10 ms after a wrong answer, -30 ms after three right, from 500 ms, fresh each block; shown in whole
    60 Hz frames (frame_exposure); the page only reports its display, once. On PostgreSQL too: the answer's
    transaction decides the next exposure on the trial routes' own driver connections (study_app/driver.py)."""
    app = _app(make_hype_study(tmp_path, "hype-time", main=12, protocol_extra="blocks = 2\n" + FAST),
               database_url(backend, request))
    client = app.test_client()
    rater = RaterActions(client)
    session_id = rater.start()
    assert rater.trial(session_id) == {"done": False, "display": "needed"}  # nothing is shown before the display
    early = {"index": 0, "choice": "real", "reaction_ms": 500.0, "painted_ms": [], "frame_ms": 16.7, "load_ms": 1.0}
    assert client.post(f"/api/s/{session_id}/answer", json=early,
                       headers={"X-CSRF-Token": rater.csrf(session_id)}).status_code == 409
    assert rater.display(session_id, 50.5).status_code == 422  # 19.8 Hz: outside what the site can time
    assert rater.display(session_id, FRAME_60HZ).get_json() == {"frame_ms": FRAME_60HZ}
    assert rater.display(session_id, 40.0).get_json() == {"frame_ms": FRAME_60HZ}  # fixed: a slower claim is ignored
    script = [False, True, True, True, False, True] + [True, True, True, True, True, True]
    replies = _run(app, rater, session_id, lambda i, trial: script[i])
    trials = _trials(app, session_id)
    # Levels by hand: W +10, R, R, R -30 (three in a row), W +10, R; block 2 starts again at 500.
    assert [t.level_ms for t in trials] == [500, 510, 510, 510, 480, 490, 500, 500, 500, 470, 470, 470]
    assert [t.streak for t in trials] == [0, 0, 1, 2, 0, 0, 0, 1, 2, 0, 1, 2]
    # Shown as whole 16.67 ms frames: 510 -> 31 frames; 480 and 490 -> 29 frames (a +10 step that shows no change).
    assert [t.exposure_frames for t in trials] == [30, 31, 31, 31, 29, 29, 30, 30, 30, 28, 28, 28]
    assert all(t.exposure_ms == pytest.approx(t.exposure_frames * FRAME_60HZ, abs=1e-6) for t in trials)
    steps = [json.loads(t.schedule) for t in trials]
    assert all(s[0] == {"ms": pytest.approx(t.exposure_ms), "show": ["image"], "cue": ""} for s, t in zip(steps, trials))
    assert all(s[1]["show"] == ["mask:0"] and s[1]["ms"] == pytest.approx(FRAME_60HZ) for s in steps)  # 17 -> 1 frame
    assert all(r["feedback"] == {"correct": script[i], "image": _truth(app, session_id, i)} for i, r in enumerate(replies))
    assert [r["pause"] for r in replies] == [None] * 5 + ["block-done"] + [None] * 6
    with app.extensions["study_engine"].connect() as conn:
        masks = conn.execute(select(db.answers.c.mask_frames).where(db.answers.c.session_id == session_id)).scalars()
        assert set(masks) == {"[1]"}


def test_a_reload_replays_the_same_exposure_and_counts_as_a_second_look(tmp_path):
    app = _app(make_hype_study(tmp_path, "hype-time", main=3, protocol_extra=FAST))
    rater = RaterActions(app.test_client())
    session_id = rater.start()
    first = rater.view(session_id)
    again = rater.view(session_id)  # the page reloaded mid-trial
    assert again["schedule"] == first["schedule"] and again["stimulus"]["url"] != first["stimulus"]["url"]
    assert rater.answer(session_id, 0, "fake").status_code == 200
    with app.extensions["study_engine"].connect() as conn:
        assert conn.execute(select(db.answers.c.reexposed)).scalar_one()


# --- qualification ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("wrong_on, admitted", [
    (set(), True),
    ({"real:0"}, True),  # 3 of 4 reals right: 75% >= 65%
    ({"real:0", "real:1"}, False),  # 2 of 4 reals: 50% < 65%, though every fake is right
    ({"fake:0", "fake:1"}, False),  # the same on the fakes
])
def test_qualification_admits_and_refuses_as_specified(tmp_path, wrong_on, admitted, backend, request):
    config = make_hype_study(tmp_path, "hype-inf", main=4, raters=1, protocol_extra="qualification_trials = 8",
                             completion_extra='screened_code = "SCREENED7"')
    app = _app(config, database_url(backend, request))
    client = app.test_client()
    rater = RaterActions(client)
    session_id = rater.start()
    csrf = rater.csrf(session_id)
    seen = {"real": 0, "fake": 0}

    def right(index, trial):
        if index >= 8:
            return True
        image = _truth(app, session_id, index)
        seen[image] += 1
        return f"{image}:{seen[image] - 1}" not in wrong_on

    replies = _run(app, rater, session_id, right)
    page = client.get(f"/s/{session_id}").get_data(as_text=True)
    with app.extensions["study_engine"].connect() as conn:
        status = conn.execute(select(db.sessions.c.status)).scalar_one()
    if admitted:
        assert len(replies) == 12 and replies[7]["pause"] == "qualified" and status == "complete"
        assert "DONE42" in page and "SCREENED7" not in page
    else:
        assert len(replies) == 8 and replies[-1]["done"] and replies[-1]["screened"] and status == "screened"
        assert "SCREENED7" in page and "did not reach the level" in page
        assert rater.trial(session_id) == {"done": True}
        assert rater.answer(session_id, 8, "real", csrf=csrf, wait=False).status_code == 409  # no main trial for them
        # Not admitted, no slot held (raters = 1): the next rater is admitted to the same algorithm.
        assert RaterActions(app.test_client()).start()


def test_a_failed_rater_told_to_return_when_the_qualification_is_unpaid(tmp_path):
    app = _app(make_hype_study(tmp_path, "hype-inf", main=2, protocol_extra="qualification_trials = 2\n"
                               "qualification_pay = false"))
    client = app.test_client()
    rater = RaterActions(client)
    session_id = rater.start("?PROLIFIC_PID=p1&STUDY_ID=s&SESSION_ID=t")
    _run(app, rater, session_id, lambda i, trial: False)
    page = client.get(f"/s/{session_id}").get_data(as_text=True)
    assert "return your submission on Prolific" in page and "DONE42" not in page


# --- exclusion rules, fixed before data ------------------------------------------------------------------------


def test_rules_are_fixed_once_an_answer_is_stored(tmp_path, capsys):
    config = make_hype_study(tmp_path, "hype-inf", main=2)
    assert main(["study", "check", str(config)]) == 0
    out = capsys.readouterr().out
    assert "reexposed: trials shown twice (a reload mid-trial) are left out" in out and "too_fast: off" in out
    app = _app(config)
    config.write_text(config.read_text().replace("[real]", "too_fast_ms = 200\n\n[real]"))
    app = _app(config)  # no answer yet: the rules may still change
    rater = RaterActions(app.test_client())
    session_id = rater.start()
    rater.view(session_id)
    assert rater.answer(session_id, 0, "real").status_code == 200
    app.extensions["study_engine"].dispose()
    config.write_text(config.read_text().replace("too_fast_ms = 200", "too_fast_ms = 100"))
    with pytest.raises(InputError, match=r'too_fast: recorded {"below_ms": 200}, config {"below_ms": 100}'):
        _app(config)
    assert main(["study", "serve", str(config), "--port", "0"]) == 2
    assert "the exclusion rules differ from those fixed when this study started" in capsys.readouterr().err


def test_results_report_what_each_rule_removed(tmp_path, capsys):
    config = make_hype_study(tmp_path, "hype-inf", main=4, protocol_extra="too_fast_ms = 250")
    app = _app(config)
    for n_fast in (0, 1, 4):  # a rater answering too fast on n trials; the last loses every trial
        rater = RaterActions(app.test_client())
        session_id = rater.start()
        csrf = rater.csrf(session_id)
        while not (trial := rater.view(session_id))["done"]:
            reaction = 100.0 if trial["index"] < n_fast else 400.0
            time.sleep(reaction / 1000)  # the reaction it reports: the server bounds it by the time it saw pass
            assert rater.answer(session_id, trial["index"], "fake", csrf=csrf, reaction_ms=reaction,
                                painted_ms=[reaction]).status_code == 200
    assert main(["study", "results", str(config), "--json", str(tmp_path / "r.json"), "--resamples", "100"]) == 0
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["data"]["exclusions"] == {"reexposed": {"trials": 0, "raters": 0},
                                              "too_fast": {"trials": 5, "raters": 1}}
    assert document["protocol"]["exclusion_rules"]["too_fast"] == {"below_ms": 250}
    assert document["protocol"]["settings"]["too_fast_ms"] == 250 and document["protocol"]["settings"]["task"] == "hype-inf"
    assert sum(run["n_trials"] for run in document["runs"]) == 12 - 5
    assert "excluded by rule too_fast: 5 main trial(s), 1 rater(s)" in capsys.readouterr().out


def test_a_trial_painted_off_target_is_flagged_reported_and_left_out_by_the_timing_rule(tmp_path, capsys):
    """HYPE-time, ``exclude_timing_flags = true``: an image painted 3 frames longer than the staircase asked is
    flagged off timing from the page's log, counted in the results' flags and under rule ``timing``, and leaves
    the score; the same trial a frame off (the page's rounding) is kept."""
    config = make_hype_study(tmp_path, "hype-time", main=4,
                             protocol_extra=FAST + "blocks = 1\nexclude_timing_flags = true")
    app = _app(config)
    rater = RaterActions(app.test_client())
    session_id = rater.start()
    csrf = rater.csrf(session_id)
    while not (trial := rater.view(session_id))["done"]:
        painted = [float(step["ms"]) for step in trial["schedule"]]
        painted[0] += {1: 3 * FRAME_60HZ, 2: FRAME_60HZ}.get(trial["index"], 0.0)
        assert rater.answer(session_id, trial["index"], "real", csrf=csrf, painted_ms=painted).status_code == 200
    with app.extensions["study_engine"].connect() as conn:
        flags = conn.execute(select(db.answers.c.off_timing).order_by(db.answers.c.idx)).scalars().all()
    assert flags == [False, True, False, False]
    assert main(["study", "results", str(config), "--json", str(tmp_path / "r.json"), "--resamples", "100"]) == 0
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["data"]["exclusions"]["timing"] == {"trials": 1, "raters": 0}
    assert sum(counts["off_timing"] for counts in document["data"]["trial_flags"].values()) == 1
    assert sum(run["n_trials"] for run in document["runs"]) == 3
    assert "excluded by rule timing: 1 main trial(s), 0 rater(s)" in capsys.readouterr().out


def test_a_2afc_study_reports_its_exclusions_in_the_same_shape(tmp_path):
    config = make_study(tmp_path, practice=0, main=2, vigilance=1, n_images=6)
    app = _app(config)
    for i in range(2):
        rater = RaterActions(app.test_client())
        session_id = rater.start()
        with app.extensions["study_engine"].connect() as conn:
            vigilant = {t.idx: t.fake_left for t in conn.execute(select(db.trials).where(
                db.trials.c.session_id == session_id)) if t.kind == "vigilance"}
        # the second rater misses the vigilance trial: excluded with all of their trials
        rater.complete(session_id, choose=lambda t: ("left" if vigilant[t["index"]] else "right") if
                       t["index"] in vigilant and i == 0 else ("right" if vigilant.get(t["index"]) else "left"))
    assert main(["study", "results", str(config), "--json", str(tmp_path / "r.json"), "--resamples", "100"]) == 0
    exclusions = json.loads((tmp_path / "r.json").read_text())["data"]["exclusions"]
    assert exclusions == {"reexposed": {"trials": 0, "raters": 0}, "vigilance": {"trials": 3, "raters": 1}}


# --- results of a HYPE database: one analysis path -------------------------------------------------------------


@pytest.mark.parametrize("preset", ["hype-inf", "hype-time"])
def test_study_results_of_the_database_equal_the_records_path(tmp_path, preset, capsys):
    """Raters through the site; `study results` on the database, and on the records CSV it exports, give the
    same document scores, intervals and tests."""
    extra = FAST + "staircase_start_ms = 150\nfeedback_ms = 0" if preset == "hype-time" else ""
    config = make_hype_study(tmp_path, preset, main=6, protocol_extra=extra)
    app = _app(config)
    rng = np.random.default_rng(3)
    for _ in range(6):  # 3 raters per algorithm, each right with their own probability
        rater = RaterActions(app.test_client())
        p_right = rng.uniform(0.3, 0.9)
        _run(app, rater, rater.start(), lambda i, trial: rng.random() < p_right)
    database, records = tmp_path / "db.json", tmp_path / "records.json"
    assert main(["study", "results", str(config), "--json", str(database), "--csv", str(tmp_path / "t.csv"),
                 "--resamples", "200"]) == 0
    assert main(["study", "results", "--records", str(tmp_path / "t.csv"), "--protocol", preset, "--json",
                 str(records), "--resamples", "200", "--seed", "0"]) == 0
    ours, theirs = (json.loads(path.read_text()) for path in (database, records))
    assert ours["kind"] == theirs["kind"] == preset
    assert ours["runs"] == theirs["runs"] and ours["comparisons"] == theirs["comparisons"]
    assert [r["n_raters"] for r in ours["runs"]] == [3, 3] and ours["runs"][0]["bootstrap_sd"] > 0
    page = app.test_client().get(f"/admin/?token={ADMIN_TOKEN}").get_data(as_text=True)
    assert "Std. (bootstrap)" in page and ours["runs"][0]["name"] in page
    if preset == "hype-time":
        assert ours["data"]["displays"][0]["hz"] == 60.0
        assert "warning: raters at 60 Hz" in capsys.readouterr().out


def test_admin_page_of_a_hype_study_before_anyone_finished(tmp_path):
    app = _app(make_hype_study(tmp_path, "hype-time", main=3, protocol_extra=FAST))
    client = app.test_client()
    RaterActions(client).start()
    page = client.get(f"/admin/?token={ADMIN_TOKEN}")
    assert page.status_code == 200 and "Exclusion rules" in page.get_data(as_text=True)
    with app.extensions["study_engine"].begin() as conn:  # a session on a 75 Hz display
        conn.execute(update(db.sessions).values(frame_ms=1000 / 75))
    text = client.get(f"/admin/?token={ADMIN_TOKEN}").get_data(as_text=True)
    assert "75 Hz (1 session)" in text and "the 100 ms floor is shown as 106.7 ms" in text


# --- Zhang et al.'s vigilance trials ---------------------------------------------------------------------------


def test_random_colour_vigilance_keeps_the_photos_lightness_with_another_photos_colours(tmp_path):
    from skimage.color import rgb2lab

    from study_app.images import colour_partners, pixels, prepare_stimuli
    from study_app.stimuli import load_stimuli

    config = load_config(make_study(tmp_path, vigilance=1, protocol_extra='vigilance = "random-colour"'))
    stimuli = load_stimuli(config)
    store = prepare_stimuli(config, stimuli)
    partners = colour_partners(list(stimuli.real), config.protocol.seed)
    for key in ("frame001", "frame005"):
        shown = rgb2lab(store.image(("vigilance", key)))
        own, other = (rgb2lab(pixels(stimuli.real[k], 32)) for k in (key, partners[key]))
        assert np.abs(shown[..., 0] - own[..., 0]).mean() < 1.5  # lightness kept (8-bit rounding, gamut clipping)
        assert np.abs(shown[..., 1:] - other[..., 1:]).mean() < np.abs(own[..., 1:] - other[..., 1:]).mean() / 3
