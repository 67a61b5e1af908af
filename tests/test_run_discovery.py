"""Run discovery as a user means it (#14): the official Cityscapes tree, names, moved datasets; per-run records."""

import json
import shutil

import pytest
from scoring_helpers import unet_segmenter

import p2p_eval
from conftest import make_prepared_dataset, make_run
from p2p_eval.data.files import read_rgb, write_png
from p2p_eval.data.matching import match_run
from p2p_eval.data.prepared import PreparedDataset, record_segmenter
from p2p_eval.data.runs import discover_runs, recorded_dataset
from p2p_eval.errors import InputError
from p2p_eval.segmenters import save_segmenter


def official_tree(root, data: PreparedDataset, splits=("val",)):
    """leftImg8bit/<split>/<city>/<frame>_leftImg8bit.png of the dataset's photos (cities from the frame ids)."""
    for split in splits:
        for frame in data.frames(split):
            city = frame.split("_")[0]
            write_png(root / split / city / f"{frame}_leftImg8bit.png", read_rgb(data.path(split, frame, "photo")))
    return root


@pytest.fixture
def data(tmp_path) -> PreparedDataset:
    root = make_prepared_dataset(tmp_path / "data", splits={"train": 3, "val": 3})
    meta = json.loads((root / "dataset.json").read_text())
    for split, frames in meta["splits"].items():  # two cities, as Cityscapes has them
        renamed = []
        for i, frame in enumerate(frames):
            new = f"{'aachen' if i % 2 else 'bonn'}_{i:06d}_{0 if split == 'val' else 1:06d}"
            for kind in ("photo", "color", "trainids"):
                (root / split / f"{frame}_{kind}.png").rename(root / split / f"{new}_{kind}.png")
            renamed.append(new)
        meta["splits"][split] = sorted(renamed)
    (root / "dataset.json").write_text(json.dumps(meta))
    return PreparedDataset.load(root)


def test_a_split_folder_of_the_official_tree_is_one_run_not_one_per_city(tmp_path, data):
    tree = official_tree(tmp_path / "cs" / "leftImg8bit", data, ("train", "val"))
    [run] = discover_runs([tree / "val"])
    assert (run.name, run.layout) == ("leftImg8bit", "flat")
    assert [f for f, _ in match_run(run, data.frames("val"), "val").pairs] == list(data.frames("val"))


def test_the_official_tree_root_reads_the_scored_split_only(tmp_path, data):
    tree = official_tree(tmp_path / "cs" / "leftImg8bit", data, ("train", "val"))
    [run] = discover_runs([tree])
    assert run.name == "leftImg8bit"
    match = match_run(run, data.frames("val"), "val")  # the train frames are no "extra images"
    assert [f for f, _ in match.pairs] == list(data.frames("val"))
    assert [f for f, _ in match_run(run, data.frames("train"), "train").pairs] == list(data.frames("train"))
    with pytest.raises(InputError, match="no generated images for split 'test' \\(it has \\['train', 'val'\\]\\)"):
        match_run(run, data.frames("val"), "test")


def test_a_folder_of_flat_runs_is_still_several_runs(tmp_path, data):
    for name in ("model-a", "model-b"):
        for frame in data.frames("val"):
            write_png(tmp_path / "runs" / name / f"{frame}_leftImg8bit.png", read_rgb(data.path("val", frame, "photo")))
    assert [r.name for r in discover_runs([tmp_path / "runs"])] == ["model-a", "model-b"]


def test_duplicate_names_say_they_come_from_run_json(tmp_path, data):
    make_run(tmp_path / "runs" / "a", data.root)
    make_run(tmp_path / "runs" / "b", data.root)
    meta = json.loads((tmp_path / "runs" / "b" / "run.json").read_text())
    (tmp_path / "runs" / "b" / "run.json").write_text(json.dumps({**meta, "name": "a"}))
    with pytest.raises(InputError) as error:
        discover_runs([tmp_path / "runs"])
    message = str(error.value)
    assert "'a'" in message and '"name" in its run.json' in message and "edit \"name\" in run.json" in message
    assert str(tmp_path / "runs" / "b") in message


def test_a_moved_dataset_names_run_json_and_suggests_data(tmp_path, data):
    run = make_run(tmp_path / "runs" / "a", data.root)
    moved = shutil.move(data.root, tmp_path / "elsewhere")
    with pytest.raises(InputError) as error:
        recorded_dataset(discover_runs([run]))
    message = str(error.value)
    assert str(run / "run.json") in message and "--data" in message and "moved" in message
    assert recorded_dataset(discover_runs([run]), moved).root == moved


def test_results_entries_record_the_runs_schedule_quantisation_and_matching(tmp_path, data):
    save_segmenter(data.root / "seg.pt", unet_segmenter())
    record_segmenter(data, data.root / "seg.pt")
    run = make_run(tmp_path / "runs" / "unet", data.root)
    meta = json.loads((run / "run.json").read_text())
    meta |= {"protocol": {"schedule": "torch", "epochs": 200, "decay_epochs": 0, "batch_size": 1,
                          "quantize": "round"},  # a later `generate --quantize truncate` of val outranks this
             "generated": {"val": {"frames": 3, "step": 600, "eval_mode": False, "quantize": "truncate"}}}
    (run / "run.json").write_text(json.dumps(meta))
    tree = official_tree(tmp_path / "flat", data)
    results = p2p_eval.score("fcn-score", [run, tree], data=data.root, with_real=True, workers=0,
                             bootstrap=p2p_eval.Bootstrap(resamples=100), progress=False)
    unet, flat, real = results.runs  # the ground-truth row last
    assert unet.run_protocol == {"schedule": "torch", "epochs": 200, "decay_epochs": 0, "batch_size": 1,
                                 "quantize": "truncate", "eval_mode": False, "step": 600}
    assert unet.matching == {"layout": "p2p-eval", "by": "frame-id"}
    assert flat.run_protocol is None and flat.matching == {"layout": "flat", "by": "frame-id"}
    assert real.run_protocol is None and real.matching is None
    results.write(tmp_path / "r.json")
    again = p2p_eval.load_results(tmp_path / "r.json")
    assert again["runs"][0]["run_protocol"]["quantize"] == "truncate"


def test_a_baseline_folder_named_like_a_run_says_where_names_come_from(tmp_path, data):
    save_segmenter(data.root / "seg.pt", unet_segmenter())
    record_segmenter(data, data.root / "seg.pt")
    make_run(tmp_path / "runs" / "a", data.root)
    other = make_run(tmp_path / "other" / "b", data.root)
    meta = json.loads((other / "run.json").read_text())
    (other / "run.json").write_text(json.dumps({**meta, "name": "a"}))
    with pytest.raises(InputError, match='already named \'a\' .*edit "name" in its run.json'):
        p2p_eval.score("fcn-score", tmp_path / "runs", baseline=other, workers=0, progress=False)


def test_a_run_folder_without_run_json_is_refused_not_left_out(tmp_path, data, caplog):
    from p2p_eval.data.runs import discover_runs

    runs = tmp_path / "runs"
    for name in ("a", "b"):
        make_run(runs / name, data.root)
    (runs / "b" / "run.json").unlink()  # copied without it: its images would silently drop out of the table
    with pytest.raises(InputError, match=r"hold generated images \(images/<split>/\) but no run.json.*runs/b"):
        discover_runs([runs])
    shutil.rmtree(runs / "b" / "images")
    (runs / "notes").mkdir()
    assert [r.name for r in discover_runs([runs])] == ["a"]
    assert "2 sub-folder(s) hold no run and are not scored: b, notes" in caplog.text


def test_city_folders_linked_in_from_elsewhere_are_read(tmp_path, data):
    store = official_tree(tmp_path / "store", data)
    tree = tmp_path / "leftImg8bit" / "val"
    tree.mkdir(parents=True)
    for city in (store / "val").iterdir():
        (tree / city.name).symlink_to(city, target_is_directory=True)
    (tree / "aachen" / "loop").symlink_to(tree, target_is_directory=True)  # a link back up is walked once
    (run,) = discover_runs([tree])
    assert [f for f, _ in match_run(run, data.frames("val"), "val").pairs] == list(data.frames("val"))
