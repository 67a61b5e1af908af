"""Import Caffe weights (``.caffemodel``) into PyTorch without Caffe.

A ``.caffemodel`` is a binary ``caffe.NetParameter``. Only the fields below
are read (numbers from Caffe's ``src/caffe/proto/caffe.proto``); everything
else is skipped::

    NetParameter      name = 1; layers = 2 (V1LayerParameter, legacy); layer = 100 (LayerParameter)
    LayerParameter    name = 1; type = 2 (string); blobs = 7
    V1LayerParameter  name = 4; type = 5 (enum LayerType); blobs = 6
    BlobProto         num = 1; channels = 2; height = 3; width = 4 (legacy 4-D shape);
                      data = 5 (packed float); double_data = 8 (packed double); shape = 7
    BlobShape         dim = 1 (packed int64)

Blob 0 of a layer is its weight, blob 1 its bias. Caffe's weight layouts are
PyTorch's: Convolution (out, in, kh, kw) as ``nn.Conv2d``; Deconvolution
(in, out, kh, kw) as ``nn.ConvTranspose2d`` (Caffe's deconvolution is the
transposed convolution, as PyTorch's is). So every blob is copied as is,
after its shape is checked.
"""

import hashlib
import mmap
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from p2p_eval.classes import IGNORE, NUM_CLASSES
from p2p_eval.errors import InputError
from p2p_eval.segmenters import protowire as wire
from p2p_eval.segmenters.checkpoint import Preprocess, Segmenter
from p2p_eval.segmenters.fcn8s import FCN8s

V1_LAYER_TYPES = {4: "Convolution", 39: "Deconvolution", 14: "InnerProduct", 5: "Data", 18: "ReLU",
                  17: "Pooling", 6: "Dropout", 21: "SoftmaxWithLoss", 20: "Softmax", 25: "Eltwise"}
"""Names of the legacy ``V1LayerParameter.LayerType`` values met in FCN nets."""

OFFICIAL_PREPROCESS = Preprocess(channel_order="BGR", scale=1.0, mean=(72.78044, 83.21195, 73.45286), std=None)
"""The published FCN-8s input: 0..255 values, RGB->BGR, minus this BGR mean, no division
(``cityscapes.preprocess`` in pix2pix's scripts/eval_cityscapes)."""

OFFICIAL_TRAIN_SIZE = (1024, 2048)
"""The published model saw Cityscapes photos downsized to 256x256 and upsampled back to this."""


@dataclass(frozen=True)
class CaffeBlob:
    """One ``BlobProto``: its shape as written and its values, flat."""

    shape: tuple[int, ...]
    legacy: bool  # shape is num/channels/height/width, not BlobShape
    data: np.ndarray  # (prod(shape),) float32 or float64, a view of the file


@dataclass(frozen=True)
class CaffeLayer:
    name: str
    type: str
    blobs: tuple[CaffeBlob, ...]


def read_caffemodel(path: str | os.PathLike) -> list[CaffeLayer]:
    """Read the layers of a ``.caffemodel`` (both ``layer`` and legacy ``layers`` formats).

    The file is memory-mapped; blob data are views of it until copied.

    Raises
    ------
    InputError
        If the file is missing, truncated or not a NetParameter; the message
        names the layer where reading failed.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found; download fcn-8s-cityscapes.caffemodel (see README).")
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            raise InputError(f"{path}: the file is empty.")
        buf = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
    layers, inside = [], None
    try:
        for field in wire.iter_fields(buf):
            if field.number in (2, 100) and field.wire_type == wire.LENGTH_DELIMITED:
                inside = field.start  # offsets inside a layer are relative to it: remember where it began
                layers.append(_read_layer(field.value, legacy=field.number == 2, path=path))
                inside = None
    except wire.WireError as err:
        name = _layer_at(buf, err.offset if inside is None else inside)
        if name:
            where = f"in layer {name!r}"
        else:  # legacy layers write bottom/top before the name: it may be cut off too
            where = f"in the layer after layer {layers[-1].name!r}" if layers else "in its first layer"
        raise InputError(
            f"{path}: cannot read the file {where}: {err}. The file is truncated or corrupt; download it again."
        ) from None
    if not layers:
        raise InputError(f"{path}: no layers found; this is not a Caffe .caffemodel (binary NetParameter).")
    return layers


def _read_layer(buf: memoryview, *, legacy: bool, path: Path) -> CaffeLayer:
    name_field, type_field, blobs_field = (4, 5, 6) if legacy else (1, 2, 7)
    name, kind, blobs = "", "", []
    for field in wire.iter_fields(buf):
        if field.number == name_field:
            name = wire.text(field)
        elif field.number == type_field:
            kind = V1_LAYER_TYPES.get(field.value, f"V1 type {field.value}") if legacy else wire.text(field)
        elif field.number == blobs_field:
            blobs.append(field)
        elif legacy and field.number == 1:
            raise InputError(f"{path}: V0 layer format (before 2014); upgrade it with Caffe's upgrade_net_proto_binary.")
    return CaffeLayer(name, kind, tuple(_read_blob(b.value, name, path) for b in blobs))


def _read_blob(buf: memoryview, layer: str, path: Path) -> CaffeBlob:
    legacy_dims = {1: 0, 2: 0, 3: 0, 4: 0}
    shape, chunks = None, []
    for field in wire.iter_fields(buf):
        if field.number in legacy_dims and field.wire_type == wire.VARINT:
            legacy_dims[field.number] = field.value
        elif field.number == 7:
            shape = tuple(d for f in wire.iter_fields(field.value) if f.number == 1 for d in wire.packed_varints(f))
        elif field.number == 5:
            chunks.append(wire.packed_floats(field, "<f4"))
        elif field.number == 8:
            chunks.append(wire.packed_floats(field, "<f8"))
    data = chunks[0] if len(chunks) == 1 else np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    legacy = shape is None
    if legacy:
        shape = tuple(legacy_dims[k] for k in (1, 2, 3, 4))
    if len(data) != int(np.prod(shape)):
        raise InputError(
            f"{path}: layer {layer!r}: a blob of shape {shape} holds {len(data)} values, "
            f"not {int(np.prod(shape))}; the file is corrupt."
        )
    return CaffeBlob(shape, legacy, data)


def _layer_at(buf: memoryview, offset: int) -> str:
    """Best effort: the name of the top-level layer whose bytes hold `offset` ("" if none)."""
    pos, end = 0, len(buf)
    try:
        while pos <= offset:
            key, pos = wire.read_varint(buf, pos, end)
            if key & 7 == wire.VARINT:
                _, pos = wire.read_varint(buf, pos, end)
                continue
            if key & 7 != wire.LENGTH_DELIMITED:
                return ""
            length, pos = wire.read_varint(buf, pos, end)
            if pos + length > offset and key >> 3 in (2, 100):
                name_number = 4 if key >> 3 == 2 else 1  # written before the blobs, so it survives truncation
                for field in wire.iter_fields(buf, pos, min(pos + length, end)):
                    if field.number == name_number:
                        return wire.text(field)
            pos += length
    except wire.WireError:
        pass
    return ""


def load_caffe_layers(model: nn.Module, layers: list[CaffeLayer], source: str | os.PathLike) -> None:
    """Copy every blob into the module of the same name (``weight``, then ``bias``).

    Raises
    ------
    InputError
        Naming the layer: a layer with blobs that `model` lacks, a module of
        `model` the file lacks, a wrong blob count or a shape mismatch.
    """
    modules = {name: m for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))}
    with_blobs = [layer for layer in layers if layer.blobs]
    names = [layer.name for layer in with_blobs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    unknown = [n for n in names if n not in modules]
    missing = [n for n in modules if n not in names]
    if duplicates or unknown or missing:
        raise InputError(
            f"{source}: its layers do not match the {type(model).__name__} network: "
            + "; ".join(
                part
                for part in (
                    f"layers in the file but not in the network: {unknown}" if unknown else "",
                    f"layers of the network missing from the file: {missing}" if missing else "",
                    f"layers written twice: {duplicates}" if duplicates else "",
                )
                if part
            )
            + ". Use the fcn-8s-cityscapes.caffemodel of pix2pix's scripts/eval_cityscapes."
        )
    state = {}
    for layer in with_blobs:
        params = [("weight", modules[layer.name].weight)]
        if modules[layer.name].bias is not None:
            params.append(("bias", modules[layer.name].bias))
        if len(layer.blobs) != len(params):
            raise InputError(
                f"{source}: layer {layer.name!r} ({layer.type}) has {len(layer.blobs)} blobs; the network expects "
                f"{len(params)} ({', '.join(p for p, _ in params)})."
            )
        for (param, target), blob in zip(params, layer.blobs):
            expected = tuple(target.shape)
            written = (1,) * (4 - len(expected)) + expected if blob.legacy else expected  # Caffe's legacy rule
            if blob.shape != written:
                raise InputError(
                    f"{source}: layer {layer.name!r} ({layer.type}) {param} has shape {blob.shape}, "
                    f"the network expects {written}."
                )
            state[f"{layer.name}.{param}"] = torch.from_numpy(blob.data.astype(np.float32)).reshape(expected)
    model.load_state_dict(state)


def import_fcn8s(path: str | os.PathLike) -> Segmenter:
    """Build a p2p-eval FCN-8s segmenter from a Caffe FCN-8s ``.caffemodel``.

    The network's width and number of outputs are read from the file
    (conv1_1 and score_fr); every blob is then checked and copied. A model
    with 20 outputs (the published Cityscapes one) maps channel 19, which no
    training pixel ever targeted, to 255: its predictions count as errors.

    Raises
    ------
    InputError
        For an unreadable file or any layer that does not fit (see
        `read_caffemodel` and `load_caffe_layers`).
    """
    path = Path(path)
    layers = read_caffemodel(path)
    by_name = {layer.name: layer for layer in layers if layer.blobs}
    for required in ("conv1_1", "score_fr"):
        if required not in by_name:
            raise InputError(f"{path}: no layer {required!r} with weights; this is not an FCN-8s caffemodel.")
    width = by_name["conv1_1"].blobs[0].shape[0]
    num_outputs = by_name["score_fr"].blobs[0].shape[0]
    if width not in (64, 32, 16, 8, 4, 2, 1):
        raise InputError(f"{path}: layer 'conv1_1' has {width} outputs; FCN-8s has 64 (or 64 / a power of two).")
    if num_outputs not in (NUM_CLASSES, NUM_CLASSES + 1):
        raise InputError(
            f"{path}: layer 'score_fr' has {num_outputs} outputs; a Cityscapes FCN-8s has "
            f"{NUM_CLASSES} (trainIds) or {NUM_CLASSES + 1} (trainIds and an unused channel)."
        )
    model = FCN8s(num_outputs, width_divisor=64 // width)
    load_caffe_layers(model, layers, path)
    model.eval()
    return Segmenter(
        model=model,
        arch="fcn8s",
        arch_args={} if width == 64 else {"width_divisor": 64 // width},
        preprocess=OFFICIAL_PREPROCESS,
        output_to_train_id=tuple(range(NUM_CLASSES)) + (IGNORE,) * (num_outputs - NUM_CLASSES),
        meta={
            "train_size": list(OFFICIAL_TRAIN_SIZE),
            "trained_on": {
                "kind": "caffe-import",
                "file": path.name,
                "file_sha256": _file_sha256(path),
                "note": "Cityscapes train photos downsized to 256x256 and upsampled to 2048x1024 (pix2pix README)",
            },
            "scores": {},
        },
    )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()
