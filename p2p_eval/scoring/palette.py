"""Colour label maps back to trainIds: nearest Cityscapes label colour.

A photo->labels generator outputs colour label maps; resizing and JPEG (and the
generator itself) leave in-between colours, so exact colour matching fails
(pix2pix#112). Each pixel takes the trainId of the nearest colour of the
official Cityscapes colour coding (every label of `p2p_eval.classes.LABELS`,
void ones included, so a pixel painted "ground" purple is a prediction of no
train class, counted as an error, not silently snapped to a train class).
"""

import numpy as np

from p2p_eval.classes import IGNORE, LABELS

FAR_DISTANCE = 32.0
"""Euclidean RGB distance above which a pixel counts as far from every palette
colour (reported, still decoded to its nearest colour). JPEG noise stays well
inside it; a blend half-way between two label colours usually does not."""


def decoding_palette() -> tuple[np.ndarray, np.ndarray]:
    """The colours a label map may hold and the trainId each stands for.

    A colour shared by a train class and an ignored label (pole/polegroup,
    car/license plate) decodes to the train class; colours only ignored labels
    use decode to `IGNORE` (no train class).

    Returns
    -------
    colors : (K, 3) uint8 ndarray
        Distinct colours, in first-defined order of the label table.
    train_ids : (K,) uint8 ndarray

    Examples
    --------
    >>> colors, ids = decoding_palette()
    >>> int(ids[(colors == (153, 153, 153)).all(1)][0])  # pole, not polegroup
    5
    """
    by_color: dict[tuple[int, int, int], int] = {}
    for label in LABELS:
        current = by_color.get(label.color, IGNORE)
        by_color[label.color] = label.train_id if current == IGNORE else current
    colors = np.array(list(by_color), dtype=np.uint8)
    return colors, np.array(list(by_color.values()), dtype=np.uint8)


def decode_label_colors(rgb: np.ndarray, far_distance: float = FAR_DISTANCE) -> tuple[np.ndarray, int]:
    """trainIds of a colour label map by nearest palette colour.

    Distances are computed once per distinct colour of the image (a few
    thousand at most), not per pixel.

    Parameters
    ----------
    rgb : (H, W, 3) uint8 ndarray
        A generated colour label map.
    far_distance : float, optional
        Pixels whose nearest palette colour is further than this are counted.

    Returns
    -------
    train_ids : (H, W) uint8 ndarray
        0..18, or `IGNORE` where the nearest colour is no train class.
    n_far : int
        Pixels further than `far_distance` from every palette colour.

    Examples
    --------
    >>> ids, far = decode_label_colors(np.array([[[126, 66, 130], [0, 0, 140], [128, 200, 50]]], np.uint8))
    >>> ids.tolist(), far
    ([[0, 13, 8]], 1)
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"Expected an (H, W, 3) uint8 array, got {rgb.dtype} {rgb.shape}.")
    colors, train_ids = decoding_palette()
    packed = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    distinct, inverse = np.unique(packed.ravel(), return_inverse=True)
    channels = np.stack([(distinct >> 16) & 255, (distinct >> 8) & 255, distinct & 255], axis=1)
    squared = ((channels[:, None, :] - colors[None].astype(np.int32)) ** 2).sum(-1)
    nearest = squared.argmin(1)
    far = squared[np.arange(len(distinct)), nearest] > far_distance**2
    n_far = int(np.bincount(inverse, minlength=len(distinct))[far].sum())
    return train_ids[nearest][inverse].reshape(rgb.shape[:2]), n_far
