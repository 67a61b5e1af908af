"""FID of two PNG folders: p2p-eval's features + Fréchet distance against torch-fidelity's calculate_metrics.

Both read the same folders with the same Inception weights file (random
weights of the FID Inception's architecture, made here: the published file
cannot be downloaded on this machine; the work per image is the same), in this
one process, alternating, best of several repeats. Weight loading, PNG
decoding, resizing, the network and the distance are all inside the timings.
p2p-eval runs twice: with its default "clean" resize and with "legacy-tf1",
torch-fidelity's own resize, whose FID must equal torch-fidelity's; the script
prints the times, the ratios and that agreement.

    python benchmarks/bench_fid.py [--images 48] [--size 256] [--repeats 2] [--batch-size 32]
"""

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from torch_fidelity import calculate_metrics  # noqa: E402
from weights_factory import write_random_weights  # noqa: E402

from p2p_eval.data.files import read_rgb, write_png  # noqa: E402
from p2p_eval.features.inception import load_inception  # noqa: E402
from p2p_eval.metrics.frechet import frechet_distance, gaussian_stats  # noqa: E402

DECODE_THREADS = 4  # torch-fidelity's DataLoader uses min(4, 2 * cores) worker processes


def photo_like_folder(folder: Path, count: int, size: int, seed: int) -> Path:
    """Smooth random colour fields plus noise, as PNGs."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for i in range(count):
        coarse = rng.integers(0, 256, size=(8, 8, 3)).astype(np.float64)
        smooth = coarse.repeat(size // 8, axis=0).repeat(size // 8, axis=1)
        write_png(folder / f"{i:05d}.png", np.clip(smooth + rng.normal(0, 12, smooth.shape), 0, 255).astype(np.uint8))
    return folder


def p2p_eval_fid(folders, weights: Path, protocol: str, batch_size: int) -> float:
    extractor = load_inception(weights)
    with ThreadPoolExecutor(DECODE_THREADS) as pool:
        stats = [
            gaussian_stats(extractor(pool.map(read_rgb, sorted(f.glob("*.png"))), protocol=protocol,
                                     batch_size=batch_size))
            for f in folders
        ]  # fmt: skip
    return frechet_distance(*stats)


def torch_fidelity_fid(folders, weights: Path, batch_size: int) -> float:
    metrics = calculate_metrics(
        input1=str(folders[0]), input2=str(folders[1]), fid=True, cuda=False, cache=False, verbose=False,
        feature_extractor_weights_path=str(weights), batch_size=batch_size,
    )  # fmt: skip
    return metrics["frechet_inception_distance"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48, help="images per folder")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        weights = write_random_weights(root / "pt_inception-random.pth", "fid-inception")
        folders = [photo_like_folder(root / name, args.images, args.size, seed) for seed, name in enumerate("ab")]
        runs = {
            "torch-fidelity calculate_metrics": lambda: torch_fidelity_fid(folders, weights, args.batch_size),
            "p2p-eval clean": lambda: p2p_eval_fid(folders, weights, "clean", args.batch_size),
            "p2p-eval legacy-tf1": lambda: p2p_eval_fid(folders, weights, "legacy-tf1", args.batch_size),
        }
        best = dict.fromkeys(runs, float("inf"))
        values = {}
        for _ in range(args.repeats):
            for name, run in runs.items():
                start = time.perf_counter()
                values[name] = run()
                best[name] = min(best[name], time.perf_counter() - start)
    reference = best["torch-fidelity calculate_metrics"]
    print(f"{args.images} + {args.images} PNGs of {args.size}x{args.size}, CPU, torch threads {torch.get_num_threads()}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, best of {args.repeats}")  # fmt: skip
    for name in runs:
        print(f"  {name:34s} {best[name]:7.2f} s   FID {values[name]:.6f}   speed-up vs torch-fidelity "
              f"{reference / best[name]:.2f}x")  # fmt: skip
    tf, ours = values["torch-fidelity calculate_metrics"], values["p2p-eval legacy-tf1"]
    print(f"  legacy-tf1 FID vs torch-fidelity FID: relative difference {abs(ours - tf) / abs(tf):.1e}")


if __name__ == "__main__":
    main()
