"""Write .caffemodel files for tests with the protobuf library Caffe itself writes with.

The message schema is the subset of Caffe's ``caffe.proto`` that holds
weights, built at run time from descriptors (no protoc, no Caffe), so the
bytes are what protobuf's serializer produces for a real Caffe net.
"""

import numpy as np
import torch
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from torch import nn

F = descriptor_pb2.FieldDescriptorProto
V1_TYPES = {"Convolution": 4, "Deconvolution": 39, "ReLU": 18, "Pooling": 17}


def _message(file, name, fields):
    msg = file.message_type.add(name=name)
    for field_name, number, kind, label, type_name, packed in fields:
        f = msg.field.add(name=field_name, number=number, type=kind, label=label)
        if type_name:
            f.type_name = type_name
        if packed:
            f.options.packed = True
    return msg


def caffe_classes(packed: bool = True):
    """Message classes (NetParameter, ...) of a Caffe schema subset; `packed` as in caffe.proto."""
    package = f"caffe_subset_{'packed' if packed else 'unpacked'}"
    pool = descriptor_pool.DescriptorPool()
    file = descriptor_pb2.FileDescriptorProto(name=f"{package}.proto", package=package, syntax="proto2")
    rep, opt = F.LABEL_REPEATED, F.LABEL_OPTIONAL
    _message(file, "BlobShape", [("dim", 1, F.TYPE_INT64, rep, None, packed)])
    _message(file, "BlobProto", [
        ("num", 1, F.TYPE_INT32, opt, None, False), ("channels", 2, F.TYPE_INT32, opt, None, False),
        ("height", 3, F.TYPE_INT32, opt, None, False), ("width", 4, F.TYPE_INT32, opt, None, False),
        ("data", 5, F.TYPE_FLOAT, rep, None, packed), ("shape", 7, F.TYPE_MESSAGE, opt, f".{package}.BlobShape", False),
        ("double_data", 8, F.TYPE_DOUBLE, rep, None, packed),
    ])
    _message(file, "LayerParameter", [
        ("name", 1, F.TYPE_STRING, opt, None, False), ("type", 2, F.TYPE_STRING, opt, None, False),
        ("bottom", 3, F.TYPE_STRING, rep, None, False), ("top", 4, F.TYPE_STRING, rep, None, False),
        ("blobs", 7, F.TYPE_MESSAGE, rep, f".{package}.BlobProto", False),
    ])
    v1 = _message(file, "V1LayerParameter", [
        ("bottom", 2, F.TYPE_STRING, rep, None, False), ("top", 3, F.TYPE_STRING, rep, None, False),
        ("name", 4, F.TYPE_STRING, opt, None, False), ("type", 5, F.TYPE_ENUM, opt, f".{package}.V1LayerParameter.LayerType", False),
        ("blobs", 6, F.TYPE_MESSAGE, rep, f".{package}.BlobProto", False),
    ])
    enum = v1.enum_type.add(name="LayerType")
    enum.value.add(name="NONE", number=0)
    for name, number in V1_TYPES.items():
        enum.value.add(name=name.upper(), number=number)
    _message(file, "NetParameter", [
        ("name", 1, F.TYPE_STRING, opt, None, False),
        ("layers", 2, F.TYPE_MESSAGE, rep, f".{package}.V1LayerParameter", False),
        ("layer", 100, F.TYPE_MESSAGE, rep, f".{package}.LayerParameter", False),
    ])
    pool.Add(file)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}"))
            for name in ("NetParameter", "BlobProto")}


def _fill_blob(blob, tensor: torch.Tensor, legacy: bool, double: bool) -> None:
    values = tensor.detach().numpy().astype(np.float64 if double else np.float32).ravel()
    (blob.double_data if double else blob.data).extend(values.tolist())
    if legacy:  # num/channels/height/width, left-padded with 1s as Caffe's legacy blobs are
        blob.num, blob.channels, blob.height, blob.width = (1,) * (4 - tensor.dim()) + tuple(tensor.shape)
    else:
        blob.shape.dim.extend(tensor.shape)


def fcn8s_caffemodel(model: nn.Module, *, legacy: bool = False, packed: bool = True, double_layers=()) -> bytes:
    """Serialize `model`'s convolutions as a Caffe NetParameter, in file order like Caffe.

    Layers without weights (ReLU, Pooling) are interleaved as Caffe writes them.
    """
    net = caffe_classes(packed)["NetParameter"](name="fcn8s-test")
    previous = "data"
    for name, module in model.named_modules():
        if not isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            continue
        kind = "Deconvolution" if isinstance(module, nn.ConvTranspose2d) else "Convolution"
        layer = net.layers.add() if legacy else net.layer.add()
        layer.name = name
        layer.type = V1_TYPES[kind] if legacy else kind
        layer.bottom.append(previous)
        layer.top.append(name)
        for param in (module.weight, module.bias):
            if param is not None:
                _fill_blob(layer.blobs.add(), param, legacy, name in double_layers)
        relu = net.layers.add() if legacy else net.layer.add()
        relu.name, relu.type = f"relu_{name}", V1_TYPES["ReLU"] if legacy else "ReLU"
        previous = name
    return net.SerializeToString()
