"""Colorfulness histograms: p2p-eval's vectorised path against a naive per-image loop.

The naive loop is what one writes first: ``skimage.color.rgb2lab`` per image,
then ``numpy.histogram`` per channel. Both run on the same images in this one
process, interleaved, best of several repeats; the script prints both times,
the ratio, and whether the counts agree exactly.

    python benchmarks/bench_colorfulness.py [--images 64] [--size 256] [--repeats 5]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

# One BLAS thread, set before numpy loads: the comparison is per core, and the
# machine is shared.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from p2p_eval.data.files import read_rgb, write_png  # noqa: E402
from p2p_eval.metrics.colorfulness import DEFAULT_BINNING, LAB_RANGES, lab_histograms  # noqa: E402


def photo_like_images(count: int, size: int, seed: int = 0) -> np.ndarray:
    """Smooth random colour fields plus noise: photo-like spread of Lab values, shape (N, size, size, 3)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(count, 8, 8, 3)).astype(np.float64)
    smooth = coarse.repeat(size // 8, axis=1).repeat(size // 8, axis=2)
    return np.clip(smooth + rng.normal(0, 12, smooth.shape), 0, 255).astype(np.uint8)


def naive_histograms(images) -> np.ndarray:
    from skimage.color import rgb2lab

    counts = np.zeros(DEFAULT_BINNING.total, dtype=np.int64)
    for image in images:
        lab = rgb2lab(image).reshape(-1, 3)
        counts += np.concatenate([
            np.histogram(lab[:, c], bins=DEFAULT_BINNING.bins[c], range=LAB_RANGES[c])[0] for c in range(3)
        ])
    return counts


def best_times(naive, ours, repeats: int) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Best wall time of each, the two alternating so both meet the same machine load."""
    best = [float("inf"), float("inf")]
    results = [None, None]
    for _ in range(repeats):
        for slot, function in enumerate((naive, ours)):
            start = time.perf_counter()
            results[slot] = function()
            best[slot] = min(best[slot], time.perf_counter() - start)
    return best[0], best[1], results[0], results[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    images = photo_like_images(args.images, args.size)
    with tempfile.TemporaryDirectory() as folder:
        paths = [Path(folder) / f"{i:04d}.png" for i in range(len(images))]
        for path, image in zip(paths, images):
            write_png(path, image)
        cases = {
            "arrays": (lambda: naive_histograms(images), lambda: lab_histograms(images)),
            "PNG files (decode included)": (
                lambda: naive_histograms(read_rgb(p) for p in paths),
                lambda: lab_histograms(read_rgb(p) for p in paths),
            ),
        }
        print(f"{args.images} images of {args.size}x{args.size}, default binning {DEFAULT_BINNING.bins}, "
              f"best of {args.repeats} alternating runs, one thread")
        for name, (naive, ours) in cases.items():
            naive_s, ours_s, naive_counts, ours_counts = best_times(naive, ours, args.repeats)
            same = np.array_equal(naive_counts, ours_counts)
            print(f"{name:<28} naive skimage+numpy {naive_s:7.3f} s   p2p-eval {ours_s:7.3f} s   "
                  f"ratio {naive_s / ours_s:5.2f}x   counts identical: {same}")


if __name__ == "__main__":
    main()
