"""The training loop: one D step then one G step per batch, checkpoints, resume, DDP.

Shape after nanoGPT's train.py: under torchrun (`p2p_eval.distributed`, a
world of more than one process) the nets are DistributedDataParallel, seeds
are base + rank, only rank 0 writes. Everything numeric comes from a
`TrainConfig`; how the run is carried out from `RunOptions`.
"""

import contextlib
import logging
import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from p2p_eval import __version__
from p2p_eval.data.prepared import PreparedDataset, split_record
from p2p_eval.data.runs import write_run_json
from p2p_eval.distributed import Distributed, setup_distributed
from p2p_eval.errors import InputError
from trainers.pix2pix import outputs
from trainers.pix2pix.checkpoint import LATEST, TrainState, read_checkpoint, restore, save_checkpoint, unwrap
from trainers.pix2pix.config import RunOptions, TrainConfig
from trainers.pix2pix.data import EpochSampler, PairedFrames, check_split, steps_per_epoch, to_uint8
from trainers.pix2pix.discriminators import build_discriminator
from trainers.pix2pix.generate import generate_split, translate
from trainers.pix2pix.generators import build_generator
from trainers.pix2pix.losses import LossConfig, discriminator_loss, generator_loss
from trainers.pix2pix.schedule import make_optimizer, make_schedule

log = logging.getLogger(__name__)
SAMPLE_FRAMES = 4


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is left as it was."""


def build_state(config: TrainConfig, steps_per_epoch: int, device: torch.device) -> TrainState:
    """Fresh networks (initialised N(0, 0.02)), Adam optimisers and lr schedules (stepped per step)."""
    generator = build_generator(config.generator).to(device)
    discriminator = build_discriminator(config.discriminator).to(device) if config.discriminator else None
    if device.type == "cuda":
        for net in (generator, discriminator):
            if net is not None:
                net.to(memory_format=torch.channels_last)
    opt_g = make_optimizer(generator.parameters(), config.schedule)
    opt_d = make_optimizer(discriminator.parameters(), config.schedule) if discriminator else None
    return TrainState(
        generator, discriminator, opt_g, opt_d,
        make_schedule(opt_g, steps_per_epoch, config.schedule),
        make_schedule(opt_d, steps_per_epoch, config.schedule) if opt_d else None,
    )


def train_step(
    state: TrainState, loss: LossConfig, x: torch.Tensor, y: torch.Tensor, autocast: Any
) -> dict[str, torch.Tensor]:
    """One D step then one G step on a batch (as the paper; D frozen during the G step).

    Parameters
    ----------
    x, y : (N, 3, H, W) float tensors in [-1, 1]
        Input and target.
    autocast : context manager factory
        ``torch.autocast(...)`` for AMP, else ``contextlib.nullcontext``.

    Returns
    -------
    terms : dict of () tensors
        ``g_gan``, ``g_l1``, ``d_real``, ``d_fake`` as the loss has them (not synchronised).
    """
    generator, discriminator = state.generator, state.discriminator
    with autocast():
        fake = generator(x)
    terms: dict[str, torch.Tensor] = {}
    fake_logits = None
    if discriminator is not None:
        pair = (lambda out: torch.cat([x, out], 1)) if loss.conditional else (lambda out: out)
        discriminator.requires_grad_(True)
        state.opt_d.zero_grad(set_to_none=True)
        with autocast():
            d_fake = discriminator(pair(fake.detach()))
            d_real = discriminator(pair(y))
            d_loss, terms = discriminator_loss(d_real, d_fake, loss.gan_mode)
        d_loss.backward()
        state.opt_d.step()
        state.sched_d.step()
        discriminator.requires_grad_(False)
        with autocast():  # the bare module: no DDP gradient sync for a frozen D
            fake_logits = unwrap(discriminator)(pair(fake))
    state.opt_g.zero_grad(set_to_none=True)
    with autocast():
        g_loss, g_terms = generator_loss(loss, fake, y, fake_logits)
    g_loss.backward()
    state.opt_g.step()
    state.sched_g.step()
    return {**g_terms, **terms}


def _checksum(net: nn.Module | None) -> float:
    return 0.0 if net is None else float(sum(p.detach().double().sum() for p in unwrap(net).parameters()))


def _check_in_sync(state: TrainState, ddp: Distributed, device: torch.device) -> list[list[float]]:
    """All ranks' parameter checksums; raises if any rank's weights differ from rank 0's."""
    mine = torch.tensor([_checksum(state.generator), _checksum(state.discriminator)], dtype=torch.float64, device=device)
    gathered = [torch.zeros_like(mine) for _ in range(ddp.world_size)]
    dist.all_gather(gathered, mine)
    sums = [g.tolist() for g in gathered]
    if any(s != sums[0] for s in sums):
        raise RuntimeError(f"DDP ranks ended with different weights (checksums per rank {sums}).")
    return sums


def run_protocol(config: TrainConfig, quantize: str) -> dict[str, Any]:
    """run.json's ``protocol``: the choices between the paper's Torch code and the PyTorch port."""
    s = config.schedule
    return {"schedule": s.kind, "epochs": s.epochs, "decay_epochs": s.decay_epochs, "batch_size": config.batch_size,
            "quantize": quantize}


def _run_meta(config: TrainConfig, data: PreparedDataset, options: RunOptions, **extra: Any) -> dict[str, Any]:
    return {
        "name": options.out.name, "variant": config.variant, "preset": options.preset,
        "dataset": str(data.root.resolve()), "direction": config.direction, "seed": config.seed,
        "image_size": [config.size, config.size], "eval_mode": False,
        "protocol": run_protocol(config, options.quantize), "config": config.to_dict(),
        "versions": {"p2p_eval": __version__, "torch": torch.__version__}, **extra,
    }


def train(config: TrainConfig, data: PreparedDataset, options: RunOptions) -> dict[str, Any]:
    """Train one variant into ``options.out``, then generate the val split.

    Returns the run.json document. Re-running with ``options.resume`` continues
    from ``checkpoints/latest.pt`` (a finished run only regenerates).

    Raises
    ------
    InputError
        Bad data, or an existing checkpoint without `resume` / with another config.
    TrainingDiverged
        A loss became NaN or infinite.
    """
    outputs.check_run_folder(options.out, options.generate_splits)
    ddp, device = setup_distributed(options.device)
    if options.threads:
        torch.set_num_threads(options.threads)
    n_train = check_split(data, "train", config.direction)
    for split in options.generate_splits:
        check_split(data, split, config.direction)
    per_epoch = steps_per_epoch(n_train, config.batch_size, ddp.world_size)
    total = per_epoch * config.schedule.total_epochs
    torch.manual_seed(config.seed + ddp.rank)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    state = build_state(config, per_epoch, device)
    run = options.out
    checkpoint = run / LATEST
    if checkpoint.is_file():
        if not options.resume:
            raise InputError(f"{checkpoint}: this run folder already has a checkpoint; pass --resume to continue it, or a new --out.")
        restore(read_checkpoint(checkpoint), state, config, checkpoint)
        if ddp.rank:  # the checkpoint holds rank 0's RNG; other ranks need their own dropout noise
            torch.manual_seed(config.seed + ddp.rank + state.step)
        log.info("%s: resuming at step %d of %d", run, state.step, total)
    if ddp.main:
        outputs.truncate_loss_log(run, state.step)
        write_run_json(run, _run_meta(config, data, options, status="training", steps=state.step, total_steps=total))
    if ddp.world_size > 1:
        ids = [device.index] if device.type == "cuda" else None
        state.generator = nn.parallel.DistributedDataParallel(state.generator, device_ids=ids)
        if state.discriminator is not None:
            state.discriminator = nn.parallel.DistributedDataParallel(state.discriminator, device_ids=ids)
    _loop(state, config, data, options, ddp, device, total, per_epoch)
    extra: dict[str, Any] = {}
    if dist.is_initialized():  # under torchrun, even with one process: which backend ran is worth knowing
        extra["distributed"] = {"world_size": ddp.world_size, "backend": dist.get_backend(),
                                "checksums": _check_in_sync(state, ddp, device), "in_sync": True}
        dist.barrier()
    if not ddp.main:
        return {}
    generator = unwrap(state.generator)
    generated = {
        split: {"frames": generate_split(generator, data, split, run=run, direction=config.direction,
                                         size=config.size, seed=config.seed, quantize=options.quantize,
                                         progress=options.progress, title=f"{run.name} ({config.variant}), step {total}"),
                "step": total, "eval_mode": False, "quantize": options.quantize,
                "dataset": split_record(data, split)}  # checked by every scorer (p2p_eval.session.checks)
        for split in options.generate_splits
    }
    meta = _run_meta(config, data, options, status="done", steps=total, total_steps=total, generated=generated, **extra)
    write_run_json(run, meta)
    return meta


def _loop(
    state: TrainState, config: TrainConfig, data: PreparedDataset, options: RunOptions,
    ddp: Distributed, device: torch.device, total: int, per_epoch: int,
) -> None:
    """Steps from ``state.step`` to `total`, with logging, samples and checkpoints.

    Loss rows are buffered and appended to the CSV just before each checkpoint,
    so the log and the checkpoint describe the same step after a crash.
    """
    if state.step >= total:
        return
    run = options.out
    loader = torch.utils.data.DataLoader(
        PairedFrames(data, "train", config.direction, config.size, jitter=config.jitter, mirror=config.mirror, seed=config.seed),
        batch_size=config.batch_size,
        sampler=EpochSampler(len(data.frames("train")), config.batch_size, config.seed, state.step, ddp.rank, ddp.world_size),
        num_workers=options.workers, pin_memory=device.type == "cuda",
        persistent_workers=options.workers > 0, prefetch_factor=4 if options.workers else None,
        # Not forked, for the reason `prepare_frames` gives: a child forked while one of this process's
        # threads holds a lock can wait on it forever. Started once per run (persistent workers).
        multiprocessing_context="forkserver" if options.workers else None,
        generator=torch.Generator().manual_seed(config.seed),  # else iter() draws from the global RNG
    )
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if config.amp else contextlib.nullcontext
    samples = _sample_batch(data, config, device) if ddp.main and options.sample_every else None
    rows: list[dict[str, float]] = []
    bar = tqdm(total=total, initial=state.step, desc=run.name, unit="step", disable=not (ddp.main and options.progress))
    started, last_saved = time.perf_counter(), state.step
    for x, y in loader:
        x, y = (t.to(device, non_blocking=True) for t in (x, y))
        if device.type == "cuda":
            x, y = (t.contiguous(memory_format=torch.channels_last) for t in (x, y))
        lr = state.opt_g.param_groups[0]["lr"]
        terms = train_step(state, config.loss, x, y, autocast)
        values = torch.stack([t.detach().float() for t in terms.values()])
        if ddp.world_size > 1:
            dist.all_reduce(values)  # every rank sees the same numbers, so all stop together
            values /= ddp.world_size
        losses = dict(zip(terms, values.tolist()))
        if not all(math.isfinite(v) for v in losses.values()):
            bar.close()
            raise TrainingDiverged(
                f"{run}: non-finite loss at step {state.step + 1} ({outputs.format_losses(losses)}). Training "
                f"stopped; the last good checkpoint (step {last_saved}) is intact in {run / LATEST}. "
                "Lower --lr or turn off --amp, then re-run with --resume."
            )
        state.step += 1
        rows.append({"step": state.step, "epoch": (state.step - 1) // per_epoch + 1, "lr": float(f"{lr:.6g}"),
                     "seconds": round(time.perf_counter() - started, 3),
                     **{k: float(f"{v:.6g}") for k, v in losses.items()}})
        bar.update()
        bar.set_postfix_str(outputs.format_losses(losses), refresh=False)
        if samples is not None and state.step % options.sample_every == 0:
            _write_samples(state, samples, run, config.seed, options.quantize)
        if state.step % options.checkpoint_every == 0 or state.step == total:
            if ddp.main:
                outputs.append_loss_rows(run, rows)
                save_checkpoint(run, state, config)
            rows, last_saved = [], state.step
        if state.step >= total:
            break
    bar.close()


def _sample_batch(data: PreparedDataset, config: TrainConfig, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The first few val frames (train frames if there is no val split), unaugmented."""
    split = "val" if data.splits.get("val") else "train"
    frames = PairedFrames(data, split, config.direction, config.size)
    pairs = [frames[i] for i in range(min(SAMPLE_FRAMES, len(frames)))]
    return torch.stack([p[0] for p in pairs]).to(device), torch.stack([p[1] for p in pairs])


def _write_samples(state: TrainState, samples: tuple[torch.Tensor, torch.Tensor], run: Path, seed: int,
                   quantize: str) -> None:
    inputs, targets = samples
    generator = unwrap(state.generator)
    fakes = torch.cat([translate(generator, inputs[i : i + 1], eval_mode=False, seed=seed) for i in range(len(inputs))])
    path = outputs.write_sample_grid(run, state.step, to_uint8(inputs, "round"), to_uint8(fakes, quantize),
                                     to_uint8(targets, "round"))
    log.debug("sample grid %s", path)
