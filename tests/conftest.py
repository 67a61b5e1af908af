"""Shared fixtures: small prepared datasets and runs made on the fly."""

import os
from pathlib import Path

import numpy as np
import pytest

from p2p_eval.classes import NUM_CLASSES, colorize
from p2p_eval.data.files import write_png
from p2p_eval.data.prepared import write_dataset_json
from p2p_eval.data.runs import write_run_json

# Two workers share two cores: one torch thread each keeps them from fighting.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _blocky_labels(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """trainIds in 4x4 blocks of random classes, a few pixels ignored."""
    h, w = size
    blocks = rng.integers(0, NUM_CLASSES, size=(4, 4), dtype=np.uint8)
    labels = np.kron(blocks, np.ones((h // 4, w // 4), dtype=np.uint8))
    labels[0, :3] = 255
    return labels


def make_prepared_dataset(
    root: Path,
    *,
    splits: dict[str, int] | None = None,
    image_size: tuple[int, int] = (32, 32),
    label_size: tuple[int, int] = (32, 64),
    seed: int = 0,
) -> Path:
    """Write a prepared dataset of random blocky label maps and matching photos."""
    splits = splits or {"train": 4, "val": 3}
    rng = np.random.default_rng(seed)
    frames = {}
    for split, count in splits.items():
        frames[split] = [f"city_{i:06d}_000019" for i in range(count)]
        for frame in frames[split]:
            labels = _blocky_labels(rng, label_size)
            small = labels[:: label_size[0] // image_size[0], :: label_size[1] // image_size[1]]
            color = colorize(small)
            photo = np.clip(color.astype(int) + rng.integers(-20, 20, color.shape), 0, 255).astype(np.uint8)
            write_png(root / split / f"{frame}_photo.png", photo)
            write_png(root / split / f"{frame}_color.png", color)
            write_png(root / split / f"{frame}_trainids.png", labels)
    write_dataset_json(
        root,
        {
            "name": "tiny",
            "image_size": list(image_size),
            "label_size": list(label_size),
            "resample": {"photo": "nearest", "color": "nearest", "trainids": "nearest"},
            "splits": frames,
            "source": {"kind": "test-fixture", "seed": seed},
        },
    )
    return root


def make_run(root: Path, dataset: Path, split: str = "val", *, quality: str = "perfect", seed: int = 0) -> Path:
    """A p2p-eval run whose images are the dataset's photos ("perfect") or noise."""
    from p2p_eval.data.prepared import PreparedDataset

    data = PreparedDataset.load(dataset)
    rng = np.random.default_rng(seed)
    for frame in data.frames(split):
        from p2p_eval.data.files import read_rgb

        photo = read_rgb(data.path(split, frame, "photo"))
        if quality == "noise":
            photo = rng.integers(0, 256, photo.shape, dtype=np.uint8)
        write_png(root / "images" / split / f"{frame}.png", photo)
    write_run_json(root, {"name": root.name, "variant": "test", "dataset": str(dataset)})
    return root


@pytest.fixture
def prepared(tmp_path: Path) -> Path:
    """A tiny prepared dataset: 4 train and 3 val frames, 32x32 photos, 32x64 labels."""
    return make_prepared_dataset(tmp_path / "data")
