import numpy as np
import pytest
from cityscapesscripts.helpers import labels as official

from p2p_eval import classes


def test_every_official_label_matches_entry_by_entry():
    assert len(classes.LABELS) == len(official.labels)
    for ours, theirs in zip(classes.LABELS, official.labels, strict=True):
        assert (ours.name, ours.id, ours.train_id, ours.category, ours.color) == (
            theirs.name, theirs.id, theirs.trainId if theirs.trainId >= 0 else 255,
            theirs.category, theirs.color,
        )


def test_nineteen_train_classes_in_evaluation_order():
    assert classes.CLASS_NAMES == (
        "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
        "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
        "motorcycle", "bicycle",
    )
    assert classes.PALETTE.shape == (19, 3)


def test_lookup_table_agrees_with_official_id2label_for_every_id():
    ids = np.array([label.id % 256 for label in official.labels], dtype=np.uint8)
    expected = [official.id2label[label.id].trainId for label in official.labels]
    expected = [t if 0 <= t < 19 else 255 for t in expected]
    assert classes.label_ids_to_train_ids(ids).tolist() == expected


def test_unknown_label_id_is_refused_with_the_value():
    with pytest.raises(ValueError, match=r"\[40\]"):
        classes.label_ids_to_train_ids(np.array([[7, 40]], np.uint8))


def test_palette_round_trip():
    train_ids = np.arange(19, dtype=np.uint8).reshape(1, 19)
    color = classes.colorize(train_ids)
    back = {tuple(c): t for t, c in enumerate(classes.PALETTE.tolist())}
    assert [back[tuple(c)] for c in color[0].tolist()] == list(range(19))
