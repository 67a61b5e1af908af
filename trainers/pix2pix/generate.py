"""Inference: translate every frame of a split and write ``<run>/images/<split>/<frame>.png``.

By default as the paper does it: dropout on and batch norm using the statistics
of the test batch (batch size 1, so per image); ``eval_mode`` gives the usual
eval-mode behaviour (no dropout, running statistics). Each frame's dropout noise
is seeded by (seed, frame index), so outputs do not depend on order.
"""

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from p2p_eval.data.files import write_png
from p2p_eval.data.prepared import PreparedDataset
from trainers.pix2pix.data import PairedFrames, to_uint8
from trainers.pix2pix.outputs import write_results_page

log = logging.getLogger(__name__)


@contextlib.contextmanager
def inference_mode(generator: nn.Module, eval_mode: bool) -> Iterator[nn.Module]:
    """Set `generator` up for inference and restore its training state after.

    Paper mode keeps train mode but freezes the batch-norm running statistics
    (momentum 0), so generating never changes the model.
    """
    was_training = generator.training
    norms = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    generator.train(not eval_mode)
    for m in norms:
        m.momentum = 0.0
    try:
        with torch.no_grad():
            yield generator
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        generator.train(was_training)


def translate(generator: nn.Module, inputs: torch.Tensor, *, eval_mode: bool, seed: int) -> torch.Tensor:
    """One inference batch, its dropout seeded by `seed`, the caller's RNG untouched.

    Parameters
    ----------
    inputs : (N, 3, H, W) float tensor in [-1, 1], on the generator's device

    Returns
    -------
    outputs : (N, 3, H, W) float tensor in [-1, 1]
    """
    devices = [inputs.device] if inputs.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), inference_mode(generator, eval_mode):
        torch.manual_seed(seed)
        return generator(inputs)


def generate_split(
    generator: nn.Module,
    data: PreparedDataset,
    split: str,
    *,
    run: Path,
    direction: str,
    size: int,
    eval_mode: bool = False,
    seed: int = 0,
    quantize: str = "truncate",
    progress: bool = True,
    title: str = "",
) -> int:
    """Translate every frame of `split` (batch 1), write PNGs and the HTML page.

    Writes ``images/<split>/<frame>.png`` (uint8, `size` x `size`, made 8-bit by
    `quantize`, see `trainers.pix2pix.data.to_uint8`), the input and target beside
    them for the page under ``html/<split>/``, and ``index.html``. Returns the
    number of frames written.
    """
    frames = PairedFrames(data, split, direction, size)
    device = next(generator.parameters()).device
    channels_last = device.type == "cuda"
    for index in tqdm(range(len(frames)), desc=f"generate {split}", unit="frame", disable=not progress):
        source, target = frames[index]
        x = source[None].to(device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        output = translate(generator, x, eval_mode=eval_mode, seed=seed * 1_000_003 + index)
        frame = frames.frames[index]
        write_png(run / "images" / split / f"{frame}.png", to_uint8(output, quantize)[0])
        write_png(run / "html" / split / f"{frame}_input.png", to_uint8(source[None], "round")[0])
        write_png(run / "html" / split / f"{frame}_target.png", to_uint8(target[None], "round")[0])
    write_results_page(run, split, frames.frames, title or run.name)
    log.info("wrote %d %s images to %s", len(frames), split, run / "images" / split)
    return len(frames)
