"""Study config, trial plans, image encoding, assignment and database constraints."""

import random
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from p2p_eval.cli import main
from p2p_eval.errors import InputError
from study_app import db
from study_app.assign import AlreadyTookPart, StudyFull, start_session
from study_app.config import DATABASE_URL_ENV, Protocol, load_config
from study_app.images import pixels, prepare_stimuli
from study_app.stimuli import load_stimuli
from study_app.trials import VIGILANCE_PREFIX, plan_session
from study_helpers import BACKENDS, database_url, make_study, postgres_server  # noqa: F401

from conftest import make_prepared_dataset, make_run


# --- config -----------------------------------------------------------------------------------

def test_config_defaults_are_the_papers(tmp_path):
    path = make_study(tmp_path)
    text = path.read_text()
    for key in ("exposure_ms", "practice_trials", "main_trials", "raters_per_algorithm", "image_size"):
        text = "\n".join(line for line in text.splitlines() if not line.startswith(key))
    path.write_text(text)
    protocol = load_config(path).protocol
    assert (protocol.exposure_ms, protocol.practice_trials, protocol.main_trials) == (1000, 10, 40)
    assert (protocol.raters_per_algorithm, protocol.image_size, protocol.vigilance_trials) == (50, 256, 0)


@pytest.mark.parametrize("edit, message", [
    (("exposure_ms = 200", "exposure_ms = 0"), r"\[protocol\] exposure_ms: expected an integer in"),
    (("exposure_ms = 200", 'exposure_ms = "fast"'), r"\[protocol\] exposure_ms: expected an integer"),
    (('pairing = "paired"', 'pairing = "pairs"'), r"\[protocol\] pairing: expected one of"),
    (("main_trials = 4", "main_trials = 4\nmain_trails = 5"), r"main_trails: unknown key"),
    (('images = "real"', 'images = "nowhere"'), r"\[real\] images: .*nowhere is not a folder"),
    (('name = "B"', 'name = "A"'), r"algorithms: names must be unique"),
    (('admin_token = "admin-token-for-tests-0123456789"', 'admin_token = "short"'), r"admin_token: use at least 16"),
    (("[real]", "[reel]"), r"\[real\] must be a table|real: missing"),
    (("title", "title = = "), r"not valid TOML"),
])
def test_config_errors_name_file_and_key(tmp_path, edit, message):
    path = make_study(tmp_path)
    path.write_text(path.read_text().replace(*edit, 1))
    with pytest.raises(InputError, match=message) as err:
        load_config(path)
    assert str(path) in str(err.value)


def _with_protocol(tmp_path, protocol: str) -> Path:
    """make_study's folders with the [protocol] table (or top-level `protocol`) replaced."""
    path = make_study(tmp_path)
    text = path.read_text()
    head, rest = text.split("[protocol]\n", 1)
    path.write_text(head + protocol + "\n\n[real]" + rest.split("[real]", 1)[1])
    return path


def test_pix2pix_2017_preset_is_the_authors_protocol(tmp_path):
    from study_app.presentation import schedule

    protocol = load_config(_with_protocol(tmp_path, 'protocol = "pix2pix-2017"')).protocol
    assert (protocol.preset, protocol.presentation, protocol.exposure_ms, protocol.lead_ms, protocol.gap_ms) == (
        "pix2pix-2017", "sequential", 1000, 900, 600)
    assert (protocol.practice_trials, protocol.main_trials, protocol.raters_per_algorithm) == (10, 40, 50)
    assert (protocol.vigilance_trials, protocol.feedback_ms, protocol.pairing) == (0, 2400, "paired")
    steps = schedule(protocol.presentation, exposure_ms=protocol.exposure_ms, lead_ms=protocol.lead_ms,
                     gap_ms=protocol.gap_ms)
    assert [(s.ms, s.show) for s in steps] == [(900, ()), (1000, ("left",)), (600, ()), (1000, ("right",)), (100, ())]
    # Every value overrides the preset; another presentation brings its own timings.
    table = '[protocol]\npreset = "pix2pix-2017"\nexposure_ms = 500\npairing = "unpaired"'
    protocol = load_config(_with_protocol(tmp_path / "b", table)).protocol
    assert (protocol.exposure_ms, protocol.pairing, protocol.main_trials, protocol.gap_ms) == (500, "unpaired", 40, 600)
    table = '[protocol]\npreset = "pix2pix-2017"\npresentation = "simultaneous"'
    protocol = load_config(_with_protocol(tmp_path / "c", table)).protocol
    assert (protocol.presentation, protocol.lead_ms, protocol.gap_ms) == ("simultaneous", 500, None)
    assert load_config(make_study(tmp_path / "d")).protocol.presentation == "simultaneous"  # no preset: as before


@pytest.mark.parametrize("protocol, message", [
    ('protocol = "pix2pix-2016"', r"\[protocol\] preset: expected one of \['hype-inf', 'hype-time', 'pix2pix-2017', 'zhang-2016'\]"),
    ('[protocol]\npresentation = "sideways"', r"presentation: expected one of \['simultaneous', 'sequential'\]"),
    ('[protocol]\ngap_ms = 300', r"gap_ms: only a sequential presentation has a gap"),
    ('[protocol]\npresentation = "sequential"\ngap_ms = -1', r"gap_ms: expected an integer in \[0, 60000\]"),
    ('[protocol]\nexclude_reexposed = "yes"', r"exclude_reexposed: expected bool"),
])
def test_protocol_errors_name_the_key(tmp_path, protocol, message):
    with pytest.raises(InputError, match=message):
        load_config(_with_protocol(tmp_path, protocol))


def test_check_counts_images_and_refuses_too_few(tmp_path, capsys):
    path = make_study(tmp_path, n_images=8, practice=2, main=4)
    assert main(["study", "check", str(path)]) == 0
    assert "OK. 8 real images; A: 8 images, B: 8 images" in capsys.readouterr().out
    path.write_text(path.read_text().replace("main_trials = 4", "main_trials = 7"))
    assert main(["study", "check", str(path)]) == 2
    assert "'A' has 8 images, fewer than the 9 practice + main" in capsys.readouterr().err
    path.write_text(path.read_text().replace("main_trials = 7", "main_trials = 4"))
    (tmp_path / "fake_B" / "frame003.png").write_bytes(b"not a png")
    assert main(["study", "check", str(path)]) == 2
    assert "frame003.png" in capsys.readouterr().err


def test_paired_fake_without_real_is_named(tmp_path):
    path = make_study(tmp_path)
    (tmp_path / "real" / "frame005.png").unlink()
    with pytest.raises(InputError, match=r"'A' has 1 image\(s\) with no real photo .*frame005"):
        load_stimuli(load_config(path))


def test_init_template_checks_once_images_exist(tmp_path, capsys):
    assert main(["study", "init", str(tmp_path / "s")]) == 0
    config = tmp_path / "s" / "study.toml"
    assert main(["study", "check", str(config)]) == 2  # the template's folders do not exist yet
    assert "[real] images" in capsys.readouterr().err
    reference = make_study(tmp_path / "ref", algorithms=("l1", "l1_cgan"), n_images=50)
    for name in ("real", "fake_l1", "fake_l1_cgan"):
        (tmp_path / "s" / name).symlink_to(reference.parent / name)
    assert main(["study", "check", str(config)]) == 0
    assert main(["study", "init", str(tmp_path / "s")]) == 2  # never overwrites


def test_runs_and_prepared_dataset_as_sources(tmp_path):
    data = make_prepared_dataset(tmp_path / "data", splits={"val": 6})
    runs = [make_run(tmp_path / "runs" / name, data, quality=q) for name, q in (("l1", "noise"), ("cgan", "perfect"))]
    from study_app.demo import write_demo_config

    config = load_config(write_demo_config(runs, data, "val", tmp_path / "demo"))
    stimuli = load_stimuli(config)
    assert config.algorithm_names == ("l1", "cgan")
    assert set(stimuli.real) == set(stimuli.fakes["cgan"]) == {f"city_{i:06d}_000019" for i in range(6)}
    assert stimuli.real["city_000000_000019"].name == "city_000000_000019_photo.png"
    assert (config.protocol.practice_trials, config.protocol.main_trials) == (2, 4)


# --- trial plans --------------------------------------------------------------------------------

def _images(plan) -> list:
    return [(t.phase, t.real_key, t.fake_key) for t in plan if t.kind == "normal"]


def test_plans_are_deterministic_and_valid():
    keys = [f"k{i}" for i in range(60)]
    protocol = Protocol(practice_trials=10, main_trials=40, vigilance_trials=5, seed=3)
    plan = plan_session(protocol, "session-1", keys, keys, chance=random.Random(0))
    assert plan == plan_session(protocol, "session-1", list(reversed(keys)), keys, chance=random.Random(0))
    # Which images follow from seed and session id; sides and vigilance places from `chance` alone.
    assert _images(plan) == _images(plan_session(protocol, "session-1", keys, keys))
    assert plan != plan_session(protocol, "session-1", keys, keys, chance=random.Random(1))
    assert _images(plan) != _images(plan_session(protocol, "session-2", keys, keys))
    assert _images(plan) != _images(plan_session(
        Protocol(practice_trials=10, main_trials=40, vigilance_trials=5, seed=4), "session-1", keys, keys))
    assert len(plan) == 55 and [t.index for t in plan] == list(range(55))
    assert all(t.phase == "practice" and t.kind == "normal" for t in plan[:10])
    vigilance = [t for t in plan if t.kind == "vigilance"]
    assert len(vigilance) == 5 and all(t.phase == "main" and t.fake_key.startswith(VIGILANCE_PREFIX) for t in vigilance)
    assert all(t.fake_key[len(VIGILANCE_PREFIX):] != t.real_key for t in vigilance)
    normal = [t for t in plan if t.kind == "normal"]
    assert all(t.real_key == t.fake_key for t in normal)  # paired
    assert len({t.fake_key for t in normal}) == 50  # each fake once


def test_unpaired_plans_never_pair_and_sides_balance():
    keys = [f"k{i}" for i in range(12)]
    protocol = Protocol(pairing="unpaired", practice_trials=2, main_trials=10)
    sides = Counter()
    for s in range(200):
        plan = plan_session(protocol, f"s{s}", keys, keys, chance=random.Random(s))
        assert all(t.real_key != t.fake_key for t in plan)
        assert len({t.real_key for t in plan}) == len({t.fake_key for t in plan}) == 12
        sides.update(t.fake_left for t in plan)
    assert abs(sides[True] / (sides[True] + sides[False]) - 0.5) < 0.03


# --- images -------------------------------------------------------------------------------------

def test_stimuli_are_bare_pixels_of_one_size(tmp_path):
    rng = np.random.default_rng(0)
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "pix2pix generator v2")
    real = tmp_path / "real.png"
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(real, pnginfo=info)
    fake = tmp_path / "fake.jpg"
    Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).convert("L").save(fake, quality=90)
    assert Image.open(real).info.get("Software")
    a, b = pixels(real, 32), pixels(fake, 32)
    assert a.shape == b.shape == (32, 32, 3) and a.dtype == b.dtype == np.uint8
    blurred = pixels(real, 32, blur=True).astype(float)
    assert blurred.std() < 0.5 * a.astype(float).std()


def test_stimulus_file_is_built_once_and_rebuilt_when_an_image_changes(tmp_path):
    config = load_config(make_study(tmp_path, vigilance=1))
    stimuli = load_stimuli(config)
    store = prepare_stimuli(config, stimuli)
    (cache,) = (tmp_path / ".p2p-study-cache").glob("*.rgb")
    # real, A and B images, and a blurred copy of each real (vigilance): 4 x 8 images of 32x32x3 bytes
    assert cache.stat().st_size == 4 * 8 * 32 * 32 * 3
    np.testing.assert_array_equal(store.image(("fake", "A", "frame003")), pixels(stimuli.fakes["A"]["frame003"], 32))
    assert len(store.stimulus([("real", "frame001"), ("vigilance", "frame002")])) == 2 * 32 * 32 * 3
    mtime = cache.stat().st_mtime_ns
    prepare_stimuli(config, stimuli)
    assert cache.stat().st_mtime_ns == mtime  # reused, not rebuilt
    path = stimuli.real["frame001"]
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(path)
    store = prepare_stimuli(config, load_stimuli(config))
    (rebuilt,) = (tmp_path / ".p2p-study-cache").glob("*.rgb")  # the stale file is gone
    assert rebuilt != cache and not store.image(("real", "frame001")).any()


# --- assignment and the database ------------------------------------------------------------------

@pytest.fixture(params=BACKENDS)
def study(request, tmp_path, monkeypatch):
    url = database_url(request.param, request)
    if url:
        monkeypatch.setenv(DATABASE_URL_ENV, url)
    config = load_config(make_study(tmp_path, algorithms=("A", "B", "C"), raters=2, timeout_s=60))
    engine = db.make_engine(config.database_url)
    db.init_db(engine)
    return config, load_stimuli(config), engine


def _algorithms(engine) -> Counter:
    with engine.connect() as conn:
        return Counter(r.algorithm for r in conn.execute(select(db.sessions.c.algorithm)))


def test_assignment_fills_evenly_then_refuses(study):
    config, stimuli, engine = study
    for i in range(6):
        start_session(engine, config, stimuli, f"r{i}", "local", {})
        counts = _algorithms(engine)
        assert max(counts.values()) - min(counts.get(a, 0) for a in "ABC") <= 1
    assert _algorithms(engine) == Counter({"A": 2, "B": 2, "C": 2})
    with pytest.raises(StudyFull):
        start_session(engine, config, stimuli, "r6", "local", {})


def test_abandoned_session_frees_its_slot_and_its_rater_cannot_return(study):
    config, stimuli, engine = study
    ids = [start_session(engine, config, stimuli, f"r{i}", "local", {}) for i in range(6)]
    assert start_session(engine, config, stimuli, "r0", "local", {}) == ids[0]  # resumes
    with engine.begin() as conn:
        conn.execute(update(db.sessions).where(db.sessions.c.id == ids[0]).values(last_seen=time.time() - 61))
        freed = conn.execute(select(db.sessions.c.algorithm).where(db.sessions.c.id == ids[0])).scalar()
    new = start_session(engine, config, stimuli, "late", "local", {})
    with engine.connect() as conn:
        assert conn.execute(select(db.sessions.c.algorithm).where(db.sessions.c.id == new)).scalar() == freed
    with pytest.raises(AlreadyTookPart):
        start_session(engine, config, stimuli, "r0", "local", {})


def test_database_stores_each_answer_and_rater_once(study):
    config, stimuli, engine = study
    session_id = start_session(engine, config, stimuli, "r0", "local", {})
    row = {"session_id": session_id, "idx": 0, "choice": "left", "correct": True, "reaction_ms": 1.0,
           "exposure_ms": 1000.0, "exposure_frames": 60, "frame_ms": 16.7, "painted_ms": "[1000.0]",
           "load_ms": 3.0, "server_ms": 1800.0, "reexposed": False, "off_timing": False, "implausible": False,
           "received_at": 0.0}
    with engine.begin() as conn:
        conn.execute(insert(db.answers).values(**row))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(db.answers).values(**row))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(db.sessions).values(
            id="x" * 22, rater_id="r0", platform="local", algorithm="A", status="active", csrf="c",
            next_index=0, n_trials=1, external="{}", created_at=0.0, last_seen=0.0))
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert len(conn.execute(select(db.answers)).all()) == 1


def test_results_before_any_answer_and_busy_port_are_clear_errors(tmp_path, capsys):
    import socket

    path = make_study(tmp_path)
    assert main(["study", "results", str(path), "--json", str(tmp_path / "r.json")]) == 2
    assert "no study database yet" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["study", "serve", str(path), "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    assert main(["study", "serve", str(path), "--port", "0", "--workers", "2"]) == 2
    assert "--workers 2 needs a PostgreSQL `database`" in capsys.readouterr().err
