"""Lab conversion, histograms and intersection against skimage, numpy and hand-made cases."""

import numpy as np
import pytest
from skimage.color import rgb2lab as skimage_rgb2lab

from p2p_eval.metrics.colorfulness import (
    DEFAULT_BINNING,
    LAB_RANGES,
    Binning,
    _bin_indices,
    _BinTables,
    channel_intersections,
    histogram_intersection,
    lab_histograms,
)
from p2p_eval.metrics.lab import lab_from_cube_roots, rgb2lab


def _edge_colours() -> np.ndarray:
    """Cube corners, every grey, pure-channel ramps, and the values around both thresholds."""
    corners = np.array([[r, g, b] for r in (0, 255) for g in (0, 255) for b in (0, 255)])
    ramp = np.arange(256)
    greys = np.stack([ramp] * 3, axis=1)
    pure = np.concatenate([np.eye(3, dtype=int)[c] * ramp[:, None] for c in range(3)])
    # sRGB linearisation switches at 0.04045 (value 10.3); Lab's cube root at Y = 0.008856 (grey ~ 20).
    near = np.array([[v, w, u] for v in (9, 10, 11, 19, 20, 21) for w in (0, 10, 20) for u in (0, 11, 255)])
    return np.concatenate([corners, greys, pure, near]).astype(np.uint8)


def _numpy_histograms(lab: np.ndarray, binning: Binning) -> np.ndarray:
    flat = lab.reshape(-1, 3)
    return np.concatenate(
        [np.histogram(flat[:, c], bins=binning.bins[c], range=LAB_RANGES[c])[0] for c in range(3)]
    )


def test_lab_matches_skimage_on_random_and_edge_colours():
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, size=(3, 17, 19, 3), dtype=np.uint8)
    assert np.abs(rgb2lab(batch) - skimage_rgb2lab(batch)).max() <= 1e-3
    edges = _edge_colours()
    assert np.abs(rgb2lab(edges) - skimage_rgb2lab(edges[None])[0]).max() <= 1e-3
    floats = rng.random((50, 3))
    assert np.abs(rgb2lab(floats) - skimage_rgb2lab(floats[None])[0]).max() <= 1e-3


def test_lab_channel_axis_and_shape_errors():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(5, 6, 3), dtype=np.uint8)
    first = rgb2lab(np.moveaxis(image, -1, 0), channel_axis=0)
    np.testing.assert_allclose(np.moveaxis(first, 0, -1), rgb2lab(image))
    with pytest.raises(ValueError, match=r"size 3 along `channel_axis` \(-1\), got shape \(5, 4\)"):
        rgb2lab(np.zeros((5, 4), np.uint8))


@pytest.mark.parametrize("binning", [DEFAULT_BINNING, Binning((10, 16, 7))])
def test_histograms_equal_numpy_histogram_of_skimage_lab(binning):
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, size=(40, 50, 3), dtype=np.uint8), _edge_colours()[None]]
    expected = sum(_numpy_histograms(skimage_rgb2lab(im), binning) for im in images)
    counts = lab_histograms(images, binning)
    assert counts.dtype == np.int64 and counts.shape == (binning.total,)
    np.testing.assert_array_equal(counts, expected)
    assert all(part.sum() == 40 * 50 + len(_edge_colours()) for part in binning.split(counts).values())


def test_histograms_add_up_and_batch_is_n_images():
    rng = np.random.default_rng(3)
    batch = rng.integers(0, 256, size=(4, 8, 8, 3), dtype=np.uint8)
    np.testing.assert_array_equal(lab_histograms(batch), lab_histograms(batch[:2]) + lab_histograms(batch[2:]))
    np.testing.assert_array_equal(
        lab_histograms([np.moveaxis(batch[0], -1, 0)], channel_axis=0), lab_histograms(batch[:1])
    )
    big = rng.integers(0, 256, size=(150, 150, 3), dtype=np.uint8)  # more than one chunk of pixels
    np.testing.assert_array_equal(lab_histograms([big]), _numpy_histograms(skimage_rgb2lab(big), DEFAULT_BINNING))


def _cube_roots_for(lab: np.ndarray) -> np.ndarray:
    """(3, P) Lab -> the CIE cube-root planes that give it (inverting L = 116 fy - 16 etc.)."""
    fy = (lab[0] + 16.0) / 116.0
    return np.stack([fy + lab[1] / 500.0, fy, fy - lab[2] / 200.0])


@pytest.mark.parametrize("binning", [DEFAULT_BINNING, Binning((10, 16, 7))])
def test_bins_follow_numpy_histogram_at_edges_and_never_drop_values(binning):
    tables = _BinTables.of(binning)
    edges = np.concatenate([binning.edges(c) for c in range(3)])
    around = np.concatenate([edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf), edges + 1e-9])
    rng = np.random.default_rng(4)
    f = _cube_roots_for(np.stack([rng.permutation(around) for _ in range(3)]))
    lab = lab_from_cube_roots(f)  # the values binned; within an ulp or so of `around`
    index = _bin_indices(f, tables)
    for c in range(3):
        inside = (lab[c] >= LAB_RANGES[c][0]) & (lab[c] <= LAB_RANGES[c][1])
        expected = np.histogram(lab[c], bins=binning.bins[c], range=LAB_RANGES[c])[0]
        got = np.bincount(index[c][inside] - binning.offsets[c], minlength=binning.bins[c])
        np.testing.assert_array_equal(got, expected)


def test_top_edge_and_out_of_range_values_go_to_the_end_bins():
    lab = np.array([[100.0, 101.0, -5.0, 0.0], [0.0, -129.0, 127.99, 200.0], [0.0, 128.0, -300.0, -128.0]])
    assert _bin_indices(_cube_roots_for(lab), _BinTables.of(DEFAULT_BINNING)).tolist() == [
        [99, 99, 0, 0], [228, 100, 355, 355], [484, 611, 356, 356]]


def test_white_and_black_land_in_the_end_bins():
    counts = DEFAULT_BINNING.split(lab_histograms([np.array([[[0, 0, 0], [255, 255, 255]]], np.uint8)]))
    assert counts["L"][0] == 1 and counts["L"][99] == 1
    assert counts["a"][128] == 1 and counts["a"][127] == 1  # a(white) = -0.0025 lies in [-1, 0)


@pytest.mark.parametrize(
    ("p", "q", "expected"),
    [
        ([1, 2, 3], [1, 2, 3], 1.0),  # identical
        ([1, 2, 3], [10, 20, 30], 1.0),  # proportional: normalised first
        ([5, 0, 0], [0, 2, 7], 0.0),  # disjoint
        ([2, 2, 0], [0, 1, 1], 0.5),  # min(.5, 0) + min(.5, .5) + min(0, .5)
        ([1, 3], [3, 1], 0.5),  # .25 + .25
        ([1, 1, 1, 1], [4, 0, 0, 0], 0.25),
    ],
)
def test_intersection_of_hand_made_histograms(p, q, expected):
    assert float(histogram_intersection(p, q)) == pytest.approx(expected)
    assert float(histogram_intersection(q, p)) == pytest.approx(expected)  # symmetric


def test_intersection_broadcasts_and_flags_empty_and_mismatched():
    stack = np.array([[1, 0], [0, 1], [1, 1]])
    np.testing.assert_allclose(histogram_intersection(stack, [1, 0]), [1.0, 0.0, 0.5])
    assert np.isnan(histogram_intersection([0, 0], [1, 0]))
    with pytest.raises(ValueError, match="equal bins"):
        histogram_intersection([1, 2], [1, 2, 3])


def test_channel_intersections_score_each_channel_on_its_own():
    binning = Binning((2, 2, 2))
    ours = np.array([1, 0, 1, 1, 0, 5])
    theirs = np.array([1, 0, 0, 1, 5, 0])
    scores = channel_intersections(ours, theirs, binning)
    assert {k: float(v) for k, v in scores.items()} == {"L": 1.0, "a": 0.5, "b": 0.0}


def test_binning_validates_and_records_itself():
    with pytest.raises(ValueError, match="three positive integers"):
        Binning((10, 0, 10))
    with pytest.raises(ValueError, match="three positive integers"):
        Binning((10, 10))
    record = DEFAULT_BINNING.as_dict()
    assert record["L"] == {"range": [0.0, 100.0], "bins": 100, "width": 1.0}
    assert record["a"]["width"] == record["b"]["width"] == 1.0
