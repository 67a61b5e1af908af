"""Throughput and peak memory of the pix2pix evaluator's FCN-8s at the official 1024x2048.

The network of `p2p-eval segmenter import-caffe` (random weights: the cost does
not depend on them), run through `Segmenter.predict` with the imported model's
Caffe preprocessing and 20 outputs, in full fp32 (TF32 off, as `fcn-score`
scores), one image per forward as the official script does. Prints one line:

    FCN-8s 1024x2048 (cuda: NVIDIA H200, fp32, batch 1): 21.3 images/s, peak memory 3.1 GiB

    python benchmarks/bench_fcn8s.py --device cuda
    python benchmarks/bench_fcn8s.py --device cpu --height 64 --width 128 --width-divisor 8 --iters 1
"""

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from p2p_eval.classes import IGNORE, NUM_CLASSES  # noqa: E402
from p2p_eval.device import pick_device  # noqa: E402
from p2p_eval.segmenters import Segmenter, build_model  # noqa: E402
from p2p_eval.segmenters.caffe import OFFICIAL_PREPROCESS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--iters", type=int, default=3, help="timed forward passes (default 3)")
    parser.add_argument("--width-divisor", type=int, default=1,
                        help="divide every layer's width (1: the published network; more for a quick CPU check)")
    args = parser.parse_args()
    device = pick_device(args.device)
    torch.manual_seed(0)
    model = build_model("fcn8s", NUM_CLASSES + 1, width_divisor=args.width_divisor).to(device).eval()
    segmenter = Segmenter(model, "fcn8s", {"width_divisor": args.width_divisor}, OFFICIAL_PREPROCESS,
                          (*range(NUM_CLASSES), IGNORE), sha256="not computed")
    images = torch.randint(0, 256, (args.batch_size, 3, args.height, args.width), dtype=torch.uint8, device=device)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False  # as fcn-score scores
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    segmenter.predict(images)  # warm-up: allocator, cuDNN algorithm search
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(args.iters):
        predicted = segmenter.predict(images)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    assert predicted.shape == (args.batch_size, args.height, args.width)
    if device.type == "cuda":
        name = f"cuda: {torch.cuda.get_device_name(device)}"
        memory = f"peak memory {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB (allocated by torch)"
    else:
        name = f"cpu, {torch.get_num_threads()} threads"
        memory = f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GiB (process RSS)"
    width = "" if args.width_divisor == 1 else f", layers 1/{args.width_divisor} wide"
    print(f"FCN-8s {args.height}x{args.width} ({name}, fp32, batch {args.batch_size}{width}): "
          f"{args.iters * args.batch_size / seconds:.2f} images/s, {memory}")


if __name__ == "__main__":
    main()
