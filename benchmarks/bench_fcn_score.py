"""FCN-score speed: this pipeline vs the official-style loop vs the segmenter alone.

Scores the same generated images three ways, in one process, with one segmenter:

1. ``pipeline``: `p2p_eval.measures.fcn_score.pipeline.score_images` (decode and resize in
   decoding threads, batched forward passes, confusions on the device);
2. ``naive``: the official ``evaluate.py`` loop, one image at a time: PIL load,
   bilinear resize to label size, forward, argmax to the host, numpy
   ``bincount`` histogram (the labels are prepared trainIds, so no id loop);
3. ``forward``: the segmenter's forward passes alone on tensors already on the
   device, in the pipeline's batches (the floor: the model's arithmetic).

The batch size defaults to what ``p2p-eval fcn-score`` uses on the device
(`p2p_eval.measures.fcn_score.protocols.BATCH_SIZES`: 1 on a CPU, 4 on CUDA).

Prints the wall times (best of ``--repeats``, as ``timeit`` does: on a shared
machine the fastest run is the one least slowed by other jobs; the median is
printed beside it) and the ratios of the best times, pipeline/forward (target
on a 2-core CPU: <= 1.15) and naive/pipeline (target on a GPU: >= 2; on a CPU
>= 1). On a CPU it also prints each way's process CPU time (all threads): less
moved by other jobs than wall time, it says which way does more work.

    python benchmarks/bench_fcn_score.py                      # CPU, small
    python benchmarks/bench_fcn_score.py --device cuda --frames 64 --label-size 1024 2048
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from p2p_eval.classes import NUM_CLASSES, colorize  # noqa: E402
from p2p_eval.data.files import write_png  # noqa: E402
from p2p_eval.data.prepared import PreparedDataset, write_dataset_json  # noqa: E402
from p2p_eval.device import pick_device  # noqa: E402
from p2p_eval.measures.fcn_score.inputs import photo_input  # noqa: E402
from p2p_eval.measures.fcn_score.pipeline import score_images  # noqa: E402
from p2p_eval.measures.fcn_score.protocols import default_batch_size  # noqa: E402
from p2p_eval.segmenters import Preprocess, Segmenter, build_model  # noqa: E402
from p2p_eval.segmenters.checkpoint import identity_mapping  # noqa: E402


def make_data(root: Path, frames: int, image_size: int, label_size: tuple[int, int]) -> list[tuple[str, Path]]:
    """A prepared split of striped label maps and noisy 'generated' photos of them."""
    rng = np.random.default_rng(0)
    h, w = label_size
    names = [f"bench_{i:05d}" for i in range(frames)]
    pairs = []
    for name in names:
        rows = rng.integers(0, NUM_CLASSES, size=(8, 1), dtype=np.uint8)
        cols = rng.integers(0, NUM_CLASSES, size=(1, 16), dtype=np.uint8)
        coarse = np.where(rng.random((8, 16)) < 0.5, rows, cols).astype(np.uint8)
        labels = np.asarray(Image.fromarray(coarse).resize((w, h), Image.Resampling.NEAREST))
        small = np.asarray(Image.fromarray(coarse).resize((image_size, image_size), Image.Resampling.NEAREST))
        photo = np.clip(colorize(small) + rng.normal(0, 12, (image_size, image_size, 3)), 0, 255).astype(np.uint8)
        write_png(root / "val" / f"{name}_trainids.png", labels)
        write_png(root / "val" / f"{name}_color.png", colorize(small))
        write_png(root / "val" / f"{name}_photo.png", photo)
        write_png(root / "gen" / f"{name}.png", photo)
        pairs.append((name, root / "gen" / f"{name}.png"))
    write_dataset_json(root, {"name": "bench", "image_size": [image_size] * 2, "label_size": list(label_size),
                              "splits": {"val": names}, "source": {"kind": "benchmark"}})
    return pairs


def official_hist(label: np.ndarray, pred: np.ndarray, n: int = NUM_CLASSES) -> np.ndarray:
    """``fast_hist`` of the official scripts/eval_cityscapes/util.py."""
    k = (label >= 0) & (label < n)
    return np.bincount(n * label[k].astype(int) + pred[k], minlength=n**2).reshape(n, n)


def naive(segmenter: Segmenter, data: PreparedDataset, pairs, device: torch.device) -> np.ndarray:
    hist = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    for frame, path in pairs:
        label = np.array(Image.open(data.path("val", frame, "trainids")))
        image = np.array(Image.open(path).convert("RGB"))
        image = np.array(Image.fromarray(image).resize((label.shape[1], label.shape[0]), Image.BILINEAR))
        batch = torch.from_numpy(image).permute(2, 0, 1)[None].to(device)
        pred = segmenter.predict(batch)[0].cpu().numpy().astype(np.int64)
        pred[pred >= NUM_CLASSES] = 0  # never happens with this segmenter; keeps fast_hist in range
        hist += official_hist(label.flatten(), pred.flatten())
    return hist


def forward_only(segmenter: Segmenter, tensors: list[torch.Tensor], device: torch.device) -> None:
    for batch in tensors:
        segmenter.predict(batch)
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn) -> tuple[float, float, object]:
    """(wall seconds, this process's CPU seconds in all its threads, fn's result)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - start, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--label-size", type=int, nargs=2, default=(256, 512), metavar=("H", "W"))
    parser.add_argument("--arch", default="smp-unet")
    parser.add_argument("--encoder", default="resnet18")
    parser.add_argument("--batch-size", type=int, default=None, help="default: fcn-score's on the device")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = pick_device(args.device)
    args.batch_size = args.batch_size or default_batch_size(device)
    torch.manual_seed(0)
    model = build_model(args.arch, NUM_CLASSES, encoder=args.encoder).to(device).eval()
    segmenter = Segmenter(model, args.arch, {"encoder": args.encoder}, Preprocess(), identity_mapping())
    with tempfile.TemporaryDirectory() as tmp:
        pairs = make_data(Path(tmp), args.frames, args.image_size, tuple(args.label_size))
        data = PreparedDataset.load(tmp)
        images = [torch.from_numpy(photo_input(p, tuple(args.label_size))[0]) for _, p in pairs]
        tensors = [torch.stack(images[k : k + args.batch_size]).to(device)
                   for k in range(0, len(images), args.batch_size)]
        if tensors[-1].shape[0] < args.batch_size:  # the pipeline pads its last batch too
            pad = tensors[-1].new_zeros((args.batch_size - tensors[-1].shape[0], *tensors[-1].shape[1:]))
            tensors[-1] = torch.cat([tensors[-1], pad])
        forward_only(segmenter, tensors[:1], device)  # warm-up (allocator, cuDNN heuristics)
        score_images(segmenter, data, "val", pairs[:1], batch_size=args.batch_size, workers=args.workers,
                     device=device, progress=False)  # and the pipeline's one-time set-up (lazy imports)
        times = {"pipeline": [], "naive": [], "forward": []}
        cpu = {key: [] for key in times}
        for _ in range(args.repeats):  # interleaved, so load changes hit all three alike
            t, c, ours = timed(lambda: score_images(segmenter, data, "val", pairs, batch_size=args.batch_size,
                                                    workers=args.workers, device=device, progress=False))
            times["pipeline"].append(t), cpu["pipeline"].append(c)
            t, c, theirs = timed(lambda: naive(segmenter, data, pairs, device))
            times["naive"].append(t), cpu["naive"].append(c)
            t, c, _ = timed(lambda: forward_only(segmenter, tensors, device))
            times["forward"].append(t), cpu["forward"].append(c)
    total = ours.sum(0)[:, :NUM_CLASSES]
    differing = int(np.abs(total - theirs).sum() // 2)
    best = {k: min(v) for k, v in times.items()}
    median = {k: statistics.median(v) for k, v in times.items()}
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"device: {name}; {args.arch}/{args.encoder}; {args.frames} frames {args.image_size}x{args.image_size} "
          f"-> {args.label_size[1]}x{args.label_size[0]}; batch {args.batch_size}, workers {args.workers}; "
          f"best of {args.repeats} (median)")
    for key, label in (("pipeline", "this pipeline"), ("naive", "official-style loop"), ("forward", "forward only")):
        print(f"  {label:<20} {best[key]:8.3f} s ({median[key]:8.3f} s)  {args.frames / best[key]:7.2f} img/s  "
              f"CPU {min(cpu[key]):7.3f} s")
    print(f"  pipeline / forward only      = {best['pipeline'] / best['forward']:.3f} "
          f"({median['pipeline'] / median['forward']:.3f})  target <= 1.15 on CPU")
    print(f"  official-style / pipeline    = {best['naive'] / best['pipeline']:.3f} "
          f"({median['naive'] / median['pipeline']:.3f})  target >= 2 on GPU")
    if device.type == "cpu":  # a shared machine slows wall times; the CPU time each way spends moves less
        print(f"  process CPU time, official-style loop over pipeline = {min(cpu['naive']) / min(cpu['pipeline']):.3f} "
              f"({statistics.median(cpu['naive']) / statistics.median(cpu['pipeline']):.3f})")
    print(f"  confusions: pipeline and official-style loop differ in {differing} of {int(total.sum())} pixels "
          "(batch size 1 vs batched: float arithmetic only)")


if __name__ == "__main__":
    main()
