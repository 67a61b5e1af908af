"""The synthetic city: determinism, coverage, layout, colour ambiguity, prepared layout."""

import numpy as np
import pytest
from PIL import Image

from p2p_eval.classes import CLASS_NAMES, NAME_TO_LABEL, colorize
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.data.preparing import resize_labels
from p2p_eval.data.synthetic import GENERATOR_VERSION, SyntheticConfig, frame_rng, prepare_synthetic, synthetic_scene
from p2p_eval.data.synthetic_layout import compose_street
from p2p_eval.data.synthetic_render import render_photo

LABEL = (64, 128)


def tid(name):
    return NAME_TO_LABEL[name].train_id


@pytest.fixture(scope="module")
def scenes():
    """40 frames at 128x256: (photo, labels, instances) each."""
    out = []
    for i in range(40):
        rng = frame_rng(3, "train", i)
        canvas = compose_street(rng, 128, 256)
        out.append((render_photo(rng, canvas), canvas.labels, canvas.instances))
    return out


def test_a_frame_depends_only_on_seed_split_and_index():
    photo, labels = synthetic_scene(5, "val", 7, LABEL)
    again_photo, again_labels = synthetic_scene(5, "val", 7, LABEL)
    np.testing.assert_array_equal(photo, again_photo)
    np.testing.assert_array_equal(labels, again_labels)
    assert not np.array_equal(labels, synthetic_scene(5, "train", 7, LABEL)[1])
    assert not np.array_equal(labels, synthetic_scene(6, "val", 7, LABEL)[1])
    assert not np.array_equal(labels, synthetic_scene(5, "val", 8, LABEL)[1])


def test_at_least_twelve_classes_including_the_required_ones(scenes):
    present = set()
    for _, labels, _ in scenes:
        present |= set(np.unique(labels).tolist())
    names = {CLASS_NAMES[t] for t in present if t < 19}
    required = {"road", "sidewalk", "building", "pole", "vegetation", "terrain", "sky", "person", "car"}
    assert required <= names
    assert names & {"wall", "fence"} and names & {"traffic sign", "traffic light"} and names & {"bus", "truck"}
    assert len(names) >= 12, names
    assert 255 in present  # the ego vehicle's bonnet, ignored as in Cityscapes


def test_layout_is_a_street_in_perspective(scenes):
    rows = np.arange(128)[:, None] * np.ones((1, 256))
    mean_row = {}
    for name in ("sky", "building", "road"):
        hits = [rows[labels == tid(name)] for _, labels, _ in scenes]
        mean_row[name] = np.concatenate(hits).mean()
    assert mean_row["sky"] < mean_row["building"] < mean_row["road"]
    for _, labels, _ in scenes:
        assert (labels[-5:] == tid("road")).mean() > 0.2 or (labels[-5:] == 255).mean() > 0.5
        assert (labels[0] != tid("road")).all()  # the top row is never road
        road_cols = np.nonzero(labels == tid("road"))[1]
        # the road narrows towards the horizon: its upper rows span fewer columns than its lower ones
        road_rows = np.nonzero(labels == tid("road"))[0]
        top, bottom = road_rows.min(), road_rows.max()
        upper = labels[top + (bottom - top) // 4] == tid("road")
        lower = labels[bottom - (bottom - top) // 4] == tid("road")
        assert upper.sum() < lower.sum() and road_cols.size


def test_car_colours_are_multimodal_and_average_to_grey(scenes):
    """Car instances come in several distinct colours; their mean is a dull colour none of them is near."""
    means = []
    for photo, labels, instances in scenes:
        for inst in np.unique(instances[labels == tid("car")]):
            where = (instances == inst) & (labels == tid("car"))
            if where.sum() >= 40:
                means.append(np.median(photo[where], axis=0))
    means = np.array(means, float)
    assert len(means) >= 40
    r, g, b = means.T
    modes = {"red": (r > g + 60) & (r > b + 60), "blue": (b > r + 40) & (b > g + 20),
             "white": means.min(1) > 170, "black": means.max(1) < 60}
    for name, hit in modes.items():
        assert hit.sum() >= 2, f"too few {name} cars"
    centre = means.mean(0)
    spread = np.linalg.norm(means - centre, axis=1)
    assert np.ptp(centre) < 40  # the average car is greyish
    assert np.median(spread) > 50  # and a typical car is far from it: an L1 average is a poor guess


def test_facades_come_in_several_colours(scenes):
    means = []
    for photo, labels, instances in scenes[:10]:
        for inst in np.unique(instances[labels == tid("building")]):
            where = instances == inst
            if where.sum() >= 200:
                means.append(np.median(photo[where], axis=0))
    means = np.array(means, float)
    warm = means[:, 0] - means[:, 2]
    assert (warm > 40).sum() >= 3 and (np.abs(warm) < 15).sum() >= 3  # brick/ochre and grey/white fronts


@pytest.mark.parametrize("size", [64, 128])
def test_prepared_layout_at_demo_sizes(tmp_path, size):
    config = SyntheticConfig(n_train=3, n_val=2, size=size, label_size=(size, 2 * size), seed=1)
    meta = prepare_synthetic(tmp_path, config, progress=False)
    data = PreparedDataset.load(tmp_path)
    assert data.frames("val") == ("synthcity_val_000000", "synthcity_val_000001")
    assert meta["label_size"] == [size, 2 * size] and meta["image_size"] == [size, size]
    assert meta["source"]["generator_version"] == GENERATOR_VERSION and meta["source"]["seed"] == 1
    frame = data.frames("train")[2]
    photo = np.asarray(Image.open(data.path("train", frame, "photo")))
    color = np.asarray(Image.open(data.path("train", frame, "color")))
    ids = np.asarray(Image.open(data.path("train", frame, "trainids")))
    full_photo, full_ids = synthetic_scene(1, "train", 2, (size, 2 * size))
    np.testing.assert_array_equal(ids, full_ids)
    np.testing.assert_array_equal(color, colorize(resize_labels(full_ids, size)))
    expected = np.asarray(Image.fromarray(full_photo).resize((size, size), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(photo, expected)


def test_frames_do_not_depend_on_counts_or_workers(tmp_path):
    small = SyntheticConfig(n_train=2, n_val=1, size=32, label_size=(32, 64))
    large = SyntheticConfig(n_train=4, n_val=3, size=32, label_size=(32, 64))
    prepare_synthetic(tmp_path / "a", small, workers=1, progress=False)
    prepare_synthetic(tmp_path / "b", large, workers=2, progress=False)
    for rel in ("train/synthcity_train_000001_photo.png", "val/synthcity_val_000000_trainids.png"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_bad_configs_are_refused():
    for bad in ({"n_train": -1}, {"n_train": 0, "n_val": 0}, {"size": 8}, {"label_size": (16, 32)}, {"seed": -3}):
        with pytest.raises(ValueError, match="Expected"):
            SyntheticConfig(**bad)


def test_row_intervals_cover_exactly_the_pixel_centres_inside():
    from p2p_eval.data.synthetic_layout import _row_intervals

    starts = np.array([[0.4, 5.0], [2.6, 9.0]], np.float32)
    ends = np.array([[2.5, 6.6], [2.6, 99.0]], np.float32)
    mask = _row_intervals(8, starts, ends)
    centres = np.arange(8) + 0.5
    expected = np.array([[any(s <= c < e for s, e in zip(row_s, row_e)) for c in centres]
                         for row_s, row_e in zip(starts, ends)])
    np.testing.assert_array_equal(mask, expected)
    bands = _row_intervals(8, np.array([[1.0, 3.0]], np.float32), np.full((1, 2), np.inf, np.float32), count=True)
    assert bands.tolist() == [[0, 1, 1, 2, 2, 2, 2, 2]]


def test_cli_prepares_the_city_and_refuses_a_bad_size(tmp_path, capsys):
    from p2p_eval.cli import main

    out = tmp_path / "synth"
    assert main(["prepare", "synthetic", "--out", str(out), "--n-train", "2", "--n-val", "1", "--size", "32",
                 "--label-size", "32x64", "--workers", "1", "--quiet"]) == 0
    assert "train 2, val 1 frames" in capsys.readouterr().out
    PreparedDataset.load(out).check_files("val")
    with pytest.raises(SystemExit) as exit_info:
        main(["prepare", "synthetic", "--out", str(tmp_path / "bad"), "--size", "8"])
    assert exit_info.value.code == 2 and "`size` >= 16" in capsys.readouterr().err


def test_rerunning_prepare_keeps_the_recorded_segmenter(tmp_path):
    from p2p_eval.cli import main
    from p2p_eval.data.prepared import PreparedDataset, record_segmenter

    args = ["prepare", "synthetic", "--out", str(tmp_path), "--n-train", "1", "--n-val", "1",
            "--size", "32", "--label-size", "32x64", "--workers", "1", "--quiet"]
    assert main(args) == 0
    record_segmenter(PreparedDataset.load(tmp_path), tmp_path / "seg.pt")
    assert main(args) == 0
    assert PreparedDataset.load(tmp_path).segmenter == tmp_path / "seg.pt"


@pytest.mark.parametrize("value", ["-1", "4294967296"])
def test_cli_refuses_a_seed_outside_the_generators_range_before_any_work(tmp_path, capsys, value):
    from p2p_eval.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["prepare", "synthetic", "--out", str(tmp_path / "d"), "--n-train", "1", "--n-val", "1", "--seed", value])
    assert exit_.value.code == 2 and "--seed: expected a whole number in [0, 4294967296)" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
