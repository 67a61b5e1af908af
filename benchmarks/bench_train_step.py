"""Time a training step of the pix2pix trainer against a bare step, side by side in one process.

The trainer's step is measured inside `trainers.pix2pix.train.train` itself
(data loading from PNGs, jitter, the D and G updates, loss sync and NaN check,
CSV bookkeeping): the per-step wall times its loss log records. The bare step is
the same networks and losses written out directly on pre-built tensors. Rounds
alternate between the two so machine-load drift hits both; medians per step.

    python benchmarks/bench_train_step.py            # 256x256 U-Net + 70x70 D, and 64x64 ngf 32
    python benchmarks/bench_train_step.py --quick    # fewer steps
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
from trainers.pix2pix.config import RunOptions, config_for_variant  # noqa: E402
from trainers.pix2pix.discriminators import build_discriminator  # noqa: E402
from trainers.pix2pix.generators import build_generator  # noqa: E402
from trainers.pix2pix.schedule import ScheduleConfig  # noqa: E402
from trainers.pix2pix.train import train  # noqa: E402


def trainer_step_times(config, data, out: Path) -> list[float]:
    """Per-step seconds of the real trainer, from its loss log (first two steps are warm-up)."""
    train(config, data, RunOptions(out=out, device="cpu", checkpoint_every=10**9, sample_every=0,
                                   progress=False, generate_splits=()))
    with (out / "losses.csv").open() as f:
        seconds = [float(r["seconds"]) for r in csv.DictReader(f)]
    return [b - a for a, b in zip(seconds[1:], seconds[2:])]


def bare_step_times(config, steps: int) -> list[float]:
    """The same step written directly: pre-built tensors, no loader, no bookkeeping."""
    torch.manual_seed(0)
    G, D = build_generator(config.generator), build_discriminator(config.discriminator)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)  # as the trainer
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
    x = torch.rand(1, 3, config.size, config.size) * 2 - 1
    y = torch.rand(1, 3, config.size, config.size) * 2 - 1
    times = []
    for _ in range(steps + 2):
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
        times.append(time.perf_counter() - start)
    return times[2:]


def compare(name: str, size: int, ngf: int, steps: int, rounds: int, tmp: Path) -> None:
    data = PreparedDataset.load(make_prepared_dataset(tmp / f"data{size}", splits={"train": steps + 2, "val": 1},
                                                      image_size=(size, size), label_size=(size, size)))
    config = config_for_variant("unet-l1-cgan", size=size, ngf=ngf, ndf=ngf,
                                schedule=ScheduleConfig(epochs=1, decay_epochs=0))
    ours, bare = [], []
    for r in range(rounds):
        bare += bare_step_times(config, steps)
        ours += trainer_step_times(config, data, tmp / f"run{size}_{r}")
    t_ours, t_bare = statistics.median(ours), statistics.median(bare)
    print(f"{name:34s} trainer {t_ours * 1000:9.1f} ms/step  bare {t_bare * 1000:9.1f} ms/step  "
          f"ratio {t_ours / t_bare:5.3f}  ({len(ours)} vs {len(bare)} steps, {torch.get_num_threads()} threads)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of trainer and bare (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        compare("256x256 U-Net ngf64 + 70x70 D", 256, 64, 3 if args.quick else 4, args.rounds, Path(tmp))
        compare("64x64 U-Net ngf32 + 70x70 D ndf32", 64, 32, 20 if args.quick else 40, args.rounds, Path(tmp))


if __name__ == "__main__":
    main()
