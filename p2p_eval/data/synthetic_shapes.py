"""Silhouettes of the synthetic city's objects, as functions of primitive coordinates.

Each factory returns a `ShapeFn` ``shape(u, v) -> (mask, material)`` for
`Canvas.front` (u across, v up) or `Canvas.side` (u along the length, v up),
with u and v in [0, 1] and the object's size in metres baked in so round
parts (wheels, heads, lenses) stay round. All are plain numpy expressions on
the coordinate grids, evaluated once per object.
"""

import numpy as np

from p2p_eval.data.synthetic_scene import BASE, GLASS, LAMP, SECONDARY, SKIN, TRUNK, TYRE, ShapeFn


def _set(material: np.ndarray, code: int, where: np.ndarray) -> None:
    """Give `code` to the pixels of `where` (any shape that broadcasts to `material`)."""
    np.copyto(material, code, where=where)


def _grid(u, v, fill=BASE) -> np.ndarray:
    return np.full(np.broadcast_shapes(u.shape, v.shape), fill, np.uint8)


def _disc(u, v, cu, cv, ru, rv):
    return ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 <= 1.0


def full(material: int = BASE) -> ShapeFn:
    """The whole rectangle in one material (poles, walls)."""
    return lambda u, v: (np.ones(np.broadcast_shapes(u.shape, v.shape), bool), material)


def car_back(width: float, height: float) -> ShapeFn:
    """A car seen from behind: body, narrower cabin with rear window, lights, bumper, tyres."""

    def shape(u, v):
        taper = 0.12 + 0.1 * np.clip((v - 0.6) / 0.4, 0, 1)
        mask = (v < 0.6) | ((u > taper) & (u < 1 - taper))
        material = _grid(u, v)
        _set(material, GLASS, (v > 0.66) & (v < 0.93) & (u > taper + 0.05) & (u < 0.95 - taper))
        _set(material, LAMP, (v > 0.4) & (v < 0.52) & ((u < 0.14) | (u > 0.86)))
        _set(material, SECONDARY, (v > 0.1) & (v < 0.2))
        _set(material, TYRE, (v < 0.12) & ((u < 0.18) | (u > 0.82)))
        return mask, material

    return shape


def car_side(length: float, height: float) -> ShapeFn:
    """A car seen from the side: body, cabin with windows, two wheels."""
    wheel = 0.33 / height  # wheel radius in v units

    def shape(u, v):
        front, back = 0.22 + 0.08 * np.clip((v - 0.6) / 0.4, 0, 1), 0.82 - 0.05 * np.clip((v - 0.6) / 0.4, 0, 1)
        mask = (v < 0.6) | ((u > front) & (u < back))
        material = _grid(u, v)
        _set(material, GLASS, (v > 0.64) & (v < 0.93) & (u > front + 0.03) & (u < back - 0.03))
        _set(material, SECONDARY, (v > 0.1) & (v < 0.16))
        for centre in (0.17, 0.8):
            _set(material, TYRE, _disc(u * length, v, centre * length, wheel, 0.33, wheel))
        return mask, material

    return shape


def bus_side(length: float, height: float) -> ShapeFn:
    """A bus: a long box with a band of windows split by pillars, two wheels."""
    wheel = 0.5 / height

    def shape(u, v):
        material = _grid(u, v)
        pillars = u * (length / 1.6) - np.floor(u * (length / 1.6)) > 0.1
        _set(material, GLASS, (v > 0.42) & (v < 0.85) & pillars)
        _set(material, SECONDARY, (v > 0.2) & (v < 0.27))
        for centre in (0.15, 0.78):
            _set(material, TYRE, _disc(u * length, v, centre * length, wheel, 0.5, wheel))
        return np.ones(material.shape, bool), material

    return shape


def bus_back(width: float, height: float) -> ShapeFn:
    def shape(u, v):
        material = _grid(u, v)
        _set(material, GLASS, (v > 0.5) & (v < 0.88) & (u > 0.08) & (u < 0.92))
        _set(material, LAMP, (v > 0.15) & (v < 0.22) & ((u < 0.12) | (u > 0.88)))
        _set(material, TYRE, (v < 0.08) & ((u < 0.15) | (u > 0.85)))
        return np.ones(material.shape, bool), material

    return shape


def truck_side(length: float, height: float) -> ShapeFn:
    """A truck: a low cab at the front (u near 1) and a tall cargo box, wheels."""
    wheel = 0.5 / height

    def shape(u, v):
        cab = u > 0.8
        mask = (u < 0.78) & (v > 0.12) | cab & (v < 0.75) | (v < 0.2)
        material = _grid(u, v)
        _set(material, SECONDARY, ~cab)  # the box has its own colour
        _set(material, GLASS, cab & (v > 0.45) & (v < 0.7) & (u > 0.86))
        for centre in (0.12, 0.3, 0.9):
            _set(material, TYRE, _disc(u * length, v, centre * length, wheel, 0.5, wheel))
        return mask, material

    return shape


def truck_back(width: float, height: float) -> ShapeFn:
    def shape(u, v):
        material = _grid(u, v, SECONDARY)
        _set(material, BASE, np.abs(u - 0.5) < 0.01)  # the doors' seam
        _set(material, TYRE, (v < 0.1) & ((u < 0.15) | (u > 0.85)))
        _set(material, LAMP, (v > 0.1) & (v < 0.15) & ((u < 0.1) | (u > 0.9)))
        return np.ones(material.shape, bool), material

    return shape


def person(width: float, height: float, stride: float) -> ShapeFn:
    """A pedestrian: head (skin), torso and arms (clothes), legs apart by `stride` (trousers)."""
    head_rv = 0.065

    def shape(u, v):
        head = _disc(u * width, v, 0.5 * width, 1 - head_rv, 0.11, head_rv)
        torso = (v > 0.45) & (v < 0.86) & (np.abs(u - 0.5) < 0.3 - 0.08 * (0.86 - v))
        arms = (v > 0.5) & (v < 0.84) & (np.abs(u - 0.5) > 0.3) & (np.abs(u - 0.5) < 0.42)
        spread = 0.1 + stride * (0.47 - v)
        legs = (v <= 0.47) & (np.abs(np.abs(u - 0.5) - spread) < 0.1)
        material = np.where(head, SKIN, np.where(legs & ~torso, SECONDARY, BASE)).astype(np.uint8)
        material = np.broadcast_to(material, np.broadcast_shapes(u.shape, v.shape))
        return head | torso | arms | legs, material

    return shape


def sign(kind: int) -> ShapeFn:
    """A sign board: 0 disc, 1 rectangle, 2 triangle; a light (SECONDARY) border or symbol."""

    def shape(u, v):
        if kind == 0:
            r2 = (u - 0.5) ** 2 + (v - 0.5) ** 2
            mask, inner = r2 <= 0.25, r2 <= 0.12
        elif kind == 1:
            mask = np.ones(np.broadcast_shapes(u.shape, v.shape), bool)
            inner = (np.abs(u - 0.5) < 0.38) & (np.abs(v - 0.5) < 0.35)
        else:
            mask = np.abs(u - 0.5) <= 0.5 * (1 - v)
            inner = np.abs(u - 0.5) <= 0.5 * (1 - v) - 0.12
        material = np.where(inner, BASE, SECONDARY).astype(np.uint8)
        return mask, np.broadcast_to(material, mask.shape)

    return shape


def traffic_light(lit: int) -> ShapeFn:
    """A three-lens housing; lens `lit` (0 top .. 2 bottom) glows (SECONDARY), the others are dark."""

    def shape(u, v):
        material = _grid(u, v)
        for i, cv in enumerate((0.8, 0.5, 0.2)):
            _set(material, SECONDARY if i == lit else GLASS, _disc(u, v, 0.5, cv, 0.32, 0.11))
        return np.ones(material.shape, bool), material

    return shape


def crown(phase: float, lobes: int) -> ShapeFn:
    """A tree crown: an ellipse whose outline bulges in `lobes` leafy lobes.

    The bulge is a sum of a sine across and a sine up the crown (1-D each), so
    the outline is irregular without per-pixel trigonometry.
    """

    def shape(u, v):
        bulge = 0.05 * np.sin(0.7 * lobes * np.pi * u + phase) + 0.05 * np.sin(0.7 * lobes * np.pi * v + 2 * phase)
        return (u - 0.5) ** 2 + (v - 0.5) ** 2 <= (0.42 + bulge) ** 2, BASE

    return shape


def trunk() -> ShapeFn:
    return full(TRUNK)
