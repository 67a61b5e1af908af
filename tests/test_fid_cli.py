"""``p2p-eval fid`` end to end: parity with torch-fidelity, the whole-split reference, cache, torchrun, bad input."""

import csv
import json
import shutil

import pytest
from conftest import make_prepared_dataset, make_run
from scoring_helpers import single_and_torchrun
from weights_factory import write_random_weights

import p2p_eval
from p2p_eval.cache import cache_path_for
from p2p_eval.cli import main
from p2p_eval.data.files import read_rgb
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.features.inception import load_inception
from p2p_eval.measures.fid.measure import Fid
from p2p_eval.metrics.frechet import frechet_distance, gaussian_stats
from p2p_eval.metrics.frechet_infinity import frechet_infinity
from p2p_eval.metrics.kernel import kernel_distance
from p2p_eval.results import Results, load_results

N_VAL = 8


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    return write_random_weights(tmp_path_factory.mktemp("weights") / "inception-random.pth", "fid-inception")


@pytest.fixture
def workspace(tmp_path):
    """Two runs (the photos themselves, noise) on a dataset of 8 val frames."""
    data = make_prepared_dataset(tmp_path / "data", splits={"train": 2, "val": N_VAL})
    make_run(tmp_path / "runs" / "photos", data)
    make_run(tmp_path / "runs" / "noise", data, quality="noise")
    return tmp_path


def _fid(workspace, inception_file, *args, out="fid.json"):
    code = main(["fid", *map(str, args), "--features", str(inception_file), "--batch-size", "4", "--workers", "1",
                 "--resamples", "100", "--quiet", "--json", str(workspace / out)])
    assert code == 0
    return load_results(workspace / out)


def _library_features(inception_file, paths, protocol="clean"):
    return load_inception(inception_file)([read_rgb(p) for p in paths], protocol=protocol, batch_size=4)


def test_fid_and_kid_equal_torch_fidelity_on_the_same_folders(workspace, inception_file):
    from torch_fidelity import calculate_metrics

    document = _fid(workspace, inception_file, workspace / "runs" / "noise", "--resize", "legacy-tf1", "--kid",
                    "--kid-subset-size", "5", "--kid-subsets", "10")
    photos = workspace / "photos"
    photos.mkdir()
    for path in (workspace / "data" / "val").glob("*_photo.png"):
        shutil.copy(path, photos / path.name)
    theirs = calculate_metrics(
        input1=str(workspace / "runs" / "noise" / "images" / "val"), input2=str(photos), fid=True, kid=True,
        kid_subsets=10, kid_subset_size=5, cuda=False, cache=False, verbose=False, batch_size=4,
        feature_extractor_weights_path=str(inception_file))
    (entry,) = document["runs"]
    # torch-fidelity sums the float32 features in float32 (README: 1.4e-6 at 32 images).
    assert entry["fid"] == pytest.approx(theirs["frechet_inception_distance"], rel=1e-4)
    assert entry["kid"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-5)
    assert entry["kid_std"] == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-4)
    assert entry["kid_std"] > 1e-3 * abs(entry["kid"])  # subsets of 5 of 8 frames differ: a real spread
    assert document["protocol"]["resize"] == "legacy-tf1" and document["protocol"]["kid"]["seed"] == 2020


def test_the_reference_is_the_whole_split_whatever_frames_a_run_has(workspace, inception_file, caplog):
    data = PreparedDataset.load(workspace / "data")
    frames = data.frames("val")
    noise = workspace / "runs" / "noise" / "images" / "val"
    for frame in frames[5:]:
        (noise / f"{frame}.png").unlink()  # this run has 5 of the 8 frames
    document = _fid(workspace, inception_file, workspace / "runs", "--allow-missing", "--baseline", "photos")
    by_name = {e["name"]: e for e in document["runs"]}
    photos = [data.path("val", f, "photo") for f in frames]
    reference = gaussian_stats(_library_features(inception_file, photos))
    fake = _library_features(inception_file, [noise / f"{f}.png" for f in frames[:5]])
    assert by_name["noise"]["n_images"] == 5 and document["data"]["reference"]["n_frames"] == N_VAL
    assert by_name["noise"]["fid"] == pytest.approx(frechet_distance(gaussian_stats(fake), reference), rel=1e-6)
    assert by_name["photos"]["fid"] == pytest.approx(0.0, abs=1e-6)  # the reference itself
    low, high = by_name["noise"]["intervals"]["fid"]
    assert low < by_name["noise"]["fid"] < high  # centred: the point is inside, bias or not
    test = by_name["noise"]["baseline_test"]
    assert test["n_frames"] == 5
    assert test["fid"]["difference"] == pytest.approx(by_name["noise"]["fid"] - frechet_distance(
        gaussian_stats(_library_features(inception_file, photos[:5])), reference), rel=1e-6)
    assert "different numbers of frames" in caplog.text and "biased upward at small N" in caplog.text
    warnings = by_name["noise"]["warnings"]
    assert any("FID from 5 images (< 2000)" in w for w in warnings) and any("singular" in w for w in warnings)
    assert document["protocol"]["features"]["published"] is False
    assert len(document["protocol"]["features"]["sha256"]) == 64
    assert document["protocol"]["bootstrap"]["centred"] == ["fid"]


def test_features_are_cached_per_run_and_per_dataset(workspace, inception_file, monkeypatch):
    computed = []
    update = Fid.update

    def counting(self, batch, *, batch_size):
        computed.append(len(batch))
        return update(self, batch, batch_size=batch_size)

    monkeypatch.setattr(Fid, "update", counting)
    first = _fid(workspace, inception_file, workspace / "runs" / "photos", out="a.json")
    assert sum(computed) == 2 * N_VAL  # the run, then the whole split's photos
    assert cache_path_for(workspace / "data").is_file() and cache_path_for(workspace / "runs" / "photos").is_file()
    computed.clear()
    again = _fid(workspace, inception_file, workspace / "runs", out="b.json")  # a second run added
    assert sum(computed) == N_VAL  # only the new run's images
    assert again["runs"][[e["name"] for e in again["runs"]].index("photos")]["fid"] == first["runs"][0]["fid"]
    computed.clear()
    frame = PreparedDataset.load(workspace / "data").frames("val")[0]
    image = workspace / "runs" / "noise" / "images" / "val" / f"{frame}.png"
    image.write_bytes((workspace / "data" / "val" / f"{frame}_photo.png").read_bytes())  # one image changed
    _fid(workspace, inception_file, workspace / "runs", out="c.json")
    assert sum(computed) == 1
    computed.clear()
    _fid(workspace, inception_file, workspace / "runs", "--resize", "legacy-pytorch-fid", out="d.json")
    assert sum(computed) == 3 * N_VAL  # another resize protocol: other features, none reused


def test_split_half_ground_truth_from_the_library(workspace, inception_file):
    results = p2p_eval.score("fid", workspace / "runs" / "noise", with_real=True, features=str(inception_file),
                             batch_size=4, workers=0, progress=False)
    real = next(e for e in results.runs if e.is_real)
    assert real.scores["fid"] > 0 and real.n_images == N_VAL and "split-half" in results.protocol["real_row"]
    noise = next(e for e in results.runs if not e.is_real)
    assert noise.scores["fid"] > real.scores["fid"]


def test_kid_equals_the_library_with_torch_fidelitys_seed(workspace, inception_file, capsys):
    document = _fid(workspace, inception_file, workspace / "runs" / "noise", "--kid")
    (entry,) = document["runs"]
    data = PreparedDataset.load(workspace / "data")
    fake = _library_features(inception_file, sorted((workspace / "runs" / "noise" / "images" / "val").glob("*.png")))
    real = _library_features(inception_file, [data.path("val", f, "photo") for f in data.frames("val")])
    kid = kernel_distance(fake, real, seed=2020)
    assert (entry["kid"], entry["kid_std"], entry["kid_subset_size"]) == pytest.approx((kid.mean, kid.std, N_VAL))
    assert any("KID subset size reduced from 1000 to 8" in w for w in entry["warnings"])
    assert any("std over subsets is 0" in w for w in entry["warnings"])
    out = capsys.readouterr().out
    assert "FID (lower is better)" in out and "KID" in out and "std over 100 subsets of 8 frames" in out


def test_bad_input_is_named(workspace, inception_file, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("P2P_EVAL_INCEPTION", raising=False)
    runs = str(workspace / "runs")
    assert main(["fid", runs, "--quiet"]) == 2
    assert "No FID Inception weights file given" in capsys.readouterr().err
    assert main(["fid", runs, "--features", str(tmp_path / "nope.pth"), "--quiet"]) == 2
    assert "nope.pth: no such file" in capsys.readouterr().err
    alexnet = write_random_weights(tmp_path / "alexnet.pth", "alex")
    assert main(["fid", runs, "--features", str(alexnet), "--quiet"]) == 2
    assert "it holds torchvision AlexNet weights" in capsys.readouterr().err
    noise = workspace / "runs" / "noise" / "images" / "val"
    for image in sorted(noise.iterdir())[1:]:
        image.unlink()
    code = main(["fid", str(workspace / "runs" / "noise"), "--allow-missing", "--features", str(inception_file),
                 "--quiet", "--workers", "0"])
    assert code == 2 and "FID needs at least 2 frames per run" in capsys.readouterr().err
    one = make_prepared_dataset(tmp_path / "one", splits={"val": 1})
    make_run(tmp_path / "single", one)
    assert main(["fid", str(tmp_path / "single"), "--features", str(inception_file), "--quiet"]) == 2
    assert "has 1 real photo(s)" in capsys.readouterr().err


INFINITY = ("--infinity", "--infinity-min-size", "4", "--infinity-points", "3")
"""FID-infinity at sizes 4, 6 and 8 of the 8 frames: 3 FIDs of 2048-d statistics per run."""


def test_fid_infinity_is_the_librarys_on_the_same_features_with_the_sessions_seed(workspace, inception_file, capsys,
                                                                                  caplog):
    document = _fid(workspace, inception_file, workspace / "runs" / "noise", *INFINITY, "--seed", "7",
                    "--csv", workspace / "fid.csv")
    (entry,) = document["runs"]
    data = PreparedDataset.load(workspace / "data")
    frames = data.frames("val")  # the session's row order: the split's
    fake = _library_features(inception_file, [workspace / "runs" / "noise" / "images" / "val" / f"{f}.png"
                                              for f in frames])
    real = gaussian_stats(_library_features(inception_file, [data.path("val", f, "photo") for f in frames]))
    theirs = frechet_infinity(fake, real, min_size=4, num_points=3, seed=7)
    assert entry["fid_infinity"] == pytest.approx(theirs.value, rel=1e-6)
    assert entry["fid_infinity_slope"] == pytest.approx(theirs.slope, rel=1e-6)
    assert entry["fid_infinity_sizes"] == [4, 6, 8] == theirs.sizes.tolist()
    assert entry["fid_infinity_distances"] == pytest.approx(theirs.distances.tolist(), rel=1e-6)
    # All 8 frames: the FID, by the d x d route (the FID's is N x N; they differ by rounding near a singular 0)
    assert entry["fid_infinity_distances"][-1] == pytest.approx(entry["fid"], rel=1e-6)
    assert (entry["fid_infinity_min_size"], entry["fid_infinity_points"]) == (4, 3)
    other_seed = frechet_infinity(fake, real, min_size=4, num_points=3, seed=0)
    assert abs(other_seed.value - theirs.value) > 1e-6 * abs(theirs.value)  # the seed is the session's, not 0
    infinity = document["protocol"]["infinity"]
    assert (infinity["min_size"], infinity["points"], infinity["seed"]) == (4, 3, "protocol.bootstrap.seed")
    assert document["protocol"]["bootstrap"]["seed"] == 7 and "score_infinity.py" in infinity["fit"]
    low_min = "FID-infinity fitted from N = 4 (< 5000, Chong & Forsyth's smallest): FID_N may not be linear in 1/N"
    assert any(low_min in w for w in entry["warnings"]) and low_min in caplog.text
    out = capsys.readouterr().out
    assert f"noise: FID-infinity {entry['fid_infinity']:.2f}: intercept at 1/N = 0" in out
    assert "fitted at 3 sizes N from 4 to 8" in out and "FID-infinity (lower is better)" in out
    (row,) = csv.DictReader((workspace / "fid.csv").open())
    assert float(row["fid_infinity"]) == entry["fid_infinity"] and row["fid_infinity_sizes"] == "4 6 8"
    assert float(row["fid_infinity_slope"]) == entry["fid_infinity_slope"]
    assert Results.from_dict(document).to_dict()["runs"] == document["runs"]  # typed entry round trip


def test_without_infinity_every_fid_infinity_field_is_null(workspace, inception_file):
    (entry,) = _fid(workspace, inception_file, workspace / "runs" / "photos")["runs"]
    assert entry["fid_infinity"] is None and entry["fid_infinity_sizes"] is None
    assert not any("FID-infinity" in w for w in entry["warnings"])


DAMAGES = [  # (field, its damaged value from the entry, what the message says)
    ("fid_infinity", lambda e: e["fid_infinity"] + 1, "recomputed"),  # a value its own points do not give
    ("fid_infinity_slope", lambda e: -e["fid_infinity_slope"], "recomputed"),
    ("fid_infinity_distances", lambda e: [d + 1 for d in e["fid_infinity_distances"]], "recomputed"),
    ("fid_infinity_sizes", lambda e: [4, 6, 7], "rising from"),
    ("fid_infinity_points", lambda e: 15, "rising from"),
    ("fid_infinity_min_size", lambda e: 5000, "rising from"),
    ("fid_infinity_sizes", lambda e: None, "are null"),
    ("fid_infinity_sizes", lambda e: "4 6 8", "must be a list"),
    ("fid_infinity_distances", lambda e: [1.0, None, 2.0], "must hold no null"),
    ("fid_infinity", lambda e: None, "is null but"),
]


def test_a_damaged_fid_infinity_is_refused(workspace, inception_file, capsys):
    document = _fid(workspace, inception_file, workspace / "runs" / "noise", *INFINITY)
    for field, damage, said in DAMAGES:  # one scoring, every damage
        damaged = json.loads(json.dumps(document))
        damaged["runs"][0][field] = damage(document["runs"][0])
        path = workspace / "damaged.json"
        path.write_text(json.dumps(damaged))
        assert main(["report", "md", str(path)]) == 2, field
        err = capsys.readouterr().err
        assert "run 'noise'" in err and said in err and "Traceback" not in err, (field, err)


def test_fid_infinity_refuses_runs_of_no_more_frames_than_its_min_size(workspace, inception_file, capsys):
    runs = str(workspace / "runs")
    common = ["--features", str(inception_file), "--quiet", "--workers", "0", "--resamples", "100"]
    assert main(["fid", runs, "--infinity", *common]) == 2  # the paper's 5000 against a split of 8
    err = capsys.readouterr().err
    assert "split 'val' has 8 frames, so no run has more than --infinity-min-size 5000" in err
    assert "Leave out --infinity, or lower --infinity-min-size below 8" in err
    noise = workspace / "runs" / "noise" / "images" / "val"
    for image in sorted(noise.iterdir())[5:]:
        image.unlink()
    assert main(["fid", runs, "--allow-missing", "--infinity", "--infinity-min-size", "5", *common]) == 2
    err = capsys.readouterr().err
    assert "FID-infinity needs more than --infinity-min-size 5 frames per run, got: noise (5)." in err
    assert "lower --infinity-min-size below the smallest N" in err and "photos" not in err
    with pytest.raises(SystemExit) as exit_:
        main(["fid", runs, "--infinity", "--infinity-points", "1", *common])
    assert exit_.value.code == 2 and "--infinity-points >= 2" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.xdist_group("torchrun")
def test_torchrun_two_gloo_processes_give_identical_statistics(workspace, inception_file):
    one, two = single_and_torchrun(
        ["fid", str(workspace / "runs"), "--features", str(inception_file), "--kid", *INFINITY, "--baseline", "noise",
         "--with-real", "--workers", "0", "--resamples", "100", "--batch-size", "3", "--device", "cpu"],
        workspace, ["runs/*/.p2p-eval-cache.sqlite*", "data/.p2p-eval-cache.sqlite*"], timeout=600)
    assert one["runs"] == two["runs"]  # FID, KID, FID-infinity, intervals, tests: every number identical
    assert all(e["fid_infinity"] is not None for e in one["runs"] if not e["is_real"])
