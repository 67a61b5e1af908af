"""Frames per second of the synthetic city generator at generation size 256, on one core.

Run: ``python benchmarks/bench_synthetic.py [--frames 200]``.

Pins itself to one CPU, then times, side by side in one run: the scene
composition (labels at 256x512), the photo rendering, a whole prepared frame
in memory (compose + render + bicubic squash + colour map), and a whole frame
written to disk as the three PNGs of the prepared layout. Prints wall-clock
and CPU-time rates and their ratio to the 50 frames/s target; CPU time is the
better guide on a shared machine, where wall time includes waiting for a core.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

TARGET_FPS = 50.0


REPEATS = 5


def _timed(fn, n: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds per call of fn(i), for each of `REPEATS` batches of n // REPEATS calls."""
    batch, out = max(n // REPEATS, 1), []
    for r in range(REPEATS):
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(r * batch, (r + 1) * batch):
            fn(i)
        out.append(((time.perf_counter() - wall) / batch, (time.process_time() - cpu) / batch))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200, help="frames per measurement (default 200)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    from p2p_eval.data.preparing import FrameJob
    from p2p_eval.data.synthetic import SyntheticConfig, _synthetic_frame, frame_rng, prepare_synthetic
    from p2p_eval.data.synthetic_layout import compose_street
    from p2p_eval.data.synthetic_render import render_photo

    n, label = args.frames, (256, 512)
    _synthetic_frame(FrameJob("train", "warm-up", (0, 0, 256, label)))  # caches the noise tile
    canvases = []
    rows = [
        ("compose labels 256x512", _timed(lambda i: canvases.append(compose_street(frame_rng(0, "train", i), *label)), n)),
        ("render photo 256x512", _timed(lambda i: render_photo(frame_rng(1, "train", i), canvases[i]), n)),
        ("frame in memory (256)", _timed(lambda i: _synthetic_frame(FrameJob("train", "x", (0, i, 256, label))), n)),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        config = SyntheticConfig(n_train=n // REPEATS, n_val=0, size=256, label_size=label)
        write = lambda i: prepare_synthetic(Path(tmp, str(i)), config, progress=False)  # noqa: E731
        rows.append(("frame written as PNGs", [(w / config.n_train, c / config.n_train) for w, c in _timed(write, REPEATS)]))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"synthetic city, generation size 256, labels 256x512, {n} frames in {REPEATS} batches, one core; "
          f"load average {load:.1f} on {os.cpu_count()} CPUs")
    print(f"{'stage':<24} {'wall f/s':>9} {'cpu f/s':>9} {'best cpu f/s':>13} {'best / target':>14}")
    for name, times in rows:
        walls, cpus = sorted(t[0] for t in times), sorted(t[1] for t in times)
        median_wall, median_cpu, best_cpu = walls[len(walls) // 2], cpus[len(cpus) // 2], cpus[0]
        print(f"{name:<24} {1 / median_wall:9.1f} {1 / median_cpu:9.1f} {1 / best_cpu:13.1f} "
              f"{1 / best_cpu / TARGET_FPS:13.2f}x")
    print(f"wall and cpu: medians over batches; best: the least contended batch. Target: {TARGET_FPS:.0f} frames/s "
          "for a whole frame ('frame in memory'); a ratio > 1 meets it.")


if __name__ == "__main__":
    main()
