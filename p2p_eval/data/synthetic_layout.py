"""Composing one street scene of the synthetic city into a `Canvas`.

A straight street seen from a car: road (with lane markings and sometimes a
zebra crossing), sidewalks with curbs and paving, optional grass strips,
facades of buildings, walls, fences and hedges along both sides with taller
buildings or trees set back behind them, a skyline closing the street, and
objects placed in the world: parked and moving cars, a bus or truck, people,
poles carrying signs and traffic lights, trees, and sometimes the ego
vehicle's bonnet (ignored, like Cityscapes' "ego vehicle"). Everything is
drawn from one `numpy.random.Generator`, so a seed fixes the scene.
"""

import numpy as np

from p2p_eval.classes import IGNORE, NAME_TO_LABEL
from p2p_eval.data import synthetic_shapes as shapes
from p2p_eval.data.synthetic_scene import CURB, GLASS, HOOD, MARKING, SECONDARY, SHOPFRONT, Camera, Canvas

ID = {name: NAME_TO_LABEL[name].train_id for name in (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "person", "car", "truck", "bus")}
SIDE_KINDS = ("building", "vegetation", "wall", "fence")
SIDE_KIND_P = (0.62, 0.14, 0.12, 0.12)


def compose_street(rng: np.random.Generator, rows: int, cols: int) -> Canvas:
    """Paint a random street scene of `rows` x `cols` pixels.

    Returns
    -------
    canvas : Canvas
        Labels (trainIds), instances, materials, depth and shade of the scene.
    """
    camera = Camera(rows=rows, cols=cols, focal=cols * rng.uniform(0.7, 0.95), height=rng.uniform(1.3, 1.7),
                    horizon=rows * rng.uniform(0.38, 0.48), vanish_col=cols * rng.uniform(0.38, 0.62))
    canvas = Canvas(camera)
    road = (-rng.uniform(2.5, 6.0), rng.uniform(3.0, 8.5))
    sidewalk = (rng.uniform(2.5, 5.5), rng.uniform(2.5, 5.5))
    grass = tuple(rng.uniform(0.8, 3.0) if rng.random() < 0.35 else 0.0 for _ in range(2))
    facade = (road[0] - sidewalk[0] - grass[0], road[1] + sidewalk[1] + grass[1])
    street_end = rng.uniform(70, 160)
    _paint_ground(canvas, rng, road, sidewalk)
    shaded_side = int(rng.integers(2))
    for side in (0, 1):
        sign = -1 if side == 0 else 1
        _paint_side(canvas, rng, facade[side], street_end, front=True, shaded=side == shaded_side)
        _paint_side(canvas, rng, facade[side] + sign * rng.uniform(6, 18), street_end, front=False,
                    shaded=side == shaded_side)
    _paint_skyline(canvas, rng, street_end, facade)
    # the shaded side's buildings throw their shadow across its sidewalk and part of the road
    reach = rng.uniform(1.0, 7.0)
    lo, hi = (facade[0] - 1, facade[0] + reach) if shaded_side == 0 else (facade[1] - reach, facade[1] + 1)
    canvas.ground_shadow(lo, hi, 0.5, street_end, rng.uniform(0.25, 0.45))
    _place_vehicles(canvas, rng, road)
    _place_people(canvas, rng, road, sidewalk)
    _place_street_furniture(canvas, rng, road, sidewalk)
    if rng.random() < 0.5:
        _paint_hood(canvas, rng)
    canvas.apply_shadows()
    return canvas


def _paint_ground(canvas: Canvas, rng, road, sidewalk) -> None:
    """Road, sidewalks and grass, with lane lines, zebra, curbs and paving joints.

    Ground bands are intervals of lateral position X, so each row is a run of
    column intervals: they are drawn with `_row_intervals` (one cumulative sum)
    instead of comparing every pixel's X with every boundary.
    """
    cam = canvas.camera
    top, depth = cam.ground_rows()
    scale = (depth[:, 0] / cam.focal)[:, None]  # metres per pixel in each ground row

    def at(x):  # (rows, k) centre columns of lateral positions x (scalars or (k,) arrays)
        return cam.vanish_col + np.atleast_1d(np.asarray(x, np.float32))[None, :] / scale

    bounds = at([road[0] - sidewalk[0], road[0], road[1], road[1] + sidewalk[1]])
    band = _row_intervals(cam.cols, bounds, np.full_like(bounds, np.inf), count=True)
    # band: 0 grass | 1 left sidewalk | 2 road | 3 right sidewalk | 4 grass
    names = ("terrain", "sidewalk", "road", "sidewalk", "terrain")
    labels = np.take(np.array([ID[n] for n in names], np.uint8), band)
    lawn = canvas.new_instance(ID["terrain"])
    instances = np.take(np.array([lawn, *(canvas.new_instance(ID[n]) for n in names[1:4]), lawn], np.uint16), band)
    walk = labels == ID["sidewalk"]
    tile = rng.uniform(0.4, 0.8)
    joints_x = np.concatenate([road[0] - tile * np.arange(1, sidewalk[0] / tile), road[1] + tile * np.arange(1, sidewalk[1] / tile)])
    joints = _row_intervals(cam.cols, at(joints_x - 0.03), at(joints_x + 0.03)) | (_frac(depth / tile) * tile < 0.06)
    curbs = _row_intervals(cam.cols, at([road[0] - 0.22, road[1]]), at([road[0], road[1] + 0.22]))
    # lane lines every 3-3.5 m, dashed along the depth; a solid line near each road edge; maybe a zebra
    lane = rng.uniform(3.0, 3.5)
    lines = road[0] + lane * np.arange(1, (road[1] - road[0]) / lane)
    lines = lines[lines < road[1] - 1.0]
    dashed = _frac(depth / rng.uniform(5, 9)) < 0.45
    starts, ends = at(lines - 0.08), at(lines + 0.08)
    ends[~dashed[:, 0]] = starts[~dashed[:, 0]]  # gaps between dashes: empty intervals
    starts = np.concatenate([starts, at([road[0] + 0.28, road[1] - 0.42])], axis=1)  # edge lines
    ends = np.concatenate([ends, at([road[0] + 0.42, road[1] - 0.28])], axis=1)
    if rng.random() < 0.3:
        z0 = rng.uniform(8, 25)
        stripes = road[0] + np.arange(0.25, road[1] - road[0] - 0.5, 1.0)
        zebra_starts, zebra_ends = at(stripes), at(stripes + 0.5)
        outside = ~((depth[:, 0] > z0) & (depth[:, 0] < z0 + 3.5))
        zebra_ends[outside] = zebra_starts[outside]
        starts, ends = np.concatenate([starts, zebra_starts], axis=1), np.concatenate([ends, zebra_ends], axis=1)
    marks = _row_intervals(cam.cols, starts, ends)
    material = np.zeros(band.shape, np.uint8)  # BASE
    for code, where in ((SECONDARY, walk & joints), (CURB, curbs), (MARKING, marks)):
        np.copyto(material, code, where=where)
    canvas.paint(top, 0, np.ones(band.shape, bool), depth, labels, instances, material)


def _row_intervals(width: int, starts: np.ndarray, ends: np.ndarray, *, count: bool = False) -> np.ndarray:
    """(rows, width) mask of the pixels whose centre lies in any [start, end) of its row.

    `starts` and `ends` are (rows, k) positions in pixel-centre units (pixel c
    has its centre at c + 0.5). With `count`, return instead how many starts
    each pixel has passed (int), for ordered band boundaries.
    """
    rows = starts.shape[0]
    first = np.clip(np.ceil(starts - 0.5), 0, width).astype(np.intp)
    last = np.clip(np.ceil(ends - 0.5), 0, width).astype(np.intp)
    offset = (np.arange(rows) * (width + 1))[:, None]
    marks = np.bincount((first + offset).ravel(), minlength=rows * (width + 1))
    if not count:
        marks -= np.bincount((np.maximum(last, first) + offset).ravel(), minlength=rows * (width + 1))
    inside = np.cumsum(marks.astype(np.int16).reshape(rows, width + 1)[:, :width], axis=1, dtype=np.int16)
    return inside if count else inside > 0


def _segments(rng, street_end: float, front: bool):
    """Consecutive stretches along the street: (start, end, kind, height, params)."""
    out, z = [], 0.5
    while z < street_end:
        length = rng.uniform(8, 28)
        kind = rng.choice(SIDE_KINDS, p=SIDE_KIND_P) if front else ("building" if rng.random() < 0.8 else "vegetation")
        height = {"building": rng.uniform(8, 26), "vegetation": rng.uniform(3, 12),
                  "wall": rng.uniform(1.0, 2.6), "fence": rng.uniform(1.0, 2.2)}[kind]
        out.append((z, z + length, kind, height, (rng.uniform(2.8, 3.6), rng.uniform(2.4, 4.0),
                                                   rng.uniform(0.35, 0.6), rng.random() < 0.5)))
        z += length
    return out


def _paint_side(canvas: Canvas, rng, x: float, street_end: float, front: bool, shaded: bool) -> None:
    """Paint one street-parallel layer of facades at lateral position `x`, segment by segment."""
    cam = canvas.camera
    segs = _segments(rng, street_end, front)
    depth = cam.plane_depth(x)
    cols = np.nonzero(depth < street_end)[0]
    if cols.size == 0:
        return
    c0, c1 = cols[0], cols[-1] + 1
    z = depth[c0:c1]
    which = np.clip(np.searchsorted([s[1] for s in segs], z), 0, len(segs) - 1)
    phase = rng.uniform(0, 6.3)
    table = np.array([(s[3], SIDE_KINDS.index(s[2]), *s[4][:3], s[4][3]) for s in segs], np.float32)
    height, kind, floor, spacing, window, shop = (table[which, i] for i in range(6))
    is_veg = kind == SIDE_KINDS.index("vegetation")
    height = height + is_veg * (0.8 * np.sin(z * 0.9 + phase) + 0.5 * np.sin(z * 2.3 + 2 * phase))
    r0 = max(int(np.floor(cam.row(height, z).min())), 0)
    r1 = min(int(np.ceil(cam.row(0.0, z).max())), cam.rows)
    if r1 <= r0:
        return
    rows = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5
    y = cam.height - (rows - cam.horizon) * z[None, :] / cam.focal
    mask = (y >= 0) & (y <= height[None, :])
    labels = np.array([ID[k] for k in SIDE_KINDS], np.uint8)[kind.astype(int)]
    instances = np.array([canvas.new_instance(ID[s[2]]) for s in segs], np.uint16)[which]
    for i in np.unique(instances):
        canvas.instance_light[i] = 0.62 if shaded else 1.0
    material = np.zeros(mask.shape, np.uint8)
    building = kind == SIDE_KINDS.index("building")
    along = _frac(z / spacing)
    # windows only in columns of a window and wider than ~2 px (narrower ones would alias)
    cols = np.nonzero(building & (along < window) & (cam.focal * spacing / z > 4))[0]
    storey = _frac((y[:, cols] - 3.2) / floor[cols])
    material[:, cols] = np.where((storey > 0.35) & (storey < 0.8) & (y[:, cols] > 3.2)
                                 & (y[:, cols] < height[cols] - 1.0), GLASS, 0)
    cols = np.nonzero(building & (shop > 0) & (along < 0.8))[0]
    material[:, cols] = np.where((y[:, cols] > 0.3) & (y[:, cols] < 2.7), SHOPFRONT, material[:, cols])
    material[(y > height - 0.6) & building] = SECONDARY  # cornice
    slats = (kind == SIDE_KINDS.index("fence")) & (_frac(z / 0.35) < 0.3) & (cam.focal * 0.35 / z > 3)
    material[:, slats] = SECONDARY
    canvas.paint(r0, c0, mask, np.broadcast_to(z[None, :], mask.shape), labels[None, :], instances[None, :], material)


def _frac(values: np.ndarray) -> np.ndarray:
    """Fractional part (numpy's float ``%`` is many times slower than floor)."""
    return values - np.floor(values)


def _paint_skyline(canvas: Canvas, rng, z: float, facade) -> None:
    """Close the street with a row of buildings and trees across it at depth `z`."""
    x = facade[0] - 40
    while x < facade[1] + 40:
        width = rng.uniform(6, 25)
        name = "building" if rng.random() < 0.8 else "vegetation"
        height = rng.uniform(6, 30) if name == "building" else rng.uniform(5, 12)
        canvas.front(x, x + width, 0, height, z, shapes.full(), ID[name], canvas.new_instance(ID[name]))
        x += width


def _place_vehicles(canvas: Canvas, rng, road) -> None:
    """Parked cars along both curbs, traffic in the lanes, and a bus or truck."""
    vehicles = []
    for side, edge in ((0, road[0] + 1.1), (1, road[1] - 1.1)):
        z = rng.uniform(3, 12)
        for _ in range(int(rng.integers(0, 6))):
            vehicles.append(("car", edge + rng.normal(0, 0.1), z))
            z += rng.uniform(5.0, 14.0)
    for _ in range(int(rng.integers(0, 4))):
        vehicles.append(("car", rng.uniform(road[0] + 2.5, road[1] - 2.5), rng.uniform(7, 70)))
    if rng.random() < 0.75:
        kind = "bus" if rng.random() < 0.5 else "truck"
        x = rng.choice([road[0] + 1.5, road[1] - 1.5, rng.uniform(road[0] + 2, road[1] - 2)])
        vehicles.append((kind, x, rng.uniform(9, 45)))
    for kind, x, z in vehicles:
        width, height, length = {"car": (1.8, rng.uniform(1.4, 1.6), 4.3), "bus": (2.5, 3.2, 11.0),
                                 "truck": (2.5, rng.uniform(3.2, 3.8), 8.0)}[kind]
        inst = canvas.new_instance(ID[kind])
        back = {"car": shapes.car_back, "bus": shapes.bus_back, "truck": shapes.truck_back}[kind]
        side = {"car": shapes.car_side, "bus": shapes.bus_side, "truck": shapes.truck_side}[kind]
        canvas.front(x - width / 2, x + width / 2, 0, height, z, back(width, height), ID[kind], inst)
        near_side = x - width / 2 if x > 0 else x + width / 2  # the side facing the camera
        canvas.side(near_side, z, z + length, height, side(length, height), ID[kind], inst)
        canvas.ground_shadow(x - width / 2 - 0.1, x + width / 2 + 0.3, z - 0.3, z + length, 0.55)


def _place_people(canvas: Canvas, rng, road, sidewalk) -> None:
    for _ in range(int(rng.integers(0, 13))):
        side = int(rng.integers(2))
        if rng.random() < 0.15:  # crossing the road
            x = rng.uniform(road[0], road[1])
        else:
            x = road[side] + (1 if side else -1) * rng.uniform(0.5, max(sidewalk[side] - 0.3, 0.6))
        z, height, width = rng.uniform(4, 45), rng.uniform(1.55, 1.95), rng.uniform(0.45, 0.6)
        inst = canvas.new_instance(ID["person"])
        canvas.front(x - width / 2, x + width / 2, 0, height, z, shapes.person(width, height, rng.uniform(0, 0.4)),
                     ID["person"], inst)
        canvas.ground_shadow(x - 0.3, x + 0.5, z - 0.2, z + 0.6, 0.4)


def _place_street_furniture(canvas: Canvas, rng, road, sidewalk) -> None:
    """Poles with signs and traffic lights near the curbs; trees along the sidewalks."""
    for side in (0, 1):
        out = -1 if side == 0 else 1
        z = rng.uniform(3, 12)
        while z < 90:
            x = road[side] + out * rng.uniform(0.3, 0.7)
            top = rng.uniform(3.5, 7.5)
            thick = rng.uniform(0.1, 0.2)
            canvas.front(x - thick / 2, x + thick / 2, 0, top, z, shapes.full(), ID["pole"], canvas.new_instance(ID["pole"]))
            what = rng.random()
            if what < 0.45:
                size, y = rng.uniform(0.5, 0.8), rng.uniform(2.0, top - 0.2)
                canvas.front(x - size / 2 - out * 0.1, x + size / 2 - out * 0.1, y - size, y, z - 0.05,
                             shapes.sign(int(rng.integers(3))), ID["traffic sign"], canvas.new_instance(ID["traffic sign"]))
            elif what < 0.75:
                y = min(top, rng.uniform(3.0, 4.5))
                canvas.front(x - 0.2, x + 0.2, y - 1.0, y, z - 0.05, shapes.traffic_light(int(rng.integers(3))),
                             ID["traffic light"], canvas.new_instance(ID["traffic light"]))
            z += rng.uniform(8, 30)
        if rng.random() < 0.45:
            z = rng.uniform(4, 12)
            spacing = rng.uniform(7, 12)
            while z < 60:
                x = road[side] + out * rng.uniform(max(sidewalk[side] - 1.2, 0.6), max(sidewalk[side] - 0.5, 0.8))
                bole, radius = rng.uniform(2.0, 3.5), rng.uniform(1.4, 2.8)
                inst = canvas.new_instance(ID["vegetation"])
                canvas.front(x - 0.15, x + 0.15, 0, bole + 0.5, z, shapes.trunk(), ID["vegetation"], inst)
                canvas.front(x - radius, x + radius, bole, bole + 1.8 * radius, z - 0.1,
                             shapes.crown(rng.uniform(0, 6.3), int(rng.integers(5, 9))), ID["vegetation"], inst)
                z += spacing * rng.uniform(0.8, 1.2)


def _paint_hood(canvas: Canvas, rng) -> None:
    """The ego vehicle's bonnet across the bottom rows, ignored in evaluation (trainId 255)."""
    cam = canvas.camera
    rise = int(cam.rows * rng.uniform(0.04, 0.08))
    cols = (np.arange(cam.cols, dtype=np.float32) + 0.5) / cam.cols - rng.uniform(0.45, 0.55)
    rows = np.arange(cam.rows - rise, cam.rows, dtype=np.float32)[:, None] + 0.5
    edge = cam.rows - rise * (1 - 1.6 * cols**2)[None, :]
    mask = rows >= edge
    canvas.paint(cam.rows - rise, 0, mask, np.float32(0.01), IGNORE, canvas.new_instance(IGNORE), HOOD)
