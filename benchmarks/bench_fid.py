"""FID of a run against a split's real photos: `p2p-eval fid` (first run and cached re-run) vs torch-fidelity.

The same PNGs, in p2p-eval's layout (a run's ``images/val`` folder and a
prepared dataset's ``val`` folder of ``<frame>_photo.png``), are scored with
the same Inception weights file (random weights of the FID Inception's
architecture, made here: the published file cannot be downloaded on this
machine; the work per image is the same), in this one process:

* torch-fidelity's ``calculate_metrics(input1=run images, input2=photos, fid=True)``;
* ``p2p_eval.score("fid", ...)``, the whole measure (run discovery, frame
  matching, decoding threads, features, reference, bootstrap with its default
  resamples, the results document), with the run's and the dataset's caches
  deleted first ("first run");
* the same again with the caches kept ("cached re-run": what a re-run or an
  added run costs).

Each is timed best of several rounds, interleaved. p2p-eval is timed with
its default "clean" resize; a "legacy-tf1" pass (torch-fidelity's own resize)
checks that the two FIDs agree. Weight loading, PNG decoding, resizing, the
network and the distance are inside every timing.

    python benchmarks/bench_fid.py [--images 48] [--size 256] [--repeats 2] [--batch-size 32]
"""

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from torch_fidelity import calculate_metrics  # noqa: E402
from weights_factory import write_random_weights  # noqa: E402

import p2p_eval  # noqa: E402
from p2p_eval.cache import cache_path_for  # noqa: E402
from p2p_eval.data.files import write_png  # noqa: E402
from p2p_eval.data.prepared import write_dataset_json  # noqa: E402
from p2p_eval.data.runs import write_run_json  # noqa: E402

DECODE_THREADS = 4  # torch-fidelity's DataLoader uses min(4, 2 * cores) worker processes


def photo_like(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth random colour fields plus noise."""
    coarse = rng.integers(0, 256, size=(8, 8, 3)).astype(np.float64)
    smooth = coarse.repeat(size // 8, axis=0).repeat(size // 8, axis=1)
    return np.clip(smooth + rng.normal(0, 12, smooth.shape), 0, 255).astype(np.uint8)


def make_layout(root: Path, count: int, size: int) -> tuple[Path, Path]:
    """A prepared dataset of `count` val photos and a run of as many images; (run folder, data folder)."""
    rng = np.random.default_rng(0)
    frames = [f"frame_{i:05d}" for i in range(count)]
    data, run = root / "data", root / "run"
    for frame in frames:
        write_png(data / "val" / f"{frame}_photo.png", photo_like(rng, size))
        write_png(run / "images" / "val" / f"{frame}.png", photo_like(rng, size))
    write_dataset_json(data, {"name": "bench", "image_size": [size, size], "label_size": [size, size],
                              "splits": {"val": frames}, "source": {"kind": "benchmark"}})
    write_run_json(run, {"name": "run", "variant": "bench", "dataset": str(data)})
    return run, data


def torch_fidelity_fid(run: Path, data: Path, weights: Path, batch_size: int) -> float:
    metrics = calculate_metrics(
        input1=str(run / "images" / "val"), input2=str(data / "val"), fid=True, cuda=False, cache=False,
        verbose=False, feature_extractor_weights_path=str(weights), batch_size=batch_size,
    )  # fmt: skip
    return metrics["frechet_inception_distance"]


def p2p_eval_fid(run: Path, data: Path, weights: Path, batch_size: int, *, cached: bool,
                 resize: str = "clean") -> float:
    if not cached:
        for folder in (run, data):
            for path in folder.glob(cache_path_for(folder).name + "*"):  # with SQLite's -wal and -shm
                path.unlink()
    results = p2p_eval.score("fid", run, data=data, features=str(weights), resize=resize, device="cpu",
                             batch_size=batch_size, workers=DECODE_THREADS, progress=False)
    return results.runs[0].scores["fid"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48, help="images in the run, and real photos in the split")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the random weights' and small-N warnings are expected here
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        weights = write_random_weights(root / "pt_inception-random.pth", "fid-inception")
        run, data = make_layout(root, args.images, args.size)
        timed = {
            "torch-fidelity calculate_metrics": lambda: torch_fidelity_fid(run, data, weights, args.batch_size),
            "p2p-eval fid, first run": lambda: p2p_eval_fid(run, data, weights, args.batch_size, cached=False),
            "p2p-eval fid, cached re-run": lambda: p2p_eval_fid(run, data, weights, args.batch_size, cached=True),
        }
        best = dict.fromkeys(timed, float("inf"))
        values = {}
        for _ in range(args.repeats):
            for name, work in timed.items():
                start = time.perf_counter()
                values[name] = work()
                best[name] = min(best[name], time.perf_counter() - start)
        legacy = p2p_eval_fid(run, data, weights, args.batch_size, cached=False, resize="legacy-tf1")
    reference = best["torch-fidelity calculate_metrics"]
    print(f"a run of {args.images} PNGs vs {args.images} real photos, {args.size}x{args.size}, CPU, torch threads "
          f"{torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"best of {args.repeats}")  # fmt: skip
    for name in timed:
        print(f"  {name:34s} {best[name]:7.2f} s   FID {values[name]:.6f}   speed-up vs torch-fidelity "
              f"{reference / best[name]:.2f}x")  # fmt: skip
    tf = values["torch-fidelity calculate_metrics"]
    print(f"  p2p-eval fid --resize legacy-tf1: FID {legacy:.6f}, relative difference to torch-fidelity's "
          f"{abs(legacy - tf) / abs(tf):.1e}")  # fmt: skip


if __name__ == "__main__":
    main()
