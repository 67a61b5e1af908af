"""Time a training step of the pix2pix trainer against a bare step, side by side in one process.

The trainer's step is measured inside `trainers.pix2pix.train.train` itself
(data loading from PNGs, jitter, the D and G updates, loss sync and NaN check,
CSV bookkeeping): the per-step wall times its loss log records. The bare step is
the same networks and losses written out directly on pre-built tensors, in
plain fp32. Rounds alternate between the two so machine-load drift hits both;
medians per step. On CUDA the trainer runs its channels_last layout, and with
``--amp`` bf16 autocast: the ratio is then what they buy over the bare fp32 step.

    python benchmarks/bench_train_step.py            # 256x256 U-Net + 70x70 D, and 64x64 ngf 32
    python benchmarks/bench_train_step.py --quick    # fewer steps
    python benchmarks/bench_train_step.py --device cuda --amp --size 256 --steps 30 --rounds 2
"""

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import make_prepared_dataset  # noqa: E402
from p2p_eval.data.prepared import PreparedDataset  # noqa: E402
from p2p_eval.device import pick_device  # noqa: E402
from trainers.pix2pix.config import RunOptions, config_for_variant  # noqa: E402
from trainers.pix2pix.discriminators import build_discriminator  # noqa: E402
from trainers.pix2pix.generators import build_generator  # noqa: E402
from trainers.pix2pix.schedule import ScheduleConfig  # noqa: E402
from trainers.pix2pix.train import train  # noqa: E402


def trainer_step_times(config, data, out: Path, device: torch.device, workers: int) -> list[float]:
    """Per-step seconds of the real trainer, from its loss log (first two steps are warm-up)."""
    train(config, data, RunOptions(out=out, device=str(device), workers=workers, checkpoint_every=10**9,
                                   sample_every=0, progress=False, generate_splits=()))
    with (out / "losses.csv").open() as f:
        seconds = [float(r["seconds"]) for r in csv.DictReader(f)]
    return [b - a for a, b in zip(seconds[1:], seconds[2:])]


def bare_step_times(config, steps: int, device: torch.device) -> list[float]:
    """The same step written directly in fp32: pre-built tensors, no loader, no bookkeeping."""
    torch.manual_seed(0)
    G, D = build_generator(config.generator).to(device), build_discriminator(config.discriminator).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)  # as the trainer
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
    shape = (config.batch_size, 3, config.size, config.size)
    x, y = (torch.rand(shape, device=device) * 2 - 1 for _ in range(2))
    times = []
    for _ in range(steps + 2):
        _sync(device)
        start = time.perf_counter()
        fake = G(x)
        opt_d.zero_grad()
        p_fake, p_real = D(torch.cat([x, fake.detach()], 1)), D(torch.cat([x, y], 1))
        loss_d = 0.5 * (F.binary_cross_entropy_with_logits(p_fake, torch.zeros_like(p_fake))
                        + F.binary_cross_entropy_with_logits(p_real, torch.ones_like(p_real)))
        loss_d.backward()
        opt_d.step()
        D.requires_grad_(False)
        opt_g.zero_grad()
        p = D(torch.cat([x, fake], 1))
        loss_g = F.binary_cross_entropy_with_logits(p, torch.ones_like(p)) + 100 * F.l1_loss(fake, y)
        loss_g.backward()
        opt_g.step()
        D.requires_grad_(True)
        _sync(device)
        times.append(time.perf_counter() - start)
    return times[2:]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def compare(size: int, ngf: int, steps: int, rounds: int, tmp: Path, *, device: torch.device, amp: bool = False,
            batch_size: int = 1, workers: int = 0) -> None:
    data = PreparedDataset.load(make_prepared_dataset(
        tmp / f"data{size}", splits={"train": (steps + 2) * batch_size, "val": 1},
        image_size=(size, size), label_size=(size, size)))
    config = config_for_variant("unet-l1-cgan", size=size, ngf=ngf, ndf=ngf, amp=amp, batch_size=batch_size,
                                schedule=ScheduleConfig(epochs=1))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as the trainer sets it, for both
    ours, bare = [], []
    for r in range(rounds):
        bare += bare_step_times(config, steps, device)
        ours += trainer_step_times(config, data, tmp / f"run{size}_{r}", device, workers)
    t_ours, t_bare = statistics.median(ours), statistics.median(bare)
    where = f"cuda: {torch.cuda.get_device_name(device)}" if device.type == "cuda" else \
        f"cpu, {torch.get_num_threads()} threads"
    layout = ("bf16 AMP + channels_last" if amp else "fp32 + channels_last") if device.type == "cuda" else \
        ("bf16 AMP" if amp else "fp32")
    print(f"train step {size}x{size} U-Net ngf{ngf} + 70x70 D, batch {batch_size} ({where}): "
          f"trainer ({layout}, data loading included) {t_ours * 1000:.1f} ms/step, bare fp32 step "
          f"{t_bare * 1000:.1f} ms/step, ratio {t_ours / t_bare:.3f} ({len(ours)} vs {len(bare)} steps)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of trainer and bare (default 3)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    parser.add_argument("--amp", action="store_true", help="the trainer with bf16 autocast (the bare step stays fp32)")
    parser.add_argument("--size", type=int, help="one comparison at this size (default: 256 ngf 64 and 64 ngf 32)")
    parser.add_argument("--ngf", type=int, default=64, help="with --size: generator and D width (default 64)")
    parser.add_argument("--steps", type=int, default=20, help="with --size: timed steps per round (default 20)")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--workers", type=int, default=0, help="the trainer's data-loading processes (default 0)")
    args = parser.parse_args()
    device = pick_device(args.device)
    run = dict(device=device, amp=args.amp, batch_size=args.batch_size, workers=args.workers)
    with tempfile.TemporaryDirectory() as tmp:
        if args.size:
            compare(args.size, args.ngf, args.steps, args.rounds, Path(tmp), **run)
            return
        compare(256, 64, 3 if args.quick else 4, args.rounds, Path(tmp), **run)
        compare(64, 32, 20 if args.quick else 40, args.rounds, Path(tmp), **run)


if __name__ == "__main__":
    main()
