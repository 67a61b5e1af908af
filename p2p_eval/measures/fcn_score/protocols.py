"""What FCN-score's protocols require of the dataset and the segmenter, checked before any image is read.

``default`` scores at the dataset's label size with any segmenter; ``official``
is pix2pix's ``scripts/eval_cityscapes/evaluate.py``: full-resolution
Cityscapes trainIds (``label = CS.load_label(args.split, city, idx)``, the
``gtFine`` files as they are) and every generated image upsampled to them
(``im = scipy.misc.imresize(im, (label.shape[1], label.shape[2]))``).

Either way a segmenter only labels photos at the scale it learnt. The
published FCN-8s learnt at 1024x2048 (pix2pix README: it "was trained on
256x256 images that are then upsampled to 1024x2048 during training ... Our
test code will automatically upsample your results to 1024x2048 before
feeding them to the pre-trained FCN model"); used on 128x256 labels it sees
objects 8x smaller than it ever did, and its scores say more about that than
about the images. `check_scale` warns when the
training size recorded in the checkpoint (``train_size``, written by
``train-segmenter`` and ``segmenter import-caffe``) and the scored label
size are more than `SCALE_LIMIT` apart, and refuses under ``official``.
"""

import logging
from pathlib import Path

import torch

from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.errors import InputError
from p2p_eval.measures.fcn_score.inputs import label_size
from p2p_eval.segmenters.checkpoint import Segmenter

log = logging.getLogger(__name__)

PROTOCOLS = ("default", "official")
OFFICIAL_LABEL_SIZE = (1024, 2048)
"""Cityscapes frames at full resolution: the official protocol scores there."""
SCALE_LIMIT = 2.0
"""Largest ratio, in either direction and either dimension, between a segmenter's training size and the scored
label size that passes without a warning."""
BATCH_SIZES = {"cpu": 1, "cuda": 4}
"""Frames per forward pass by device type, when not given. On a CPU batch 1 is the fastest per image (the
model is the whole cost, and a batch of 4 cost 1.5x the CPU time per image on the 2-core CI machine:
``benchmarks/bench_fcn_score.py`` measured the pipeline at 0.65-0.71x the official per-image loop's speed at
batch 4 and 0.94-1.07x at batch 1, README "Speed"); a GPU needs batches to be busy."""


def default_batch_size(device: torch.device) -> int:
    """FCN-score's batch size on `device` when the user gives none (`BATCH_SIZES`, 1 for unknown types)."""
    return BATCH_SIZES.get(device.type, 1)


def label_sizes(dataset: PreparedDataset, split: str) -> set[tuple[int, int]]:
    """The (H, W) label sizes of `split`: dataset.json's ``label_size``, else every trainIds file's header."""
    if dataset.meta.get("label_size"):
        return {tuple(dataset.meta["label_size"])}
    return {label_size(dataset.path(split, f, "trainids")) for f in dataset.frames(split)}


def _sizes(sizes: set[tuple[int, int]]) -> str:
    return ", ".join(f"{w}x{h}" for h, w in sorted(sizes))


def check_official(dataset: PreparedDataset, sizes: set[tuple[int, int]], segmenter: Segmenter) -> None:
    """The official protocol scores at full Cityscapes resolution; refuse anything else."""
    if sizes != {OFFICIAL_LABEL_SIZE}:
        raise InputError(
            f"{dataset.root}: --protocol official scores at the full Cityscapes resolution "
            f"{OFFICIAL_LABEL_SIZE[1]}x{OFFICIAL_LABEL_SIZE[0]}, but this dataset's labels are {_sizes(sizes)}. "
            "Prepare one from the Cityscapes root with `p2p-eval prepare cityscapes --root CITYSCAPES --out DIR` "
            "(it keeps trainIds at full resolution), or use --protocol default.")
    if segmenter.arch != "fcn8s":
        log.warning("--protocol official: the official evaluator is the pix2pix FCN-8s "
                    "(`p2p-eval segmenter import-caffe`); scoring with a %s segmenter instead.", segmenter.arch)


def check_scale(segmenter: Segmenter, path: Path, dataset: PreparedDataset, sizes: set[tuple[int, int]],
                protocol: str) -> None:
    """Warn (refuse under ``official``) when the segmenter learnt at another scale than the labels are scored at.

    Raises
    ------
    InputError
        Under ``protocol="official"``, when a scored label size is more than
        `SCALE_LIMIT` times larger or smaller than the checkpoint's
        ``train_size`` in either dimension.
    """
    trained = segmenter.meta.get("train_size")
    if not (isinstance(trained, (list, tuple)) and len(trained) == 2 and min(trained) > 0):
        log.warning("%s records no training size (train_size), so whether it is used at the scale it learnt cannot "
                    "be checked; labels are scored at %s.", path, _sizes(sizes))
        return
    th, tw = trained
    apart = sorted((h, w) for h, w in sizes
                   if not all(1 / SCALE_LIMIT <= ratio <= SCALE_LIMIT for ratio in (h / th, w / tw)))
    if not apart:
        return
    h, w = apart[0]
    message = (
        f"{path}: this segmenter learnt at {tw}x{th} (its train_size) but the labels are scored at {_sizes(sizes)}, "
        f"{max(h / th, th / h, w / tw, tw / w):.3g}x apart: it labels objects at a scale it never saw, and the "
        f"FCN-scores measure that mismatch more than the images. Score a dataset prepared at its scale (label size "
        f"{tw}x{th}), or train a segmenter at this one (`p2p-eval train-segmenter --data {dataset.root} ...`; it "
        "trains at the dataset's label size).")
    if protocol == "official":
        raise InputError(message + " --protocol official refuses this; --protocol default only warns.")
    log.warning("%s", message)


def segmenter_path(given: str | None, dataset: PreparedDataset) -> Path:
    """The segmenter to load: `given`, else the one ``dataset.json`` records."""
    if given is not None:
        return Path(given)
    if dataset.segmenter is None:
        raise InputError(f"{dataset.root / 'dataset.json'} records no segmenter; pass --segmenter seg.pt, or train "
                         f"one with `p2p-eval train-segmenter --data {dataset.root} --out seg.pt`.")
    return dataset.segmenter
