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
from study_app.trials import VIGILANCE_PREFIX, plan_session
from study_helpers import RaterActions, make_hype_study, make_study

CHANCE_P = 1e-4  # a two-sided binomial p below this means the attacker beats a coin


def _app(config):
    return create_app({"STUDY_CONFIG": str(config), "TESTING": True})


# --- a bot claiming a human reaction time ---------------------------------------------------------------------


def test_a_bot_answering_as_the_image_arrives_is_too_fast_whatever_reaction_it_claims(tmp_path, capsys):
    """HYPE-inf shows each image until the answer, so no answer is ever refused for coming soon. A bot that
    fetches the image and answers within a few ms, claiming a 900 ms reaction (within the 1 s the `implausible`
    flag then allowed), used to pass `too_fast_ms = 250`: the rule read the page's claim. The server saw the answer
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
    assert len(stored) == 12 and sum(ms < 250 for ms, _ in stored) == 6  # the bot's six: answered within 250 ms ...
    # ... and its claims are implausible: 900 ms that never passed (a fixed 1 s allowance let them through)
    assert sorted(implausible for _, implausible in stored) == [False] * 6 + [True] * 6
    counts = flag_counts(engine, app.extensions["study"].protocol, ("A", "B"))
    assert sorted(c["excluded"] for c in counts.values() if c["trials"]) == [0, 6]
    assert main(["study", "results", str(config), "--json", str(tmp_path / "r.json"), "--resamples", "100"]) == 0
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["data"]["exclusions"]["too_fast"] == {"trials": 6, "raters": 1}
    assert sum(run["n_trials"] for run in document["runs"]) == 6  # the person's trials only


# --- exclusion rules changed after data ------------------------------------------------------------------------


@pytest.mark.parametrize("task", ["2afc", "hype-inf"])
def test_study_results_refuses_rules_changed_after_data(tmp_path, capsys, task):
    """The site refuses to start once answers are stored under other rules, but `study results` re-scored the
    answers under whatever the config said when it ran, and reported those rules as the study's: an experimenter
    (or anyone with the config) could keep a reloaded look, or drop fast raters, after seeing the data."""
    if task == "2afc":
        config = make_study(tmp_path, practice=0, main=2)
    else:
        config = make_hype_study(tmp_path, "hype-inf", main=2)
    app = _app(config)
    rater = RaterActions(app.test_client())
    session_id = rater.start()
    csrf = rater.csrf(session_id)
    for index in range(2):
        rater.view(session_id)
        if index == 0:
            rater.view(session_id)  # a reload: excluded by the recorded rules
        time.sleep(0.3)
        assert rater.answer(session_id, index, "left" if task == "2afc" else "real", csrf=csrf,
                            reaction_ms=250.0).status_code == 200
    app.extensions["study_engine"].dispose()
    original = config.read_text()
    out = tmp_path / "r.json"
    config.write_text(original.replace("[real]", "exclude_reexposed = false\ntoo_fast_ms = 100\n\n[real]"))
    capsys.readouterr()
    assert main(["study", "results", str(config), "--json", str(out), "--resamples", "100"]) == 2
    err = capsys.readouterr().err
    assert "the exclusion rules differ from those fixed when this study started" in err
    assert "reexposed: recorded true, config false" in err
    assert 'too_fast: recorded null, config {"below_ms": 100}' in err
    assert not out.exists()
    config.write_text(original)  # the recorded rules: scored, the reloaded trial left out
    assert main(["study", "results", str(config), "--json", str(out), "--resamples", "100"]) == 0
    document = json.loads(out.read_text())
    assert document["protocol"]["exclusion_rules"]["reexposed"] is True
    assert document["data"]["exclusions"]["reexposed"] == {"trials": 1, "raters": 0}


# --- a script that remembers every image it was sent -----------------------------------------------------------


def _truths(app, session_id: str) -> dict[int, tuple[str, bool]]:
    with app.extensions["study_engine"].connect() as conn:
        return {t.idx: (t.kind, t.fake_left) for t in conn.execute(
            select(db.trials.c.idx, db.trials.c.kind, db.trials.c.fake_left)
            .where(db.trials.c.session_id == session_id))}


@pytest.mark.parametrize("preset", [None, "zhang-2016"])
def test_a_script_remembering_the_images_gains_nothing_from_the_vigilance_trials(tmp_path, preset):
    """A vigilance trial pairs a real photo with an obviously altered one. The photo used to be drawn from all
    the study's photos, so it was often one that a scored trial of the same session showed as its real side: a
    script that keeps the bytes of every image it was sent, and picks as fake the side it has *not* seen before,
    was right on every such trial (about one scored trial in eight here). Now no image is sent twice in a session,
    and the script scores at chance over 200 scored trials."""
    if preset is None:  # blurred vigilance photos
        config = make_study(tmp_path, practice=0, main=8, vigilance=4, n_images=16, exposure_ms=17)
    else:  # random-colour vigilance photos (the photo itself, recoloured)
        config = make_hype_study(tmp_path, preset, main=8, n_images=16, protocol_extra="exposure_ms = 17\nlead_ms = 0")
    app = _app(config)
    size = app.extensions["study_store"].image_bytes
    recognised = right = right_recognised = scored = 0
    chance = random.Random(1)
    while scored < 200:
        rater = RaterActions(app.test_client())
        session_id = rater.start()
        csrf, seen, picks = rater.csrf(session_id), set(), {}
        while not (trial := rater.view(session_id))["done"]:
            left, right_side = trial["pixels"][:size], trial["pixels"][size:]
            if left in seen or right_side in seen:  # a photo sent before is a real one: the other side is fake
                picks[trial["index"]] = ("right" if left in seen else "left", True)
            else:
                picks[trial["index"]] = (chance.choice(["left", "right"]), False)
            seen |= {left, right_side}
            assert rater.answer(session_id, trial["index"], picks[trial["index"]][0], csrf=csrf).status_code == 200
        for index, (kind, fake_left) in _truths(app, session_id).items():
            if kind == "normal":
                choice, known = picks[index]
                scored += 1
                recognised += known
                right += choice == ("left" if fake_left else "right")
                right_recognised += known and choice == ("left" if fake_left else "right")
    assert recognised == 0, f"{recognised} of {scored} scored trials showed a photo sent before, {right_recognised} right"
    assert stats.binomtest(right, scored, 0.5).pvalue > CHANCE_P, (right, scored)


@pytest.mark.parametrize("pairing", ["paired", "unpaired"])
def test_no_image_is_planned_twice_in_a_2afc_session_with_vigilance_trials(tmp_path, pairing):
    """The same property over many planned sessions (a photo a session shows nowhere else for every vigilance
    trial, when the study has two to spare)."""
    config = make_study(tmp_path, practice=2, main=8, vigilance=4, n_images=24, pairing=pairing)
    protocol = load_config(config).protocol
    keys = [f"frame{i:03d}" for i in range(24)]
    for n in range(200):
        plan = plan_session(protocol, f"session{n}", keys, keys)
        normal = {key for t in plan if t.kind == "normal" for key in (t.real_key, t.fake_key)}
        vigilance = {key.removeprefix(VIGILANCE_PREFIX) for t in plan if t.kind == "vigilance"
                     for key in (t.real_key, t.fake_key)}
        assert len(plan) == 14 and vigilance and normal.isdisjoint(vigilance), plan


def test_study_check_warns_when_too_few_photos_are_left_for_the_vigilance_trials(tmp_path, capsys):
    config = make_study(tmp_path, practice=2, main=8, vigilance=2, n_images=11)
    assert main(["study", "check", str(config)]) == 0
    assert "a vigilance trial may show a scored trial's real photo again" in capsys.readouterr().out
    config = make_study(tmp_path / "enough", practice=2, main=8, vigilance=2, n_images=12)
    assert main(["study", "check", str(config)]) == 0
    assert "vigilance trial may show" not in capsys.readouterr().out


# --- HYPE-time without feedback: the staircase tells which answers were right -----------------------------------

_NO_FEEDBACK_STAIRCASE = ('feedback = "practice"\nblocks = 1\ncountdown = 0\nmasks = 1\nmask_ms = 17\n'
                          "staircase_start_ms = 100\n")


def _exposure(trial: dict) -> float:
    return next(step["ms"] for step in trial["schedule"] if step["show"] == ["image"])


def _counted(known: list[str], n: int) -> str | None:
    """What a rater who knows the block holds exactly half reals, and what its earlier images were, concludes."""
    for image in ("real", "fake"):
        if known.count(image) == n // 2:
            return "fake" if image == "real" else "real"
    return None


def test_a_rater_reading_the_staircase_without_feedback_cannot_count_the_blocks_reals(tmp_path):
    """HYPE-time with ``feedback = "practice"`` tells nothing after an answer, but the next trial's exposure rises
    10 ms after a wrong answer and not after a right one (on a 250 Hz display every step shows in the schedule
    the page is sent). So a rater knows what each earlier image of the block was; the main blocks held exactly half
    reals (as phases without feedback do), and the last image of each block followed by counting: right on every
    such trial. Now a staircase's trials are real or fake each on their own: the count tells nothing."""
    n = 4
    config = make_hype_study(tmp_path, "hype-time", main=n, raters=100, protocol_extra=_NO_FEEDBACK_STAIRCASE)
    app = _app(config)
    counted = right = 0
    chance = random.Random(2)
    for _ in range(40):
        rater = RaterActions(app.test_client())
        session_id = rater.start()
        assert rater.display(session_id, 4.0).status_code == 200
        csrf, known, previous = rater.csrf(session_id), [], None
        while not (trial := rater.view(session_id))["done"]:
            assert trial.get("feedback") is None
            if previous is not None:  # the exposure rose: the last answer was wrong
                wrong = _exposure(trial) > _exposure(previous[0])
                known.append({"real": "fake", "fake": "real"}[previous[1]] if wrong else previous[1])
            choice = _counted(known, n) if trial["index"] == n - 1 else None
            guess = choice or chance.choice(["real", "fake"])
            reply = rater.answer(session_id, trial["index"], guess, csrf=csrf)
            assert reply.status_code == 200 and reply.get_json()["feedback"] is None
            previous = (trial, guess)
        with app.extensions["study_engine"].connect() as conn:
            truth = conn.execute(select(db.trials.c.image).where(db.trials.c.session_id == session_id)
                                 .order_by(db.trials.c.idx)).scalars().all()
        assert known == truth[:n - 1]  # the staircase told every earlier image (inherent to a staircase)
        if choice is not None:
            counted += 1
            right += choice == truth[-1]
    assert counted >= 20 and stats.binomtest(right, counted, 0.5).pvalue > CHANCE_P, (right, counted)


def test_no_count_of_a_staircase_block_tells_its_last_image(tmp_path):
    """The same over 400 planned sessions: knowing every earlier image of the block, counting does no better
    than a coin on the last one (it was right on all 400 when the blocks held exactly half reals)."""
    config = make_hype_study(tmp_path, "hype-time", main=4, protocol_extra=_NO_FEEDBACK_STAIRCASE)
    protocol = load_config(config).protocol
    keys = [f"frame{i:03d}" for i in range(24)]
    counted = right = 0
    for n in range(400):
        images = [t.image for t in plan_single_session(protocol, f"s{n}", keys, "A", {"A": keys, "B": keys})]
        if (choice := _counted(images[:-1], 4)) is not None:
            counted += 1
            right += choice == images[-1]
    assert counted >= 200 and stats.binomtest(right, counted, 0.5).pvalue > CHANCE_P, (right, counted)


# --- answers dropped by a config edited after data ------------------------------------------------------------


def test_study_results_refuses_a_config_that_lost_a_rated_algorithm(tmp_path, capsys):
    """The 2AFC results score the config's algorithms: one removed from the config after data had its raters'
    answers left out without a word (the table just had one row fewer)."""
    config = make_study(tmp_path, practice=0, main=2)
    app = _app(config)
    for _ in range(2):  # one rater per algorithm
        rater = RaterActions(app.test_client())
        rater.complete(rater.start())
    app.extensions["study_engine"].dispose()
    text = config.read_text()
    config.write_text(text.replace('\n[[algorithms]]\nname = "B"\nimages = "fake_B"\n', ""))
    out = tmp_path / "r.json"
    capsys.readouterr()
    assert main(["study", "results", str(config), "--json", str(out), "--resamples", "100"]) == 2
    assert "sessions of algorithms the config does not list: 'B' (1 session(s))" in capsys.readouterr().err
    assert not out.exists()
    config.write_text(text)
    assert main(["study", "results", str(config), "--json", str(out), "--resamples", "100"]) == 0
    assert sum(run["n_trials"] for run in json.loads(out.read_text())["runs"]) == 4


# --- a longer look hidden behind a claimed slow display ---------------------------------------------------------


@pytest.mark.parametrize("preset", [None, "hype-time"])
def test_a_longer_look_is_off_timing_whatever_frame_period_the_page_claims(tmp_path, preset):
    """Off timing means more than 1.5 display frames off target, with the frame period the page reports in each
    answer (0.1-1000 ms accepted). A page kept the image up 1 s longer than asked, logged it as painted, and
    claimed 1000 ms frames: not off timing, and not implausible either (its timeline was true). The tolerance now
    stops at the longest frame the site accepts (50 ms, 20 Hz)."""
    if preset is None:
        config = make_study(tmp_path, practice=0, main=2, exposure_ms=200)
    else:
        config = make_hype_study(tmp_path, preset, main=2,
                                  protocol_extra="blocks = 1\ncountdown = 0\nmasks = 1\nmask_ms = 17\n")
    app = _app(config)
    rater = RaterActions(app.test_client())
    session_id = rater.start()
    csrf = rater.csrf(session_id)
    for index, frame_ms in enumerate((1000.0, 40.0)):  # the claimed slow display, then a real 25 Hz one
        trial = rater.view(session_id)
        steps = trial["schedule"]
        longer = [step["ms"] + (1000.0 if step["show"] and "mask:0" not in step["show"] else 0.0)
                  if step["ms"] is not None else 300.0 for step in steps]
        time.sleep(sum(longer) / 1000 + 0.3)  # the look (and the 300 ms reaction) really last that long: the
        # page's timeline is true
        assert rater.answer(session_id, index, "left" if preset is None else "real", csrf=csrf, wait=False,
                            painted_ms=longer, frame_ms=frame_ms, reaction_ms=300.0, load_ms=2.0).status_code == 200
    with app.extensions["study_engine"].connect() as conn:
        flags = conn.execute(select(db.answers.c.off_timing, db.answers.c.implausible).order_by(db.answers.c.idx)).all()
    assert [tuple(f) for f in flags] == [(True, False), (True, False)]


# --- a compressing proxy -----------------------------------------------------------------------------------------


def test_stimuli_tell_proxies_not_to_compress_them(tmp_path):
    """Raw pixels have one length per study, but a proxy or CDN that gzips responses makes a smooth image the
    shorter one: for a single-image trial the transferred size alone then says real or fake. Every stimulus
    response (trial and practice feedback) says ``no-transform``, which such proxies honour."""
    config = make_study(tmp_path, practice=1, main=1, exposure_ms=17)
    app = _app(config)
    client = app.test_client()
    rater = RaterActions(client)
    session_id = rater.start()
    trial = rater.trial(session_id)
    sent = client.get(trial["stimulus"]["url"])
    reply = rater.answer(session_id, 0, "left")
    feedback = client.get(reply.get_json()["feedback"]["stimulus"])
    for response in (sent, feedback):
        assert response.status_code == 200 and "Content-Encoding" not in response.headers
        assert "no-transform" in response.headers["Cache-Control"].split(", ")


# --- a longer look logged as the exposure, within a fixed allowance for latency ----------------------------------

_SHORT_HYPE_TIME = "blocks = 1\ncountdown = 1\nmasks = 1\nmask_ms = 17\n"


def _presets(tmp_path, preset: str):
    """A one-algorithm-per-session study of 2 main trials: simultaneous 2AFC (200 ms), pix2pix-2017 (sequential)
    or HYPE-time (a short one: one countdown number, one mask)."""
    if preset == "simultaneous":
        return make_study(tmp_path, practice=0, main=2, exposure_ms=200)
    return make_hype_study(tmp_path, preset, main=2, protocol_extra=_SHORT_HYPE_TIME if preset == "hype-time" else "")


def _trial_over_a_link(client, rater, session_id: str, csrf: str, *, one_way_s: float, answer_up_s: float,
                       longer_look_s: float = 0.0) -> None:
    """One trial as a page `one_way_s` away from the server sees it: the trial travels down, the stimulus request
    up (the page's load clock runs from here), the stimulus down; the schedule plays (its image held
    `longer_look_s` longer than asked), 300 ms to answer, and the answer takes `answer_up_s` to arrive. The page
    logs every step as requested and its true load and reaction times."""
    trial = rater.trial(session_id)
    if trial.get("display") == "needed":
        assert rater.display(session_id, 1000 / 60, csrf=csrf).status_code == 200
        trial = rater.trial(session_id)
    time.sleep(one_way_s)
    requested = time.perf_counter()
    time.sleep(one_way_s)
    assert client.get(trial["stimulus"]["url"]).status_code == 200
    time.sleep(one_way_s)
    load_ms = (time.perf_counter() - requested) * 1000
    painted = [float(step["ms"]) for step in trial["schedule"]]
    time.sleep(sum(painted) / 1000 + longer_look_s + 0.3 + answer_up_s)
    body = {"index": trial["index"], "choice": trial["choices"][0], "reaction_ms": 300.0, "painted_ms": painted,
            "frame_ms": 1000 / 60, "load_ms": load_ms}
    reply = client.post(f"/api/s/{session_id}/answer", json=body, headers={"X-CSRF-Token": csrf})
    assert reply.status_code == 200, reply.get_json()


def _timing_flags(app) -> list[tuple[bool, bool]]:
    with app.extensions["study_engine"].connect() as conn:
        rows = conn.execute(select(db.answers.c.off_timing, db.answers.c.implausible).order_by(db.answers.c.idx))
        return [tuple(row) for row in rows]


@pytest.mark.parametrize("preset", ["simultaneous", "pix2pix-2017", "hype-time"])
def test_a_look_900_ms_longer_logged_as_the_exposure_is_flagged(tmp_path, preset):
    """A page (devtools: the hide step's timer delayed) keeps its image up 900 ms longer than asked and logs it
    painted as asked, with a true 300 ms reaction. The server saw 900 ms pass that the page does not account
    for; a fixed 1 s allowance for network latency (`PLAUSIBLE_GAP_MS`) let it through: for pix2pix-2017 a
    1.9 s look at a 1 s exposure, for HYPE-time a 500 ms exposure seen for 1.4 s. The allowance is now the
    trial's own measured round trip (here a few ms) times three plus 300 ms: implausible."""
    app = _app(_presets(tmp_path, preset))
    client = app.test_client()
    rater = RaterActions(client)
    session_id = rater.start()
    csrf = rater.csrf(session_id)
    _trial_over_a_link(client, rater, session_id, csrf, one_way_s=0.0, answer_up_s=0.0)  # an honest look first
    _trial_over_a_link(client, rater, session_id, csrf, one_way_s=0.0, answer_up_s=0.0, longer_look_s=0.9)
    assert _timing_flags(app) == [(False, False), (False, True)]


@pytest.mark.parametrize("preset", ["simultaneous", "pix2pix-2017", "hype-time"])
def test_an_honest_page_on_a_slow_link_is_not_flagged(tmp_path, preset):
    """The other side of the allowance: a page 250 ms from the server (a 500 ms round trip), first with every
    request taking that long, then with the answer taking 1.45 s to arrive (a new TLS connection: two more round
    trips and a bit), so 1.2 s pass that the page cannot account for. A fixed 1 s allowance flagged the second
    trial; three of the trial's own round trips allow it."""
    app = _app(_presets(tmp_path, preset))
    client = app.test_client()
    rater = RaterActions(client)
    session_id = rater.start()
    csrf = rater.csrf(session_id)
    _trial_over_a_link(client, rater, session_id, csrf, one_way_s=0.25, answer_up_s=0.25)
    _trial_over_a_link(client, rater, session_id, csrf, one_way_s=0.25, answer_up_s=1.45)
    assert _timing_flags(app) == [(False, False), (False, False)]
    with app.extensions["study_engine"].connect() as conn:
        round_trips = conn.execute(select(db.trials.c.request_ms).order_by(db.trials.c.idx)).scalars().all()
    # The server measured the link: at least the two 250 ms legs slept, and not the 1.45 s answer leg (which would
    # give >= 1950). A tighter ceiling (800 was) would time the test machine: a loaded 2-core CI box adds that.
    assert all(500 <= ms < 1500 for ms in round_trips), round_trips


def test_a_backdated_stimulus_url_widens_no_allowance(tmp_path):
    """The time in the stimulus URL is signed: a page that backdates it (to claim a slow link) gets no round trip
    measured, and the margin alone."""
    app = _app(make_study(tmp_path, practice=0, main=1, exposure_ms=200))
    client = app.test_client()
    rater = RaterActions(client)
    session_id = rater.start()
    url = rater.trial(session_id)["stimulus"]["url"]
    sent = url.split("sent=")[1].split("-")[0]
    assert client.get(url.replace(f"sent={sent}", f"sent={int(sent) - 5000}")).status_code == 200
    with app.extensions["study_engine"].connect() as conn:
        assert conn.execute(select(db.trials.c.request_ms)).scalar_one() is None


def test_an_unpaired_session_shows_no_scene_both_as_a_fake_and_as_a_real_photo(tmp_path, capsys):
    """Unpaired trials drew their real photos from every key, so a scene a session showed as one trial's fake
    was often another trial's real photo (with 24 keys and 12 trials, 6 scenes of 12 in every session on average):
    the rater then had the same scene real and generated, to compare across trials. With at least twice as many
    keys as trials, no scene is shown both ways; with fewer, `study check` warns."""
    config = make_study(tmp_path, practice=2, main=10, n_images=24, pairing="unpaired")
    protocol = load_config(config).protocol
    keys = [f"frame{i:03d}" for i in range(24)]
    for n in range(400):
        plan = plan_session(protocol, f"session{n}", keys, keys)
        reals, fakes = {t.real_key for t in plan}, {t.fake_key for t in plan}
        assert len(reals) == len(fakes) == 12 and reals.isdisjoint(fakes)
    assert main(["study", "check", str(config)]) == 0
    assert "unpaired sessions show" not in capsys.readouterr().out
    config = make_study(tmp_path / "few", practice=2, main=10, n_images=23, pairing="unpaired")
    assert main(["study", "check", str(config)]) == 0
    assert "a scene shown as one trial's fake may be another trial's real photo" in capsys.readouterr().out
