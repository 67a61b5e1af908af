"""Rendering a photo from a composed street scene of the synthetic city.

Each instance draws its colours from a *multimodal* palette of its class (a
car is red, blue, white, black or silver; a facade beige, grey, brick, white,
ochre, ...), so the same label map has many plausible photos: a generator
trained with L1 alone averages the modes towards grey, an adversarial one
need not. Materials (glass, tyres, paint, paving joints) give texture inside
an instance; per-class noise, a lighting gradient, cast shadows, the shaded
side of the street and a per-frame colour cast add the rest.
"""

import functools

import numpy as np

from p2p_eval.classes import IGNORE, NAME_TO_LABEL
from p2p_eval.data.synthetic_scene import (BASE, CURB, GLASS, HOOD, LAMP, MARKING, SECONDARY, SHOPFRONT, SKIN, SKY,
                                           TRUNK, TYRE, Canvas)


def _tid(name: str) -> int:
    return NAME_TO_LABEL[name].train_id


# Per class: (modes of the first colour, their weights, modes of the second colour or None
# for "a darker first colour"), sRGB 0..255. The second colour paints SECONDARY pixels.
# fmt: off
PALETTES: dict[int, tuple[list, list, list | None]] = {
    _tid("road"):          ([(84, 84, 90), (62, 62, 66), (112, 108, 104)], [0.5, 0.3, 0.2], None),
    _tid("sidewalk"):      ([(152, 150, 148), (165, 112, 100), (178, 168, 146)], [0.5, 0.25, 0.25], None),
    _tid("building"):      ([(206, 190, 160), (140, 140, 142), (150, 76, 56), (222, 216, 206), (202, 160, 92),
                             (150, 166, 182), (196, 150, 146)], [0.2, 0.2, 0.15, 0.15, 0.1, 0.1, 0.1], None),
    _tid("wall"):          ([(150, 148, 140), (140, 82, 62), (202, 200, 194)], [0.5, 0.25, 0.25], None),
    _tid("fence"):         ([(122, 92, 62), (62, 92, 72), (112, 112, 118)], [0.35, 0.3, 0.35], None),
    _tid("pole"):          ([(112, 112, 112), (42, 62, 52), (36, 36, 38)], [0.5, 0.25, 0.25], None),
    _tid("traffic light"): ([(32, 32, 34), (200, 170, 42), (40, 66, 48)], [0.6, 0.25, 0.15],
                            [(255, 44, 30), (255, 172, 10), (40, 232, 122)]),
    _tid("traffic sign"):  ([(30, 72, 172), (192, 32, 36), (232, 192, 32), (226, 226, 226)], [0.35, 0.3, 0.2, 0.15],
                            [(232, 232, 232), (196, 30, 34), (24, 24, 24)]),
    _tid("vegetation"):    ([(52, 92, 36), (72, 112, 40), (40, 72, 42), (142, 112, 42)], [0.35, 0.3, 0.25, 0.1], None),
    _tid("terrain"):       ([(102, 142, 62), (152, 146, 92), (122, 102, 72)], [0.5, 0.3, 0.2], None),
    _tid("sky"):           ([(92, 142, 212), (200, 205, 212), (162, 182, 202)], [0.45, 0.35, 0.2], None),
    _tid("person"):        ([(28, 28, 30), (30, 40, 80), (180, 36, 40), (222, 222, 218), (120, 120, 122),
                             (60, 100, 60), (190, 170, 130)], [0.25, 0.15, 0.12, 0.12, 0.12, 0.12, 0.12],
                            [(52, 72, 112), (30, 30, 32), (112, 112, 116), (182, 164, 128)]),
    _tid("car"):           ([(172, 26, 26), (32, 52, 142), (226, 226, 226), (26, 26, 30), (162, 165, 170),
                             (82, 84, 88)], [0.15, 0.15, 0.2, 0.2, 0.2, 0.1], [(40, 40, 42)]),
    _tid("truck"):         ([(226, 226, 226), (182, 32, 32), (32, 62, 152)], [0.5, 0.25, 0.25],
                            [(232, 232, 228), (150, 150, 152), (222, 182, 42)]),
    _tid("bus"):           ([(232, 232, 230), (232, 192, 32), (192, 36, 36), (32, 82, 162)], [0.3, 0.25, 0.25, 0.2],
                            [(40, 40, 40), (212, 212, 212)]),
    IGNORE:                ([(26, 26, 28), (160, 162, 166), (30, 40, 90)], [0.4, 0.35, 0.25], None),
}
SKY_HORIZON = [(182, 206, 232), (226, 228, 232), (200, 210, 220)]
"""Colour of each sky mode near the horizon; the sky blends to it from the top."""

NOISE = {_tid("road"): 0.05, _tid("sidewalk"): 0.045, _tid("building"): 0.03, _tid("wall"): 0.05,
         _tid("fence"): 0.04, _tid("vegetation"): 0.13, _tid("terrain"): 0.09, _tid("sky"): 0.006,
         _tid("person"): 0.03, _tid("car"): 0.015, _tid("truck"): 0.02, _tid("bus"): 0.02}
"""Texture strength per class (standard deviation of a 0..1 luminance noise); others 0.02."""

# Material model: colour = a * first + b * second + offset, in 0..1 sRGB.
#            material     a     b     offset
_MATERIALS = {BASE:      (1.0,  0.0,  (0.0, 0.0, 0.0)),
              SECONDARY: (0.0,  1.0,  (0.0, 0.0, 0.0)),
              GLASS:     (0.15, 0.0,  (0.10, 0.12, 0.16)),
              TYRE:      (0.0,  0.0,  (0.07, 0.07, 0.07)),
              MARKING:   (0.1,  0.0,  (0.80, 0.80, 0.77)),
              TRUNK:     (0.0,  0.0,  (0.30, 0.22, 0.15)),
              SKIN:      (0.0,  0.0,  (0.80, 0.62, 0.50)),
              HOOD:      (1.0,  0.0,  (0.0, 0.0, 0.0)),
              SHOPFRONT: (0.1,  0.0,  (0.22, 0.20, 0.17)),
              CURB:      (0.4,  0.0,  (0.42, 0.42, 0.42)),
              LAMP:      (0.0,  0.0,  (0.72, 0.10, 0.08))}
# fmt: on
_MAT_A = np.array([_MATERIALS[m][0] for m in range(len(_MATERIALS))], np.float32)
_MAT_B = np.array([_MATERIALS[m][1] for m in range(len(_MATERIALS))], np.float32)
_MAT_OFFSET = np.array([_MATERIALS[m][2] for m in range(len(_MATERIALS))], np.float32)
_NOISE_BY_LABEL = np.full(256, 0.02, np.float32)
_NOISE_BY_LABEL[list(NOISE)] = list(NOISE.values())


@functools.lru_cache(maxsize=4)
def _noise_tile(rows: int, cols: int) -> np.ndarray:
    """(2*rows, 2*cols) float32 noise, fine grain plus blotches; fixed, so frames stay seed-determined.

    Made once per size and process; each frame reads a random window of it,
    which costs a slice instead of fresh random numbers for every pixel.
    """
    rng = np.random.default_rng(20170721)  # fixed: the tile is part of the renderer, not of a frame
    fine = rng.standard_normal((2 * rows, 2 * cols), dtype=np.float32)
    coarse = rng.standard_normal((rows // 4 + 1, cols // 4 + 1), dtype=np.float32)
    coarse = np.kron(coarse, np.ones((8, 8), np.float32))[: 2 * rows, : 2 * cols]
    coarse = (coarse + np.roll(coarse, 4, 0) + np.roll(coarse, 4, 1) + np.roll(coarse, (4, 4), (0, 1))) / 4
    return 0.7 * fine + 0.7 * coarse


def _palette_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`PALETTES` as arrays indexed by trainId (classes without a palette use IGNORE's).

    Returns (modes (256, K, 3), cumulative weights (256, K), second colours
    (256, K2, 3), number of second colours (256,), 0 = "darker first colour").
    """
    size = max(len(p[0]) for p in PALETTES.values())
    size2 = max(len(p[2] or ()) for p in PALETTES.values())
    modes, cumulative = np.zeros((256, size, 3), np.float32), np.full((256, size), 2.0, np.float32)
    seconds, n_seconds = np.zeros((256, size2, 3), np.float32), np.zeros(256, np.intp)
    for label in range(256):
        first, weights, second = PALETTES.get(label, PALETTES[IGNORE])
        modes[label, : len(first)] = first
        cumulative[label, : len(first)] = np.cumsum(weights) / np.sum(weights)
        if second:
            seconds[label, : len(second)] = second
            n_seconds[label] = len(second)
    return modes, cumulative, seconds, n_seconds


_MODES, _CUMULATIVE, _SECONDS, _N_SECONDS = _palette_tables()


def _instance_colours(rng: np.random.Generator, canvas: Canvas) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) first and second colours of the N instances, 0..1 float32, drawn for all at once."""
    labels = np.array(canvas.instance_labels, np.intp)
    n = labels.size
    pick = (rng.random(n)[:, None] > _CUMULATIVE[labels]).sum(axis=1)  # a mode by its weight
    jitter = rng.normal(0, 4, (n, 3)) + rng.normal(0, 12, (n, 1))  # tint, brightness
    first = _MODES[labels, pick] + jitter
    own = _N_SECONDS[labels]
    pick2 = (rng.random(n) * own).astype(np.intp)
    second = np.where((own > 0)[:, None], _SECONDS[labels, pick2] + rng.normal(0, 8, (n, 3)),
                      first * rng.uniform(0.6, 0.8, (n, 1)))
    sky = labels == SKY
    second[sky] = np.array(SKY_HORIZON, np.float32)[pick[sky]] + jitter[sky]
    light = np.array(canvas.instance_light, np.float32)[:, None] / 255
    return (np.clip(first, 0, 255) * light).astype(np.float32), (np.clip(second, 0, 255) * light).astype(np.float32)


def render_photo(rng: np.random.Generator, canvas: Canvas) -> np.ndarray:
    """Render the photo of a composed scene.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws colours, lighting and the noise window.
    canvas : Canvas
        The composed scene (labels, instances, materials, shade).

    Returns
    -------
    photo : (H, W, 3) uint8 ndarray
        sRGB photo at the canvas resolution.
    """
    rows, cols = canvas.labels.shape
    first, second = _instance_colours(rng, canvas)
    cast = (rng.uniform(0.85, 1.12) * rng.normal(1, 0.035, 3)).astype(np.float32)  # exposure, colour cast
    # one colour per (instance, material) pair: the per-pixel work is a single table lookup
    table = first[:, None] * _MAT_A[None, :, None] + second[:, None] * _MAT_B[None, :, None] + _MAT_OFFSET
    table = (table * (255 * cast)).reshape(-1, 3)
    key = canvas.instances.astype(np.intp) * len(_MAT_A)
    key += canvas.materials
    photo = np.take(table, key, axis=0)  # faster than table[key] for this gather
    # the sky (instance 0, only above the horizon) blends from its colour at the top to a paler one
    sky_rows = min(int(np.ceil(canvas.camera.horizon)) + 1, rows)
    t = (np.arange(sky_rows, dtype=np.float32) / max(canvas.camera.horizon, 1))[:, None, None] ** 1.5
    sky = (first[0] + (second[0] - first[0]) * np.clip(t, 0, 1)) * (255 * cast)
    top = photo[:sky_rows]
    np.copyto(top, np.broadcast_to(sky, top.shape), where=(canvas.instances[:sky_rows] == 0)[..., None])
    # sunlight falls off across the frame in a random direction; shadows scale it; texture adds to it
    gx, gy = rng.uniform(-0.25, 0.25, 2)
    gain = (1 + gx * (np.arange(cols, dtype=np.float32) / cols - 0.5))[None, :] + gy * (
        np.arange(rows, dtype=np.float32) / rows - 0.5)[:, None]
    gain *= canvas.shade
    r0, c0 = rng.integers(rows), rng.integers(cols)
    texture = _noise_tile(rows, cols)[r0 : r0 + rows, c0 : c0 + cols] * (255 * _NOISE_BY_LABEL)[canvas.labels]
    texture += 0.5  # rounds, in the truncating cast below
    photo *= gain[..., None]
    photo += texture[..., None]
    np.clip(photo, 0, 255, out=photo)
    return photo.astype(np.uint8)
