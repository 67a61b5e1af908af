"""The Cityscapes label table: one table, one truth.

Every official Cityscapes label is one row of `LABELS`, in the order of
cityscapesScripts' ``helpers/labels.py``. Every lookup below is derived from
that table; nothing else in p2p-eval hard-codes a class name, id or colour.
"""

from dataclasses import dataclass

import numpy as np

IGNORE = 255
"""trainId of pixels that are not evaluated (unlabeled, void and rare classes)."""

CLASS_SET = "cityscapes-19"
"""Name recorded in datasets, checkpoints and results for the 19 train classes."""


@dataclass(frozen=True)
class CityClass:
    name: str  # Cityscapes label name, e.g. "traffic light"
    id: int  # value in *_gtFine_labelIds.png (official ids; -1 = license plate)
    train_id: int  # 0..18 for the 19 evaluated classes, else IGNORE
    category: str  # Cityscapes category, e.g. "vehicle"
    color: tuple[int, int, int]  # colour in *_gtFine_color.png, the pix2pix input


# fmt: off
LABELS: tuple[CityClass, ...] = (
    #          name                    id  train_id  category        color
    CityClass("unlabeled",             0,  IGNORE,  "void",         (  0,   0,   0)),
    CityClass("ego vehicle",           1,  IGNORE,  "void",         (  0,   0,   0)),
    CityClass("rectification border",  2,  IGNORE,  "void",         (  0,   0,   0)),
    CityClass("out of roi",            3,  IGNORE,  "void",         (  0,   0,   0)),
    CityClass("static",                4,  IGNORE,  "void",         (  0,   0,   0)),
    CityClass("dynamic",               5,  IGNORE,  "void",         (111,  74,   0)),
    CityClass("ground",                6,  IGNORE,  "void",         ( 81,   0,  81)),
    CityClass("road",                  7,       0,  "flat",         (128,  64, 128)),
    CityClass("sidewalk",              8,       1,  "flat",         (244,  35, 232)),
    CityClass("parking",               9,  IGNORE,  "flat",         (250, 170, 160)),
    CityClass("rail track",           10,  IGNORE,  "flat",         (230, 150, 140)),
    CityClass("building",             11,       2,  "construction", ( 70,  70,  70)),
    CityClass("wall",                 12,       3,  "construction", (102, 102, 156)),
    CityClass("fence",                13,       4,  "construction", (190, 153, 153)),
    CityClass("guard rail",           14,  IGNORE,  "construction", (180, 165, 180)),
    CityClass("bridge",               15,  IGNORE,  "construction", (150, 100, 100)),
    CityClass("tunnel",               16,  IGNORE,  "construction", (150, 120,  90)),
    CityClass("pole",                 17,       5,  "object",       (153, 153, 153)),
    CityClass("polegroup",            18,  IGNORE,  "object",       (153, 153, 153)),
    CityClass("traffic light",        19,       6,  "object",       (250, 170,  30)),
    CityClass("traffic sign",         20,       7,  "object",       (220, 220,   0)),
    CityClass("vegetation",           21,       8,  "nature",       (107, 142,  35)),
    CityClass("terrain",              22,       9,  "nature",       (152, 251, 152)),
    CityClass("sky",                  23,      10,  "sky",          ( 70, 130, 180)),
    CityClass("person",               24,      11,  "human",        (220,  20,  60)),
    CityClass("rider",                25,      12,  "human",        (255,   0,   0)),
    CityClass("car",                  26,      13,  "vehicle",      (  0,   0, 142)),
    CityClass("truck",                27,      14,  "vehicle",      (  0,   0,  70)),
    CityClass("bus",                  28,      15,  "vehicle",      (  0,  60, 100)),
    CityClass("caravan",              29,  IGNORE,  "vehicle",      (  0,   0,  90)),
    CityClass("trailer",              30,  IGNORE,  "vehicle",      (  0,   0, 110)),
    CityClass("train",                31,      16,  "vehicle",      (  0,  80, 100)),
    CityClass("motorcycle",           32,      17,  "vehicle",      (  0,   0, 230)),
    CityClass("bicycle",              33,      18,  "vehicle",      (119,  11,  32)),
    CityClass("license plate",        -1,  IGNORE,  "vehicle",      (  0,   0, 142)),
)
# fmt: on

TRAIN_CLASSES: tuple[CityClass, ...] = tuple(
    sorted((c for c in LABELS if c.train_id != IGNORE), key=lambda c: c.train_id)
)
"""The 19 evaluated classes in trainId order (the official evaluation order)."""

NUM_CLASSES = len(TRAIN_CLASSES)
CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in TRAIN_CLASSES)

PALETTE = np.array([c.color for c in TRAIN_CLASSES], dtype=np.uint8)
"""(19, 3) uint8 colours of the train classes, row = trainId."""

IGNORE_COLOR = (0, 0, 0)
"""Colour of ignored pixels in colour label maps (the colour of 'unlabeled')."""

NAME_TO_LABEL = {c.name: c for c in LABELS}
ID_TO_LABEL = {c.id: c for c in LABELS}
# Built from the reversed table so the first-defined label wins a shared trainId
# (255 maps back to "unlabeled"), as cityscapesScripts does.
TRAIN_ID_TO_LABEL = {c.train_id: c for c in reversed(LABELS)}

ID_TO_TRAIN_ID = np.full(256, IGNORE, dtype=np.uint8)
"""Lookup table: ``ID_TO_TRAIN_ID[label_ids]`` maps a labelIds image to trainIds.

Index 255 holds the license plate (id -1 stored as uint8); ids 34..254 are not
Cityscapes labels and are rejected by `label_ids_to_train_ids`.
"""
for _c in LABELS:
    ID_TO_TRAIN_ID[_c.id % 256] = _c.train_id
del _c

VALID_IDS = np.zeros(256, dtype=bool)
VALID_IDS[[c.id % 256 for c in LABELS]] = True

TRAIN_ID_TO_COLOR = np.zeros((256, 3), dtype=np.uint8)
"""(256, 3) lookup table from trainId to colour; IGNORE and unused ids are black."""
TRAIN_ID_TO_COLOR[: NUM_CLASSES] = PALETTE


def label_ids_to_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Map a Cityscapes labelIds image to trainIds in one vectorised pass.

    Parameters
    ----------
    label_ids : (H, W) uint8 ndarray
        Values of a ``*_gtFine_labelIds.png`` (official ids 0..33; 255 = id -1).

    Returns
    -------
    train_ids : (H, W) uint8 ndarray
        0..18 for the evaluated classes, 255 elsewhere.

    Raises
    ------
    ValueError
        If a value is not an official Cityscapes id (the message lists them).

    Examples
    --------
    >>> label_ids_to_train_ids(np.array([[7, 26], [0, 33]], np.uint8)).tolist()
    [[0, 13], [255, 18]]
    """
    label_ids = np.asarray(label_ids)
    if label_ids.dtype != np.uint8:
        raise ValueError(f"Expected `label_ids` to be uint8, got {label_ids.dtype}.")
    valid = VALID_IDS[label_ids]
    if not valid.all():
        bad = np.unique(label_ids[~valid])
        raise ValueError(
            f"Expected Cityscapes labelIds in 0..33 (or 255 for -1), got {bad[:8].tolist()}."
        )
    return ID_TO_TRAIN_ID[label_ids]


def colorize(train_ids: np.ndarray) -> np.ndarray:
    """Colour label map of a trainIds image.

    Parameters
    ----------
    train_ids : (H, W) uint8 ndarray

    Returns
    -------
    color : (H, W, 3) uint8 ndarray
        Cityscapes colours; ignored pixels are black.

    Examples
    --------
    >>> colorize(np.array([[0, 255]], np.uint8)).tolist()
    [[[128, 64, 128], [0, 0, 0]]]
    """
    return TRAIN_ID_TO_COLOR[np.asarray(train_ids, dtype=np.uint8)]


def describe() -> str:
    """The table of train classes as text (``p2p-eval classes``)."""
    lines = [f"{'trainId':>7}  {'id':>3}  {'name':<14} {'category':<13} color"]
    for c in TRAIN_CLASSES:
        lines.append(f"{c.train_id:>7}  {c.id:>3}  {c.name:<14} {c.category:<13} {c.color}")
    return "\n".join(lines)
