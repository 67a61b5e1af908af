"""Matching numbered PyTorch pix2pix results by content: its time vs reading every file once.

Makes a prepared split of ``--frames`` frames (photo and colour map at
``--size``) and a ``test_latest/images`` folder holding, for each, a numbered
``fake_B`` and its ``real_A``/``real_B`` siblings as ``tensor2im`` writes them
(one grey level off), then times, in one process, best of ``--repeats``:

1. ``match``: `p2p_eval.data.numbered.identify_numbered` (fingerprint index of
   every photo and colour map, shortlist, pixel check of each sibling);
2. ``read``: decoding every photo, colour map and sibling once (the floor
   any content matcher pays).

    python benchmarks/bench_numbered_matching.py               # 500 frames, 256x256: Cityscapes val
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from p2p_eval.classes import NUM_CLASSES, colorize  # noqa: E402
from p2p_eval.data.files import decode_rgb, write_png  # noqa: E402
from p2p_eval.data.numbered import identify_numbered  # noqa: E402
from p2p_eval.data.prepared import PreparedDataset, write_dataset_json  # noqa: E402


def tensor2im_of(rgb: np.ndarray) -> np.ndarray:
    """ToTensor, Normalize(0.5, 0.5) and PyTorch pix2pix's tensor2im, in float32 as they run."""
    x = (rgb.astype(np.float32) / np.float32(255) - np.float32(0.5)) / np.float32(0.5)
    return ((x + 1) / np.float32(2.0) * np.float32(255.0)).astype(np.uint8)


def make_data(root: Path, frames: int, size: int) -> tuple[PreparedDataset, dict[str, Path]]:
    rng = np.random.default_rng(0)
    names = [f"city_{i:06d}_000019" for i in range(frames)]
    folder = root / "results" / "test_latest" / "images"
    images = {}
    for i, name in enumerate(names):
        coarse = rng.integers(0, NUM_CLASSES, (8, 8), dtype=np.uint8)
        color = colorize(np.kron(coarse, np.ones((size // 8, size // 8), np.uint8)))
        photo = np.clip(color + rng.normal(0, 12, color.shape), 0, 255).astype(np.uint8)
        write_png(root / "data" / "val" / f"{name}_photo.png", photo)
        write_png(root / "data" / "val" / f"{name}_color.png", color)
        write_png(folder / f"{i}_fake_B.png", photo)
        write_png(folder / f"{i}_real_A.png", tensor2im_of(color))
        write_png(folder / f"{i}_real_B.png", tensor2im_of(photo))
        images[str(i)] = folder / f"{i}_fake_B.png"
    write_dataset_json(root / "data", {"name": "bench", "image_size": [size, size], "label_size": [size, size],
                                       "splits": {"val": names}, "source": {"kind": "benchmark"}})
    return PreparedDataset.load(root / "data"), images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data, images = make_data(Path(tmp), args.frames, args.size)
        files = [p for f in data.frames("val") for p in (data.path("val", f, "photo"), data.path("val", f, "color"))]
        files += [p.with_name(p.name.replace("fake_B", s)) for p in images.values() for s in ("real_A", "real_B")]
        times = {"match": [], "read": []}
        for _ in range(args.repeats):  # interleaved, so load changes hit both alike
            start = time.perf_counter()
            frames, record = identify_numbered(images, data, "val", workers=args.workers)
            times["match"].append(time.perf_counter() - start)
            start = time.perf_counter()
            for path in files:
                decode_rgb(path)
            times["read"].append(time.perf_counter() - start)
    assert frames == {str(i): f for i, f in enumerate(data.frames("val"))} and record["numbering"] == 0
    best = {k: min(v) for k, v in times.items()}
    print(f"{args.frames} numbered ids, {args.size}x{args.size}, workers {args.workers}; best of {args.repeats} "
          "(median); every id matched to its frame")
    for key, label in (("match", "identify_numbered"), ("read", "read every file once (1 thread)")):
        print(f"  {label:<34} {best[key]:7.3f} s ({statistics.median(times[key]):7.3f} s)  "
              f"{args.frames / best[key]:7.1f} ids/s")
    print(f"  match / read = {best['match'] / best['read']:.2f}")


if __name__ == "__main__":
    main()
