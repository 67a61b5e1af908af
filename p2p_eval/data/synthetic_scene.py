"""Geometry of the synthetic city: a pinhole camera over a flat street and a z-buffer canvas.

World coordinates are metres: ``X`` to the right of the camera, ``Y`` up from
the ground, ``z`` the depth along the street. The camera looks along the
street, level, so every street-parallel line meets at the vanishing point
``(x_v, y_h)`` on the horizon row ``y_h``. Primitives are painted through a
depth buffer, so the order in which the layout paints them does not matter
and nearer things correctly hide farther ones.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from p2p_eval.classes import NAME_TO_LABEL

SKY = NAME_TO_LABEL["sky"].train_id

# Materials: how the renderer colours a pixel of an instance (see synthetic_render).
BASE, SECONDARY, GLASS, TYRE, MARKING, TRUNK, SKIN, HOOD, SHOPFRONT, CURB, LAMP = range(11)

ShapeFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray | int]]
"""``shape(u, v) -> (mask, material)``: u in [0, 1] across, v in [0, 1] up the primitive.

u is (1, w); v is (h, 1) for camera-facing primitives and (h, w) for
street-parallel ones. The mask (and a material array) must broadcast to (h, w).
"""


@dataclass(frozen=True)
class Camera:
    """A level pinhole camera at height `height` above a flat ground.

    Attributes
    ----------
    rows, cols : int
        Image size in pixels.
    focal : float
        Focal length in pixels.
    height : float
        Camera height above the ground, metres.
    horizon : float
        Row of the horizon (and of the vanishing point).
    vanish_col : float
        Column of the vanishing point.
    """

    rows: int
    cols: int
    focal: float
    height: float
    horizon: float
    vanish_col: float

    def col(self, x: float | np.ndarray, z: float | np.ndarray) -> np.ndarray:
        """Image column of lateral position `x` at depth `z`."""
        return self.vanish_col + self.focal * x / z

    def row(self, y: float | np.ndarray, z: float | np.ndarray) -> np.ndarray:
        """Image row of height `y` above the ground at depth `z`."""
        return self.horizon + self.focal * (self.height - y) / z

    def plane_depth(self, x: float) -> np.ndarray:
        """(cols,) depth at which each column meets the street-parallel plane at lateral `x`.

        Columns on the other side of the vanishing point never meet it: +inf.
        """
        offset = np.arange(self.cols, dtype=np.float32) + 0.5 - self.vanish_col
        with np.errstate(divide="ignore", invalid="ignore"):
            depth = self.focal * x / offset
        depth[~(depth > 0)] = np.inf
        return depth

    def ground_rows(self) -> tuple[int, np.ndarray]:
        """Depth of every image row below the horizon, where it shows the ground.

        Returns
        -------
        top : int
            First row below the horizon.
        depth : (rows - top, 1) float32 ndarray
            Ground depth of each row from `top` down.
        """
        top = int(np.floor(self.horizon)) + 1
        dy = np.arange(top, self.rows, dtype=np.float32)[:, None] + 0.5 - self.horizon
        return top, self.focal * self.height / dy


def _unit(values: np.ndarray) -> np.ndarray:
    """Clamp to [0, 1] (two ufunc calls; ``np.clip`` costs more on small arrays)."""
    return np.minimum(np.maximum(values, 0, out=values), 1, out=values)


class Canvas:
    """Label, instance, material and depth buffers a scene is painted into.

    Attributes
    ----------
    labels : (H, W) uint8 ndarray
        trainIds; starts as sky.
    instances : (H, W) uint16 ndarray
        Instance index per pixel; 0 is the sky.
    materials : (H, W) uint8 ndarray
        Material code per pixel (`BASE`, `GLASS`, ...).
    depth : (H, W) float32 ndarray
        Depth of the painted surface; +inf where nothing but sky.
    shade : (H, W) float32 ndarray
        Light multiplier from cast shadows (1 = lit).
    instance_labels : list of int
        trainId of each instance (index = instance).
    instance_light : list of float
        Light on each instance (below 1 for the facades on the street's shaded side).
    """

    def __init__(self, camera: Camera):
        shape = (camera.rows, camera.cols)
        self.camera = camera
        self.labels = np.full(shape, SKY, np.uint8)
        self.instances = np.zeros(shape, np.uint16)
        self.materials = np.zeros(shape, np.uint8)
        self.depth = np.full(shape, np.inf, np.float32)
        self.shade = np.ones(shape, np.float32)
        self.instance_labels = [SKY]
        self.instance_light = [1.0]
        self._shadows: list[tuple[float, float, float, float, float]] = []
        self._centres = np.arange(max(shape), dtype=np.float32) + 0.5  # pixel centres, sliced per primitive

    def new_instance(self, train_id: int) -> int:
        self.instance_labels.append(train_id)
        self.instance_light.append(1.0)
        return len(self.instance_labels) - 1

    def paint(self, top: int, left: int, mask: np.ndarray, depth, label, instance, material=BASE) -> None:
        """Paint `mask` placed at (`top`, `left`) where it is nearer than what is there.

        `depth`, `label`, `instance` and `material` are scalars or arrays that
        broadcast to ``mask.shape``; the part of the mask outside the canvas is
        clipped off.
        """
        h, w = mask.shape
        r0, c0 = max(top, 0), max(left, 0)
        r1, c1 = min(top + h, self.labels.shape[0]), min(left + w, self.labels.shape[1])
        if r0 >= r1 or c0 >= c1:
            return
        inner = (slice(r0 - top, r1 - top), slice(c0 - left, c1 - left))
        region = (slice(r0, r1), slice(c0, c1))
        whole = (r1 - r0, c1 - c0) == (h, w)

        def crop(value):  # the visible part of an array value; (1, w) and (h, 1) arrays broadcast
            if whole or not isinstance(value, np.ndarray) or value.ndim == 0:
                return value
            return value[tuple(s if n > 1 else slice(None) for s, n in zip(inner, value.shape))]

        depth = crop(depth)
        win = (mask if whole else mask[inner]) & (depth < self.depth[region])
        for buffer, value in ((self.depth, depth), (self.labels, label), (self.instances, instance), (self.materials, material)):
            np.copyto(buffer[region], crop(value), where=win, casting="unsafe")

    def front(self, x0: float, x1: float, y0: float, y1: float, z: float, shape: ShapeFn, label: int, instance: int) -> None:
        """Paint a camera-facing rectangle at depth `z` (X in [x0, x1], Y in [y0, y1]) through `shape`."""
        cam = self.camera
        left, right = cam.col(x0, z), cam.col(x1, z)
        top, bottom = cam.row(y1, z), cam.row(y0, z)
        # The pixel box is the coverage: clamping u, v (not masking) keeps sub-pixel poles visible.
        c0, c1 = max(int(np.floor(left)), 0), min(int(np.ceil(right)), cam.cols)
        r0, r1 = max(int(np.floor(top)), 0), min(int(np.ceil(bottom)), cam.rows)
        if c1 <= c0 or r1 <= r0 or (self.depth[r0:r1, c0:c1] <= z).all():  # off-canvas or hidden
            return
        u = _unit((self._centres[c0:c1] - left) / max(right - left, 1e-3))
        v = _unit((bottom - self._centres[r0:r1]) / max(bottom - top, 1e-3))
        mask, material = shape(u[None, :], v[:, None])  # (1, w) and (h, 1): shapes broadcast them
        self.paint(r0, c0, np.broadcast_to(mask, (r1 - r0, c1 - c0)), np.float32(z), label, instance, material)

    def side(self, x: float, z0: float, z1: float, y1: float, shape: ShapeFn, label: int, instance: int) -> None:
        """Paint a street-parallel vertical rectangle (lateral `x`, depth z0..z1, height 0..y1).

        `shape` gets u = position along the length (0 at z0) and v = Y / y1.
        """
        cam = self.camera
        depth = cam.plane_depth(x)
        cols = np.nonzero((depth >= z0) & (depth <= z1))[0]
        if cols.size == 0:
            return
        c0, c1 = cols[0], cols[-1] + 1
        zc = depth[c0:c1][None, :]
        r0 = max(int(np.floor(cam.row(y1, zc).min())), 0)
        r1 = min(int(np.ceil(cam.row(0.0, zc).max())), cam.rows)
        if r1 <= r0:
            return
        rows = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5
        height = cam.height - (rows - cam.horizon) * zc / cam.focal
        u = (zc - z0) / (z1 - z0)
        v = height / y1
        mask, material = shape(u, v)
        mask = mask & (v >= 0) & (v <= 1)
        self.paint(r0, c0, mask, zc, label, instance, material)

    def ground_shadow(self, x0: float, x1: float, z0: float, z1: float, strength: float) -> None:
        """Cast a shadow on the ground rectangle X in [x0, x1], depth in [z0, z1] (see `apply_shadows`)."""
        self._shadows.append((x0, x1, z0, z1, strength))

    def apply_shadows(self) -> None:
        """Darken the ground under every cast shadow; call once everything is painted.

        Only pixels that still show the ground are darkened, not what stands on it.
        """
        for shadow in self._shadows:
            self._darken_ground(*shadow)
        self._shadows.clear()

    def _darken_ground(self, x0: float, x1: float, z0: float, z1: float, strength: float) -> None:
        cam = self.camera
        r0 = max(int(np.floor(cam.row(0.0, z1))), int(np.floor(cam.horizon)) + 1, 0)
        r1 = min(int(np.ceil(cam.row(0.0, z0))) + 1, cam.rows)
        near = max(z0, cam.focal * cam.height / (cam.rows - cam.horizon))  # nearest visible ground depth
        corners = [cam.col(x, z) for x in (x0 - 0.4, x1 + 0.4) for z in (near, z1)]
        c0, c1 = max(int(min(corners)), 0), min(int(np.ceil(max(corners))) + 1, cam.cols)
        if r1 <= r0 or c1 <= c0:
            return
        dy = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5 - cam.horizon
        offset = np.arange(c0, c1, dtype=np.float32)[None, :] + 0.5 - cam.vanish_col
        lateral = offset * (cam.height / dy)
        # soft edges: full strength inside, fading over 0.4 m
        inside = np.clip(np.minimum(lateral - x0, x1 - lateral) / 0.4, 0, 1) * strength
        region = self.shade[r0:r1, c0:c1]
        ground = self.depth[r0:r1, c0:c1] >= (cam.focal * cam.height / dy) * 0.999
        np.multiply(region, 1 - inside * ground, out=region)
