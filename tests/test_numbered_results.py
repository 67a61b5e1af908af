"""PyTorch pix2pix numbered results (<id>_fake_B.png) paired with the right frames (#13 §1).

The results folders are made here the way PyTorch pix2pix's test.py makes them:
the AB halves go through its transform (``transforms.ToTensor()``,
``transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))``, and a
``transforms.Resize([load_size, load_size], BICUBIC)`` when the AB halves are
another size) and come back through ``tensor2im``
(``(np.transpose(image_numpy, (1, 2, 0)) + 1) / 2.0 * 255.0``, then ``astype(np.uint8)``),
and are written as ``'%s_%s.png' % (name, label)`` for real_A, fake_B, real_B.
"""

import json

import numpy as np
import pytest
from PIL import Image
from scoring_helpers import unet_segmenter
from torchvision import transforms

from conftest import make_prepared_dataset, make_run
from p2p_eval.cli import main
from p2p_eval.data.files import read_rgb, write_png
from p2p_eval.data.matching import match_run
from p2p_eval.data.prepared import PreparedDataset, record_segmenter
from p2p_eval.data.runs import discover_runs
from p2p_eval.errors import InputError
from p2p_eval.segmenters import save_segmenter


def through_test_py(rgb: np.ndarray, load_size: int | None = None) -> np.ndarray:
    """An AB half as test.py writes it back: transform, then tensor2im's truncation."""
    steps = [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]
    if load_size is not None:
        steps.insert(0, transforms.Resize([load_size, load_size], transforms.InterpolationMode.BICUBIC))
    tensor = transforms.Compose(steps)(Image.fromarray(rgb))
    image_numpy = tensor.float().numpy()
    return ((np.transpose(image_numpy, (1, 2, 0)) + 1) / 2.0 * 255.0).astype(np.uint8)


def pytorch_results(root, data: PreparedDataset, order, first: int, *, siblings=True, load_size=None,
                    direction="BtoA", split="val"):
    """A test_latest/images folder: <first + i>_fake_B.png for frame order[i] (its photo), with siblings."""
    folder = root / "test_latest" / "images"
    for i, frame in enumerate(order):
        photo, color = (read_rgb(data.path(split, frame, kind)) for kind in ("photo", "color"))
        number = first + i
        write_png(folder / f"{number}_fake_B.png", photo)
        if siblings:  # BtoA on photo|labels: A is the input (labels), B the target (photo)
            real_a, real_b = (color, photo) if direction == "BtoA" else (photo, color)
            write_png(folder / f"{number}_real_A.png", through_test_py(real_a, load_size))
            write_png(folder / f"{number}_real_B.png", through_test_py(real_b, load_size))
    return root


@pytest.fixture
def data(tmp_path) -> PreparedDataset:
    return PreparedDataset.load(make_prepared_dataset(tmp_path / "data", splits={"val": 6}))


def _match(path, data, **options):
    [run] = discover_runs([path])
    return match_run(run, data.frames("val"), "val", dataset=data, **options)


def test_siblings_are_one_grey_level_off_yet_identify_frames_numbered_from_0_or_1(tmp_path, data):
    frames = data.frames("val")
    photo = read_rgb(data.path("val", frames[0], "photo"))
    assert (through_test_py(photo).astype(int) - photo).min() == -1  # the truncation the matcher must allow
    for first in (0, 1):
        match = _match(pytorch_results(tmp_path / f"from{first}", data, frames, first), data)
        assert [(f, p.name) for f, p in match.pairs] == [(f, f"{i + first}_fake_B.png") for i, f in enumerate(frames)]
        assert match.matching == {"layout": "pytorch-pix2pix", "by": "content", "numbering": first,
                                  "order": "sorted frame ids", "checked_by_content": len(frames)}


def test_dataset_json_numbering_and_test_py_first_50(tmp_path, data):
    """prepare cityscapes records the script's order; test.py's default --num_test leaves frames out."""
    order = list(reversed(data.frames("val")))
    meta = json.loads((data.root / "dataset.json").read_text())
    meta["pix2pix_numbering"] = {"val": {"folder": "test", "first": 0, "frames": order}}
    (data.root / "dataset.json").write_text(json.dumps(meta))
    data = PreparedDataset.load(data.root)
    results = pytorch_results(tmp_path / "cs", data, order[:4], 0)
    with pytest.raises(InputError, match="2 frame\\(s\\) of 'val' have no generated image"):
        _match(results, data)
    match = _match(results, data, allow_missing=True)
    assert dict(match.pairs) == {frame: results / "test_latest" / "images" / f"{i}_fake_B.png"
                                 for i, frame in enumerate(order[:4])}
    assert match.matching["order"] == "dataset.json pix2pix_numbering" and match.matching["numbering"] == 0
    for siblings in results.glob("test_latest/images/*_real_*.png"):
        siblings.unlink()
    with pytest.raises(InputError, match="--numbering 0 or --numbering 1"):
        _match(results, data, allow_missing=True)
    match = _match(results, data, allow_missing=True, numbering=0)  # in dataset.json's order, not sorted
    assert [f for f, _ in match.pairs] == sorted(order[:4]) and dict(match.pairs)[order[0]].name == "0_fake_B.png"
    assert match.matching["by"] == "numbering" and match.matching["checked_by_content"] == 0


def test_siblings_at_another_load_size_and_photo_to_labels_runs(tmp_path, data):
    frames = data.frames("val")
    match = _match(pytorch_results(tmp_path / "big", data, frames, 0, load_size=64), data)  # 32 px halves -> 64
    assert [f for f, _ in match.pairs] == list(frames) and match.matching["numbering"] == 0
    match = _match(pytorch_results(tmp_path / "p2l", data, frames, 1, direction="AtoB"), data)
    assert match.matching["numbering"] == 1


def test_a_numbering_the_siblings_contradict_is_refused(tmp_path, data):
    results = pytorch_results(tmp_path / "r", data, data.frames("val"), 0)
    contradicted = r"--numbering 1 pairs 5 id\(s\) 1, 2, 3, 4, 5 with other frames.*try --numbering 0"
    with pytest.raises(InputError, match=contradicted):
        _match(results, data, numbering=1)
    assert _match(results, data, numbering=0).matching["checked_by_content"] == 6


def test_ambiguous_unmatched_and_shared_ids_are_refused_by_name(tmp_path, data):
    frames = data.frames("val")
    for kind in ("photo", "color"):  # frame 4 made a copy of frame 3
        write_png(data.path("val", frames[4], kind), read_rgb(data.path("val", frames[3], kind)))
    results = pytorch_results(tmp_path / "r", data, frames, 0)
    with pytest.raises(InputError, match=r"2 id\(s\) 3, 4 look like several frames") as error:
        _match(results, data)
    assert f"'{frames[3]}', '{frames[4]}'" in str(error.value)

    fresh = PreparedDataset.load(make_prepared_dataset(tmp_path / "fresh", splits={"val": 6}))
    results = pytorch_results(tmp_path / "r2", fresh, fresh.frames("val"), 0)
    noise = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    for name in ("2_real_A.png", "2_real_B.png"):
        write_png(results / "test_latest" / "images" / name, noise)
    with pytest.raises(InputError, match=r"1 id\(s\) 2 show no frame of 'val'.*--load_size 256"):
        _match(results, fresh)
    (results / "test_latest" / "images" / "2_real_B.png").unlink()
    for name in ("2_real_A.png", "2_fake_B.png"):  # id 2 now shows frame 1 too
        folder = results / "test_latest" / "images"
        write_png(folder / name, read_rgb(folder / name.replace("2_", "1_")))
    with pytest.raises(InputError, match=r"shown by several ids \(e.g. city_000001_000019: ids 1, 2\)"):
        _match(results, fresh)


def test_some_ids_without_siblings_are_named(tmp_path, data):
    results = pytorch_results(tmp_path / "r", data, data.frames("val"), 0)
    (results / "test_latest" / "images" / "3_real_A.png").unlink()
    (results / "test_latest" / "images" / "3_real_B.png").unlink()
    with pytest.raises(InputError, match=r"1 id\(s\) 3 have no <id>_real_A.png/<id>_real_B.png"):
        _match(results, data)


def test_pix2pix_ab_imports_keep_numeric_stems_as_frame_ids(tmp_path):
    """`prepare pix2pix-ab` of the pix2pix download names frames 1, 2, ...: test.py's ids are those frames."""
    root = make_prepared_dataset(tmp_path / "ab", splits={"val": 3})
    meta = json.loads((root / "dataset.json").read_text())
    for i, frame in enumerate(meta["splits"]["val"], start=1):
        for kind in ("photo", "color", "trainids"):
            (root / "val" / f"{frame}_{kind}.png").rename(root / "val" / f"{i}_{kind}.png")
    meta["splits"]["val"] = ["1", "2", "3"]
    (root / "dataset.json").write_text(json.dumps(meta))
    data = PreparedDataset.load(root)
    match = _match(pytorch_results(tmp_path / "r", data, ("1", "2", "3"), 1, siblings=False), data)
    assert [(f, p.name) for f, p in match.pairs] == [(f, f"{f}_fake_B.png") for f in ("1", "2", "3")]
    assert match.matching == {"layout": "pytorch-pix2pix", "by": "frame-id"}


def test_fcn_score_of_0_based_results_equals_the_run_and_records_the_matching(tmp_path, data, capsys):
    """The issue's case: 0-based results, test.py's first images only, --allow-missing (exit 0 before, every
    image scored against the next frame's labels)."""
    save_segmenter(data.root / "seg.pt", unet_segmenter())
    record_segmenter(data, data.root / "seg.pt")
    data = PreparedDataset.load(data.root)
    frames = data.frames("val")
    make_run(tmp_path / "mine", data.root)
    results = pytorch_results(tmp_path / "theirs", data, frames[:4], 0)
    out = tmp_path / "r.json"
    code = main(["fcn-score", str(results), "--data", str(data.root), "--allow-missing", "--workers", "0",
                 "--resamples", "100", "--quiet", "--json", str(out)])
    assert code == 0
    theirs = json.loads(out.read_text())["runs"][0]
    assert theirs["matching"] == {"layout": "pytorch-pix2pix", "by": "content", "numbering": 0,
                                  "order": "sorted frame ids", "checked_by_content": 4}
    images = tmp_path / "mine" / "images" / "val"
    for frame in frames[4:]:
        (images / f"{frame}.png").unlink()
    code = main(["fcn-score", str(tmp_path / "mine"), "--workers", "0", "--resamples", "100", "--quiet",
                 "--allow-missing", "--json", str(out)])
    mine = json.loads(out.read_text())["runs"][0]
    assert code == 0 and theirs["confusion"] == mine["confusion"] and theirs["pixel_acc"] == mine["pixel_acc"]
    capsys.readouterr()


def test_one_frame_in_two_formats_is_refused(tmp_path, prepared):
    """#14.9: x.png and x.jpg silently scored the PNG."""
    run = make_run(tmp_path / "run", prepared)
    frame = PreparedDataset.load(prepared).frames("val")[0]
    Image.open(run / "images" / "val" / f"{frame}.png").save(run / "images" / "val" / f"{frame}.jpg", quality=95)
    [found] = discover_runs([run])
    with pytest.raises(InputError, match=f"1 frame\\(s\\) have several generated images \\(e.g. '{frame}'.*"
                                         f"{frame}.jpg.*{frame}.png"):
        found.images("val")


def test_torch_results_are_never_paired_by_a_guess(tmp_path, data):
    """Without siblings, dataset or numbering, numbered ids are refused (they used to be taken as 1-based)."""
    results = pytorch_results(tmp_path / "r", data, data.frames("val"), 0, siblings=False)
    [run] = discover_runs([results])
    with pytest.raises(InputError, match="numbered"):
        match_run(run, data.frames("val"), "val")
