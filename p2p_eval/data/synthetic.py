"""The embedded synthetic city: a Cityscapes-like dataset generated from a seed.

Real Cityscapes needs a login, so p2p-eval carries its own street scenes for
the demo and the tests. Each frame is composed in Cityscapes trainIds at the
full label resolution (2:1, default 256x512; `synthetic_layout`), rendered
to a photo there (`synthetic_render`), and then treated exactly like a
Cityscapes frame: photo squashed to the square generation size with bicubic
resampling, colour label map with nearest, trainIds kept at full resolution.

Frame ``i`` of split ``s`` depends only on ``(seed, s, i)``, never on how many
frames are made or by which worker.
"""

import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from p2p_eval.classes import colorize
from p2p_eval.data.preparing import FrameArrays, FrameJob, prepare_frames, resize_labels, resize_rgb
from p2p_eval.data.synthetic_layout import compose_street
from p2p_eval.data.synthetic_render import render_photo

GENERATOR_VERSION = 2
"""Bumped whenever a change alters the frames a seed produces."""

RESAMPLE = {"photo": "bicubic", "color": "nearest", "trainids": "none (generated at label_size)"}


@dataclass(frozen=True)
class SyntheticConfig:
    """What `p2p-eval prepare synthetic` makes.

    Attributes
    ----------
    n_train, n_val : int
        Frames per split (>= 0, at least one frame in all).
    size : int
        Generation size S: photos and colour maps are S x S (>= 16).
    label_size : (int, int)
        (H, W) of the trainIds and of the rendered frame (each >= 32);
        Cityscapes' aspect is 1:2.
    seed : int
        Base seed (>= 0).
    """

    n_train: int = 200
    n_val: int = 50
    size: int = 256
    label_size: tuple[int, int] = (256, 512)
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.n_train, self.n_val) < 0 or self.n_train + self.n_val == 0:
            raise ValueError(f"Expected frame counts >= 0 and not both 0, got n_train={self.n_train}, n_val={self.n_val}.")
        if self.size < 16:
            raise ValueError(f"Expected `size` >= 16, got {self.size}.")
        if len(self.label_size) != 2 or min(self.label_size) < 32:
            raise ValueError(f"Expected `label_size` (H, W) with both >= 32, got {self.label_size}.")
        if self.seed < 0:
            raise ValueError(f"Expected `seed` >= 0, got {self.seed}.")


def frame_id(split: str, index: int) -> str:
    """``synthcity_<split>_<index>``, e.g. ``synthcity_val_000007``."""
    return f"synthcity_{split}_{index:06d}"


def frame_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of one frame, from (seed, split, index) alone.

    The split enters through its CRC-32, a stable hash (Python's ``hash`` of a
    string changes between processes).
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(zlib.crc32(split.encode()), index)))


def synthetic_scene(seed: int, split: str, index: int, label_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Compose and render one frame at label resolution.

    Returns
    -------
    photo : (H, W, 3) uint8 ndarray
    train_ids : (H, W) uint8 ndarray
        Cityscapes trainIds; 255 on the ego vehicle's bonnet.

    Examples
    --------
    >>> photo, ids = synthetic_scene(0, "train", 0, (64, 128))
    >>> photo.shape, ids.shape, ids.dtype.name
    ((64, 128, 3), (64, 128), 'uint8')
    """
    rng = frame_rng(seed, split, index)
    canvas = compose_street(rng, *label_size)
    return render_photo(rng, canvas), canvas.labels


def _synthetic_frame(job: FrameJob) -> FrameArrays:
    seed, index, size, label_size = job.args
    photo, train_ids = synthetic_scene(seed, job.split, index, label_size)
    return FrameArrays(photo=resize_rgb(photo, size, "bicubic"), color=colorize(resize_labels(train_ids, size)),
                       train_ids=train_ids)


def synthetic_jobs(config: SyntheticConfig) -> list[FrameJob]:
    args = (config.seed, config.size, tuple(config.label_size))
    return [
        FrameJob(split, frame_id(split, i), (args[0], i, *args[1:]))
        for split, count in (("train", config.n_train), ("val", config.n_val))
        for i in range(count)
    ]


def prepare_synthetic(out: str | Path, config: SyntheticConfig, *, workers: int = 1, progress: bool = True) -> dict[str, Any]:
    """Write the synthetic city as a prepared dataset (resumable); return its ``dataset.json``."""
    source = {"kind": "synthetic-city", "generator_version": GENERATOR_VERSION, **asdict(config)}
    source["label_size"] = list(config.label_size)
    meta = {"name": "synthetic-city", "resample": RESAMPLE, "source": source}
    return prepare_frames(out, synthetic_jobs(config), _synthetic_frame, meta=meta, image_size=config.size,
                          label_size=tuple(config.label_size), workers=workers, progress=progress)
