"""Train a segmenter on the real photos of a prepared dataset, resumably.

The loop state (model, optimiser, schedule, RNG states, epochs done) is saved
atomically after every epoch to ``<out>.state``; ``--resume`` continues from
it and, on CPU, ends with the same weights as an uninterrupted run.
"""

import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from p2p_eval import __version__
from p2p_eval.classes import IGNORE, NUM_CLASSES
from p2p_eval.data.outputs import check_output_path
from p2p_eval.data.torch_files import read_torch_file
from p2p_eval.data.prepared import PreparedDataset, record_segmenter
from p2p_eval.errors import InputError
from p2p_eval.segmenters import Preprocess, Segmenter, build_model, save_segmenter
from p2p_eval.segmenters.checkpoint import identity_mapping
from trainers.segmenter.data import JITTER, augment, load_split
from trainers.segmenter.evaluate import evaluate_real

log = logging.getLogger(__name__)

STATE_FORMAT = "p2p-eval-segmenter-train-state"
RESUME_INSENSITIVE = ("resume", "overwrite", "workers", "device", "progress")
"""Config fields that may change between an interrupted run and its resumption."""


@dataclass(frozen=True)
class SegmenterTrainConfig:
    """Everything that decides a segmenter training run (validated by the CLI)."""

    data: str
    out: str
    arch: str = "unet-small"
    encoder: str | None = None  # smp encoder (None: resnet18); smp architectures only
    encoder_weights: str | None = None  # local encoder weights file (nothing is downloaded)
    epochs: int = 15
    batch_size: int = 8
    lr: float = 5e-3
    size: tuple[int, int] | None = None  # (H, W); None = the dataset's label size
    crop: tuple[int, int] | None = None  # random training crops of this (h, w); None = whole images
    seed: int = 0
    device: str = "auto"
    workers: int = 2
    resume: bool = False
    overwrite: bool = False  # replace a finished checkpoint at `out`
    eval_split: str = "val"
    progress: bool = True

    @property
    def arch_args(self) -> dict[str, Any]:
        return {"encoder": self.encoder or "resnet18"} if self.arch.startswith("smp-") else {}

    @property
    def state_path(self) -> Path:
        return Path(f"{self.out}.state")


def training_size(dataset: PreparedDataset, requested: tuple[int, int] | None) -> tuple[int, int]:
    """The (H, W) to train at: as asked, else where the scorer segments (label size)."""
    if requested:
        return tuple(requested)
    label_size = dataset.meta.get("label_size")
    return tuple(label_size) if label_size else dataset.image_size


def _cosine(total_steps: int):
    return lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))


def train_segmenter(config: SegmenterTrainConfig, device: torch.device) -> Segmenter:
    """Train, evaluate on real `eval_split` photos, write the checkpoint, record it in dataset.json.

    Raises
    ------
    InputError
        If the dataset is unusable, or a saved training state does not match `config`.
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    dataset = PreparedDataset.load(config.data)
    _check_outputs(config, dataset)
    size = training_size(dataset, config.size)
    if config.crop and (config.crop[0] > size[0] or config.crop[1] > size[1]):
        raise InputError(f"--crop {config.crop[0]}x{config.crop[1]} is larger than the training size {size[0]}x{size[1]}.")
    photos, labels = load_split(dataset, "train", size, workers=config.workers, progress=config.progress)
    torch.manual_seed(config.seed)
    build_args = dict(config.arch_args)
    if config.encoder_weights:
        build_args["encoder_weights_file"] = config.encoder_weights  # start only: not a checkpoint arch_arg
    model = build_model(config.arch, NUM_CLASSES, **build_args).to(device)
    preprocess = Preprocess()  # ImageNet RGB statistics: what smp encoders expect, harmless elsewhere
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    steps_per_epoch = math.ceil(len(photos) / config.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _cosine(config.epochs * steps_per_epoch))
    generator = torch.Generator().manual_seed(config.seed)
    first_epoch = _restore(config, model, optimizer, schedule, generator) if config.resume else 0
    use_amp = device.type == "cuda"  # bfloat16 autocast: no loss scaling needed
    bar = tqdm(total=config.epochs * steps_per_epoch, initial=first_epoch * steps_per_epoch,
               desc="train-segmenter", unit="step", disable=not config.progress)
    for epoch in range(first_epoch, config.epochs):
        model.train()
        order = torch.randperm(len(photos), generator=generator)
        for start in range(0, len(photos), config.batch_size):
            index = order[start : start + config.batch_size]
            x, y = augment(photos[index], labels[index], generator, config.crop)
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                logits = model(preprocess(x))
            loss = F.cross_entropy(logits.float(), y.long(), ignore_index=IGNORE)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
        _save_state(config, model, optimizer, schedule, generator, epoch + 1)
    bar.close()
    model.eval()
    segmenter = Segmenter(
        model=model, arch=config.arch, arch_args=config.arch_args, preprocess=preprocess,
        output_to_train_id=identity_mapping(),
    )
    segmenter.meta = {
        "train_size": list(size),
        "trained_on": {
            "dataset": dataset.name, "path": str(dataset.root), "split": "train", "n_images": len(photos),
            "source": dataset.meta.get("source"), "config": _plain(config),
            "augment": f"random zoom 1..{JITTER}, random crop {list(config.crop or size)}, horizontal flip",
            "photos": "generation-size photos resized to train_size, Pillow bilinear on uint8",
            "labels": "trainIds resized to train_size, nearest; 255 ignored by the loss",
            "optimizer": "AdamW(weight_decay=1e-4), cosine schedule per step",
            "versions": {"p2p_eval": __version__, "torch": str(torch.__version__)},
            "device": str(device),
        },
    }
    segmenter.meta["scores"] = evaluate_real(
        segmenter, dataset, config.eval_split, batch_size=config.batch_size, workers=config.workers,
        device=device, progress=config.progress,
    )
    segmenter.meta["trained_on"]["wall_s"] = round(time.perf_counter() - started, 1)  # this session's share
    segmenter.meta["trained_on"]["cpu_s"] = round(time.process_time() - cpu_started, 1)
    save_segmenter(config.out, segmenter)
    record_segmenter(dataset, config.out)
    config.state_path.unlink(missing_ok=True)  # done: the checkpoint holds all that is worth keeping
    return segmenter


def _check_outputs(config: SegmenterTrainConfig, dataset: PreparedDataset) -> None:
    """Refuse, before any training, to lose work or to train what cannot be saved.

    A finished checkpoint is replaced only with ``overwrite`` (it may be a
    long run that `fcn-score` relies on); ``resume`` needs a saved state; a
    state left by an interrupted run is never discarded without ``resume``.
    The checkpoint, its state file and ``dataset.json`` (where the checkpoint
    is recorded) must all be writable.
    """
    out, state = Path(config.out), config.state_path
    check_output_path(out, option="--out")
    check_output_path(state, option="--out (its training state)")
    check_output_path(dataset.root / "dataset.json", option="--data")
    if out.exists() and not config.overwrite:
        raise InputError(
            f"{out}: a finished segmenter checkpoint is already there; pass --overwrite to replace it "
            "(and its record in dataset.json), or another --out."
        )
    if config.resume and not state.exists():
        raise InputError(
            f"{state}: no saved training state, so there is nothing to resume; leave out --resume to "
            "start a new training run."
        )
    if not config.resume and state.exists():
        raise InputError(
            f"{state}: an interrupted training run left this state; add --resume to continue it, "
            "or delete the file to start over."
        )


def _plain(config: SegmenterTrainConfig) -> dict[str, Any]:
    plain = asdict(config)
    plain["size"] = list(config.size) if config.size else None
    plain["crop"] = list(config.crop) if config.crop else None
    return plain


def _save_state(config, model, optimizer, schedule, generator, epochs_done: int) -> None:
    blob = {
        "format": STATE_FORMAT, "config": _plain(config), "epochs_done": epochs_done,
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
        "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    tmp = config.state_path.with_name(f".{config.state_path.name}.tmp")
    config.state_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(blob, tmp)
    os.replace(tmp, config.state_path)


def _restore(config, model, optimizer, schedule, generator) -> int:
    """Load `config.state_path` (checked to exist); returns the number of epochs already done."""
    path = config.state_path
    blob = read_torch_file(path, STATE_FORMAT, what="train-segmenter state", fix="delete it to start over.")
    saved, wanted = blob["config"], _plain(config)
    changed = [k for k in wanted if k not in RESUME_INSENSITIVE and saved.get(k) != wanted[k]]
    if changed:
        diff = ", ".join(f"{k}: saved {saved.get(k)!r}, now {wanted[k]!r}" for k in changed)
        raise InputError(f"{path}: saved with other settings ({diff}); use the same settings, or delete it.")
    model.load_state_dict(blob["model"])
    optimizer.load_state_dict(blob["optimizer"])
    schedule.load_state_dict(blob["schedule"])
    generator.set_state(blob["generator"])
    torch.set_rng_state(blob["torch_rng"])
    if blob["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(blob["cuda_rng"])
    log.info("%s: resuming after epoch %d of %d.", path, blob["epochs_done"], config.epochs)
    return blob["epochs_done"]
