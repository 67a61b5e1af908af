"""The segmenter checkpoint: weights plus everything needed to use them right.

A checkpoint is a ``torch.save`` of plain types (loads with ``weights_only=True``)::

    {"format": "p2p-eval-segmenter", "version": 1,
     "arch": "smp-unet", "arch_args": {...},
     "class_set": "cityscapes-19",
     "output_to_train_id": [0, 1, ..., 18],   # argmax channel -> trainId (255 = no class)
     "preprocess": {"channel_order": "RGB", "scale": 1/255, "mean": [...], "std": [...]},
     "train_size": [H, W], "trained_on": {...}, "scores": {...},
     "state_dict": {...}}

The sha256 of the weights (`Segmenter.sha256`) is computed on load from the
state dict, so it identifies the weights whatever the file around them.
"""

import hashlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from p2p_eval.classes import CLASS_SET, IGNORE, NUM_CLASSES
from p2p_eval.data.outputs import atomic_output
from p2p_eval.data.torch_files import read_torch_file
from p2p_eval.errors import InputError
from p2p_eval.segmenters.registry import build_model

FORMAT = "p2p-eval-segmenter"
VERSION = 1


@dataclass(frozen=True)
class Preprocess:
    """How uint8 RGB pixels become network input: ``((x * scale)[order] - mean) / std``.

    ``mean`` and ``std`` are in `channel_order`; ``std`` None means no division
    (the Caffe FCN-8s subtracts a BGR mean from 0..255 values and stops there).
    """

    channel_order: str = "RGB"
    scale: float = 1 / 255
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] | None = (0.229, 0.224, 0.225)

    def __post_init__(self):
        if self.channel_order not in ("RGB", "BGR"):
            raise ValueError(f"Expected `channel_order` in ('RGB', 'BGR'), got {self.channel_order!r}.")

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) uint8 RGB -> (N, 3, H, W) float32 network input."""
        x = images.float() * self.scale
        if self.channel_order == "BGR":
            x = x.flip(1)
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        x = x - mean
        if self.std is not None:
            x = x / torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return x


@dataclass
class Segmenter:
    """A loaded segmenter: network, preprocessing and metadata."""

    model: nn.Module
    arch: str
    arch_args: dict[str, Any]
    preprocess: Preprocess
    output_to_train_id: tuple[int, ...]
    meta: dict[str, Any] = field(default_factory=dict)  # train_size, trained_on, scores
    sha256: str = ""

    def __post_init__(self):
        self._lut = torch.tensor(self.output_to_train_id, dtype=torch.uint8)
        if not self.sha256:
            self.sha256 = weights_sha256(self.model.state_dict())

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """trainIds predicted for a batch.

        Parameters
        ----------
        images : (N, 3, H, W) uint8 tensor
            RGB, on the model's device.

        Returns
        -------
        train_ids : (N, H, W) uint8 tensor
            Argmax channel mapped through `output_to_train_id` (255 for a
            channel that is no train class: it counts as an error when scored).
        """
        return self.to_train_ids(self.predict_channels(images))

    @torch.no_grad()
    def predict_channels(self, images: torch.Tensor) -> torch.Tensor:
        """The argmax output channel of each pixel, (N, H, W) int64, before `output_to_train_id`
        (what the official pix2pix evaluation scores: ``net.blobs['score'].data[0].argmax(axis=0)``)."""
        logits = self.model(self.preprocess(images))
        if isinstance(logits, dict):  # torchvision segmentation models
            logits = logits["out"]
        return logits.argmax(1)

    def to_train_ids(self, channels: torch.Tensor) -> torch.Tensor:
        """(N, H, W) output channels -> (N, H, W) uint8 trainIds through `output_to_train_id`."""
        return self._lut.to(channels.device)[channels]


def weights_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 over parameter names, dtypes, shapes and bytes, in sorted name order."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_segmenter(path: str | os.PathLike, segmenter: Segmenter) -> None:
    """Write a checkpoint atomically (temporary name, then rename)."""
    path = Path(path)
    model = getattr(segmenter.model, "module", segmenter.model)  # unwrap DDP
    blob = {
        "format": FORMAT,
        "version": VERSION,
        "arch": segmenter.arch,
        "arch_args": dict(segmenter.arch_args),
        "class_set": CLASS_SET,
        "output_to_train_id": list(segmenter.output_to_train_id),
        "preprocess": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(segmenter.preprocess).items()},
        **{k: v for k, v in segmenter.meta.items()},
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    with atomic_output(path) as f:
        torch.save(blob, f)


def load_segmenter(path: str | os.PathLike, device: torch.device | str = "cpu") -> Segmenter:
    """Load a segmenter checkpoint onto `device`, in eval mode.

    Raises
    ------
    InputError
        If the file is missing or not a p2p-eval segmenter, was written by a
        newer version, or is for another class set.
    """
    path = Path(path)
    blob = read_torch_file(
        path, FORMAT, what="p2p-eval segmenter checkpoint",
        fix="train one with `p2p-eval train-segmenter`, or import the Caffe FCN-8s with "
        "`p2p-eval segmenter import-caffe`.",
    )
    try:
        return _segmenter_from(blob, path, device)
    except (KeyError, TypeError, ValueError) as err:  # a field missing or of the wrong type: edited by hand?
        raise InputError(f"{path}: a field of the segmenter checkpoint is missing or malformed ({type(err).__name__}: "
                         f"{err}); the file was damaged or edited. Re-create it with the command that wrote it.") from None


def _segmenter_from(blob: dict[str, Any], path: Path, device: torch.device | str) -> Segmenter:
    if blob["version"] > VERSION:
        raise InputError(f"{path}: checkpoint version {blob['version']} is newer than this p2p-eval reads.")
    if blob["class_set"] != CLASS_SET:
        raise InputError(f"{path}: segmenter for class set {blob['class_set']!r}, but p2p-eval scores {CLASS_SET!r}.")
    mapping = tuple(int(t) for t in blob["output_to_train_id"])
    if not all(0 <= t < NUM_CLASSES or t == IGNORE for t in mapping):
        raise InputError(f"{path}: output_to_train_id holds values outside 0..{NUM_CLASSES - 1} and {IGNORE}.")
    model = build_model(blob["arch"], len(mapping), **blob["arch_args"])
    _check_weights_fit(model, blob["state_dict"], path, len(mapping))
    model.load_state_dict(blob["state_dict"])
    model.to(device).eval()
    pre = blob["preprocess"]
    preprocess = Preprocess(
        channel_order=pre["channel_order"],
        scale=float(pre["scale"]),
        mean=tuple(pre["mean"]),
        std=None if pre["std"] is None else tuple(pre["std"]),
    )
    reserved = {"format", "version", "arch", "arch_args", "class_set", "output_to_train_id", "preprocess", "state_dict"}
    return Segmenter(
        model=model,
        arch=blob["arch"],
        arch_args=blob["arch_args"],
        preprocess=preprocess,
        output_to_train_id=mapping,
        meta={k: v for k, v in blob.items() if k not in reserved},
        sha256=weights_sha256(blob["state_dict"]),
    )


def _check_weights_fit(model: nn.Module, weights: dict[str, torch.Tensor], path: Path, n_outputs: int) -> None:
    """The stored weights are the ones `model` has, name for name and shape for shape.

    A hand-edited ``output_to_train_id`` (one trainId per output channel) builds
    a network with another number of outputs than the weights have; say so,
    instead of torch's size-mismatch traceback.
    """
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    if not isinstance(weights, dict) or not all(isinstance(t, torch.Tensor) for t in weights.values()):
        raise InputError(f"{path}: \"state_dict\" is not a mapping of tensors; the file was damaged or edited.")
    found = {name: tuple(t.shape) for name, t in weights.items()}
    wrong = [f"{name} {found[name]} where the architecture has {shape}"
             for name, shape in expected.items() if name in found and found[name] != shape]
    missing, extra = sorted(expected.keys() - found.keys()), sorted(found.keys() - expected.keys())
    if not (wrong or missing or extra):
        return
    problems = wrong[:2]
    for names, what in ((missing, "missing"), (extra, "unexpected")):
        if names:
            problems.append(f"{len(names)} tensor(s) {what}, e.g. {names[0]}")
    raise InputError(
        f"{path}: the weights do not fit the network the checkpoint describes ({'; '.join(problems)}). Its "
        f"output_to_train_id lists {n_outputs} trainIds, one per output channel of the network: if it was edited, "
        "restore it (the network's last layer says how many outputs it has), or re-create the checkpoint with the "
        "command that wrote it.")


def identity_mapping() -> tuple[int, ...]:
    """`output_to_train_id` of a network with one output per train class."""
    return tuple(range(NUM_CLASSES))


__all__ = ["Preprocess", "Segmenter", "identity_mapping", "load_segmenter", "save_segmenter"]
