"""score_images / score_label_maps: exactness, invariance, robustness, cache."""

import logging

import numpy as np
import pytest
import torch
from PIL import Image
from scoring_helpers import nearest_colour_segmenter, official_style_confusion, unet_segmenter

from conftest import make_prepared_dataset, make_run
from p2p_eval.classes import colorize
from p2p_eval.data.files import write_png
from p2p_eval.data.matching import match_frames
from p2p_eval.data.prepared import PreparedDataset, write_dataset_json
from p2p_eval.data.runs import discover_runs
from p2p_eval.errors import InputError
from p2p_eval.measures.fcn_score.pipeline import real_pairs, score_images
from p2p_eval.measures.label_score.pipeline import score_label_maps


def _pairs(run_root, data, split="val"):
    return match_frames(discover_runs([run_root])[0], data.frames(split), split)


@pytest.fixture
def scored(tmp_path):
    """5 val frames (32x32 images, 32x64 labels) and a run of their photos."""
    root = make_prepared_dataset(tmp_path / "data", splits={"val": 5})
    run = make_run(tmp_path / "runs" / "a", root)
    data = PreparedDataset.load(root)
    return data, _pairs(run, data), run


def test_hand_computed_frame(tmp_path):
    # One 2x4 frame, image already at label size (no resize): each pixel's
    # colour is the class the nearest-colour segmenter will predict.
    labels = np.array([[0, 0, 13, 255], [13, 13, 0, 5]], np.uint8)
    predicted = np.array([[0, 13, 13, 0], [13, 5, 5, 5]], np.uint8)
    write_png(tmp_path / "val" / "f_trainids.png", labels)
    for kind in ("photo", "color"):
        write_png(tmp_path / "val" / f"f_{kind}.png", colorize(labels))
    write_dataset_json(tmp_path, {"name": "hand", "image_size": [2, 4], "label_size": [2, 4],
                                  "splits": {"val": ["f"]}, "source": {"kind": "test"}})
    write_png(tmp_path / "gen.png", colorize(predicted))
    data = PreparedDataset.load(tmp_path)
    counts = score_images(nearest_colour_segmenter(), data, "val", [("f", tmp_path / "gen.png")], workers=0)
    expected = np.zeros((19, 20), np.int64)
    expected[0, 0] = 1   # (0,0)
    expected[0, 13] = 1  # (0,1)
    expected[13, 13] = 2  # (0,2), (1,0)
    expected[13, 5] = 1  # (1,1)
    expected[0, 5] = 1  # (1,2)
    expected[5, 5] = 1  # (1,3); (0,3) is ignored
    np.testing.assert_array_equal(counts[0], expected)


@pytest.mark.parametrize("make_segmenter", [nearest_colour_segmenter, unet_segmenter])
def test_equals_the_official_per_image_loop(scored, make_segmenter):
    data, pairs, _ = scored
    segmenter = make_segmenter()
    counts = score_images(segmenter, data, "val", pairs, batch_size=1, workers=1, progress=False)
    for (frame, image), got in zip(pairs, counts):
        want = official_style_confusion(segmenter, image, data.path("val", frame, "trainids"))
        np.testing.assert_array_equal(got[:, :19], want)
        assert got[:, 19].sum() == 0  # neither segmenter predicts outside the 19 classes


def test_identical_for_any_worker_count_and_frame_order(scored):
    data, pairs, _ = scored
    segmenter = unet_segmenter()
    first = score_images(segmenter, data, "val", pairs, batch_size=2, workers=0, progress=False)
    again = score_images(segmenter, data, "val", pairs[::-1], batch_size=2, workers=2, progress=False)[::-1]
    shuffled = [3, 0, 4, 1, 2]
    third = score_images(segmenter, data, "val", [pairs[i] for i in shuffled], batch_size=2, workers=1,
                         progress=False)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first[shuffled], third)


def test_a_model_in_training_mode_is_scored_in_eval_mode_and_left_training(scored):
    data, _, _ = scored
    segmenter = unet_segmenter()
    pairs = real_pairs(data, "val")
    expected = score_images(segmenter, data, "val", pairs, batch_size=2, workers=0, progress=False)
    segmenter.model.train()
    got = score_images(segmenter, data, "val", pairs, batch_size=2, workers=0, progress=False)
    np.testing.assert_array_equal(got, expected)
    assert segmenter.model.training


def test_batch_size_changes_only_pixels_within_float_noise(scored):
    # A pixel may change class across batch sizes only if its top-two logits are
    # closer than twice the largest logit difference the batch sizes produce.
    data, pairs, _ = scored
    segmenter = unet_segmenter()
    one = score_images(segmenter, data, "val", pairs, batch_size=1, workers=0, progress=False)
    three = score_images(segmenter, data, "val", pairs, batch_size=3, workers=0, progress=False)
    from p2p_eval.measures.fcn_score.inputs import photo_input

    batch = torch.stack([torch.from_numpy(photo_input(p, (32, 64))[0]) for _, p in pairs])
    with torch.no_grad():
        alone = torch.cat([segmenter.model(segmenter.preprocess(batch[i : i + 1])) for i in range(5)])
        padded = torch.cat([batch, torch.zeros_like(batch[:1])])  # the pipeline pads its last batch
        together = torch.cat([segmenter.model(segmenter.preprocess(padded[k : k + 3])) for k in (0, 3)])[:5]
    noise = (alone - together).abs().max().item()
    top2 = alone.topk(2, dim=1).values
    close = ((top2[:, 0] - top2[:, 1]) <= 2 * noise).sum().item()
    changed = np.abs(one - three).sum() // 2  # each moved pixel leaves one cell and enters another
    assert changed <= close
    assert one.sum() == three.sum()


def test_label_maps_decode_to_nearest_colour_and_count_far_pixels(tmp_path):
    root = make_prepared_dataset(tmp_path / "data", splits={"val": 2})
    data = PreparedDataset.load(root)
    pairs = []
    for frame in data.frames("val"):
        colour = np.array(Image.open(data.path("val", frame, "color"))).astype(int)
        noisy = np.clip(colour + np.random.default_rng(0).integers(-4, 5, colour.shape), 0, 255)
        noisy[0, 5:9] = (128, 200, 50)  # 4 pixels far from every label colour
        write_png(tmp_path / f"{frame}.png", noisy.astype(np.uint8))
        pairs.append((frame, tmp_path / f"{frame}.png"))
    counts, far = score_label_maps(data, "val", pairs, workers=0, progress=False)
    exact, _ = score_label_maps(
        data, "val", [(f, data.path("val", f, "color")) for f, _ in pairs], workers=0, progress=False)
    assert far.tolist() == [4, 4]
    # Noise smaller than half the gap between label colours decodes exactly; only the 4 painted pixels
    # of each frame, each upsampled to 1x2 label pixels, may move.
    assert 0 < np.abs(counts - exact).sum() // 2 <= 2 * 4 * 2


def test_unreadable_files_are_named_after_the_rest_is_cached(scored, tmp_path):
    data, pairs, _ = scored
    (frame1, bad1), (frame3, bad3) = pairs[1], pairs[3]
    bad1.write_bytes(b"not a png")
    bad3.write_bytes(bad3.read_bytes()[:60])  # truncated
    segmenter = _CountingSegmenter()
    cache = tmp_path / "cache.sqlite"
    with pytest.raises(InputError, match=r"2 of 5 frame\(s\) could not be scored") as err:
        score_images(segmenter, data, "val", pairs, batch_size=1, workers=1, cache=cache, progress=False)
    assert str(bad1) in str(err.value) and str(bad3) in str(err.value)
    assert segmenter.frames == 3
    make_run(tmp_path / "runs" / "a", data.root)  # rewrite the images
    score_images(segmenter, data, "val", pairs, batch_size=1, workers=0, cache=cache, progress=False)
    assert segmenter.frames == 5  # only the two repaired frames were computed


def test_interrupted_scoring_resumes_from_the_cache(scored, tmp_path):
    data, pairs, _ = scored
    cache = tmp_path / "cache.sqlite"
    segmenter = _CountingSegmenter(fail_after=2)
    with pytest.raises(KeyboardInterrupt):
        score_images(segmenter, data, "val", pairs, batch_size=1, workers=0, cache=cache, progress=False)
    segmenter.fail_after = None
    resumed = score_images(segmenter, data, "val", pairs, batch_size=1, workers=0, cache=cache, progress=False)
    assert segmenter.frames == 5  # 2 before the interruption, 3 after
    fresh = score_images(nearest_colour_segmenter(), data, "val", pairs, workers=0, progress=False)
    np.testing.assert_array_equal(resumed, fresh)
    # A changed image is recomputed; a changed segmenter is a different cache namespace.
    write_png(pairs[0][1], np.zeros((32, 32, 3), np.uint8))
    score_images(segmenter, data, "val", pairs, batch_size=1, workers=0, cache=cache, progress=False)
    assert segmenter.frames == 6


def test_rgba_and_greyscale_are_converted_with_one_warning(scored, caplog):
    data, pairs, _ = scored
    rgb = np.array(Image.open(pairs[0][1]))
    Image.fromarray(rgb).convert("RGBA").save(pairs[0][1])
    Image.fromarray(rgb).convert("L").save(pairs[1][1])
    with caplog.at_level(logging.WARNING):
        counts = score_images(nearest_colour_segmenter(), data, "val", pairs, workers=1, progress=False)
    assert counts.shape == (5, 19, 20)
    warnings = [r.getMessage() for r in caplog.records if "converted to RGB" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].startswith("2 image(s)")


def test_label_map_with_non_train_ids_is_refused(scored):
    data, pairs, _ = scored
    write_png(data.path("val", pairs[2][0], "trainids"), np.full((32, 64), 26, np.uint8))
    with pytest.raises(InputError, match=r"holds values \[26\], not trainIds"):
        score_images(nearest_colour_segmenter(), data, "val", pairs, workers=0, progress=False)


class _CountingSegmenter:
    """The nearest-colour segmenter, counting frames it segments (batch size 1)."""

    def __init__(self, fail_after=None):
        self._inner = nearest_colour_segmenter()
        self.model, self.sha256, self.arch = self._inner.model, self._inner.sha256, self._inner.arch
        self.output_to_train_id, self.preprocess = self._inner.output_to_train_id, self._inner.preprocess
        self.frames, self.fail_after = 0, fail_after

    def predict_channels(self, images):
        if self.fail_after is not None and self.frames >= self.fail_after:
            raise KeyboardInterrupt
        self.frames += len(images)
        return self._inner.predict_channels(images)

    def to_train_ids(self, channels):
        return self._inner.to_train_ids(channels)
