import numpy as np
import pytest
import torch

from p2p_eval.metrics.confusion import confusion_matrices, fcn_scores, per_class_scores


def counts_of(pred, target, **kwargs):
    """The production counting (`confusion_matrices`) of numpy label maps, one item per leading index."""
    return confusion_matrices(torch.as_tensor(pred), torch.as_tensor(target), **kwargs).numpy()


def official_fast_hist(a, b, n):
    """pix2pix scripts/eval_cityscapes/util.py, as published."""
    k = (a >= 0) & (a < n)
    return np.bincount(n * a[k].astype(int) + b[k], minlength=n**2).reshape(n, n)


def official_get_scores(hist):
    acc = np.diag(hist).sum() / (hist.sum() + 1e-12)
    cl_acc = np.diag(hist) / (hist.sum(1) + 1e-12)
    iu = np.diag(hist) / (hist.sum(1) + hist.sum(0) - np.diag(hist) + 1e-12)
    return acc, np.nanmean(cl_acc), np.nanmean(iu)


def test_hand_computed_two_class_case():
    # gt 0: 3 right, 1 predicted as 1; gt 1: 4 right; one ignored pixel; one "void" prediction.
    target = np.array([0, 0, 0, 0, 1, 1, 1, 1, 255, 1])
    pred = np.array([0, 0, 0, 1, 1, 1, 1, 1, 0, 19])
    counts = counts_of(pred[None], target[None], num_classes=2)[0]
    assert counts.tolist() == [[3, 1, 0], [0, 4, 1]]
    s = fcn_scores(counts)
    assert float(s["pixel_acc"]) == pytest.approx(7 / 9)
    assert float(s["class_acc"]) == pytest.approx((3 / 4 + 4 / 5) / 2)
    assert float(s["class_iou"]) == pytest.approx((3 / 4 + 4 / 6) / 2)


def test_equals_official_formulas_when_every_class_is_present():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 19, size=(4, 60, 80))
    target[:, :5] = 255
    pred = np.where(rng.random(target.shape) < 0.7, target, rng.integers(0, 19, target.shape)) % 255
    ours = counts_of(pred, target).sum(0)
    theirs = official_fast_hist(target.ravel(), pred.ravel(), 19)
    np.testing.assert_array_equal(ours[:, :19], theirs)
    for got, want in zip(fcn_scores(ours).values(), official_get_scores(theirs)):
        assert float(got) == pytest.approx(want, abs=1e-12)
    assert {k: float(v) for k, v in fcn_scores(ours, "zero").items()} == pytest.approx(
        dict(zip(("pixel_acc", "class_acc", "class_iou"), official_get_scores(theirs))), abs=1e-12)


def test_absent_classes_rules():
    counts = np.zeros((3, 4), np.int64)
    counts[0, 0] = 5
    counts[0, 1] = 5  # class 1 absent from ground truth but predicted; class 2 neither
    acc, iou = per_class_scores(counts)
    assert acc[0] == 0.5 and np.isnan(acc[1]) and np.isnan(acc[2])
    assert iou[0] == 0.5 and iou[1] == 0.0 and np.isnan(iou[2])
    assert float(fcn_scores(counts)["class_iou"]) == pytest.approx(0.25)
    assert float(fcn_scores(counts, "zero")["class_iou"]) == pytest.approx(0.5 / 3)


def test_per_item_counts_add_up_in_any_order_and_match_each_item_alone():
    rng = np.random.default_rng(1)
    target = rng.integers(0, 19, (3, 16, 16)).astype(np.uint8)
    target[0, 0] = 255
    pred = rng.integers(0, 20, (3, 16, 16)).astype(np.uint8)
    whole = counts_of(pred.reshape(1, -1), target.reshape(1, -1))[0]  # every pixel as one item
    per_item = counts_of(pred, target)
    assert per_item.shape == (3, 19, 20)
    np.testing.assert_array_equal(per_item[[2, 0, 1]].sum(0), whole)
    for i in range(3):
        np.testing.assert_array_equal(per_item[i], counts_of(pred[i : i + 1], target[i : i + 1])[0])
    keep = target != 255
    np.testing.assert_array_equal(whole[:, :19], official_fast_hist(target[keep], np.minimum(pred[keep], 19), 20)[:19, :19])
    assert whole[:, 19].sum() == (pred[keep] == 19).sum()  # predictions of no train class: the last column


def test_stacked_states_score_like_single_ones():
    rng = np.random.default_rng(2)
    stack = rng.integers(0, 50, (5, 19, 20))
    batched = fcn_scores(stack)
    for i in range(5):
        single = fcn_scores(stack[i])
        for k in single:
            assert batched[k][i] == pytest.approx(float(single[k]))


def test_out_of_range_ground_truth_is_refused():
    with pytest.raises(ValueError, match=r"\[19\]"):
        counts_of(np.zeros((1, 3), int), np.array([[0, 19, 255]]))
