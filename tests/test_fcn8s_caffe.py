"""FCN-8s geometry against the prototxt's arithmetic, and the Caffe import in both layer formats."""

import math

import numpy as np
import pytest
import torch
from caffemodel_writer import caffe_classes, fcn8s_caffemodel

from p2p_eval.cli import main
from p2p_eval.errors import InputError
from p2p_eval.segmenters import load_segmenter, save_segmenter
from p2p_eval.segmenters.caffe import OFFICIAL_PREPROCESS, import_fcn8s, read_caffemodel
from p2p_eval.segmenters.fcn8s import FCN8s

DIVISOR = 32  # same geometry as the published net, 1/500 of the weights


def caffe_sizes(h: int) -> dict[str, int]:
    """Blob heights of deploy.prototxt for input height `h`, by Caffe's size formulas."""
    conv = lambda x, k, p=0, s=1: (x + 2 * p - k) // s + 1  # noqa: E731
    pool = lambda x: math.ceil((x - 2) / 2) + 1  # noqa: E731  Caffe pooling rounds up
    deconv = lambda x, k, s: s * (x - 1) + k  # noqa: E731
    sizes, x = {}, conv(h, 3, p=100)
    for block in range(1, 6):
        x = pool(x)
        sizes[f"pool{block}"] = x
    sizes["fc6_cs"] = conv(sizes["pool5"], 7)
    sizes["upscore2"] = deconv(sizes["fc6_cs"], 4, 2)
    sizes["upscore_pool4"] = deconv(sizes["upscore2"], 4, 2)
    sizes["upscore8"] = deconv(sizes["upscore_pool4"], 16, 8)
    # Caffe's Crop requires each cropped bottom to hold offset + the reference size.
    assert sizes["pool4"] >= 5 + sizes["upscore2"]
    assert sizes["pool3"] >= 9 + sizes["upscore_pool4"]
    assert sizes["upscore8"] >= 31 + h
    return sizes


@pytest.fixture(scope="module")
def small_net() -> FCN8s:
    torch.manual_seed(0)
    net = FCN8s(20, width_divisor=DIVISOR).eval()
    with torch.no_grad():  # random everywhere, so a swapped or skipped tensor shows
        for p in net.parameters():
            p.normal_()
    return net


@pytest.mark.parametrize("size", [(1, 1), (7, 31), (32, 32), (33, 64), (100, 37), (256, 256), (97, 203)])
def test_every_blob_size_follows_the_prototxt(small_net, size):
    seen, pools = {}, []

    def record(name):
        def hook(module, inputs, output):  # returns None, so the output is left alone
            if name == "pool":
                pools.append(output.shape[-2:])
            else:
                seen[name] = output.shape[-2:]
        return hook

    hooks = [getattr(small_net, n).register_forward_hook(record(n))
             for n in ("fc6_cs", "upscore2", "upscore_pool4", "upscore8", "pool")]
    with torch.no_grad():
        out = small_net(torch.zeros(1, 3, *size))
    for h in hooks:
        h.remove()
    expected_h, expected_w = caffe_sizes(size[0]), caffe_sizes(size[1])
    for i, (ph, pw) in enumerate(pools, start=1):
        assert (ph, pw) == (expected_h[f"pool{i}"], expected_w[f"pool{i}"])
    for name, (bh, bw) in seen.items():
        assert (bh, bw) == (expected_h[name], expected_w[name]), name
    assert out.shape == (1, 20, *size)


def test_full_size_net_has_the_published_shapes():
    net = FCN8s(20).eval()
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes["conv1_1.weight"] == (64, 3, 3, 3) and net.conv1_1.padding == (100, 100)
    assert shapes["fc6_cs.weight"] == (4096, 512, 7, 7) and shapes["fc7_cs.weight"] == (4096, 4096, 1, 1)
    assert shapes["score_pool4.weight"] == (20, 512, 1, 1) and shapes["score_pool3.weight"] == (20, 256, 1, 1)
    assert shapes["upscore8.weight"] == (20, 20, 16, 16) and "upscore8.bias" not in shapes
    with torch.no_grad():
        assert net(torch.zeros(1, 3, 24, 40)).shape == (1, 20, 24, 40)


@pytest.mark.parametrize("legacy", [False, True], ids=["layer", "legacy-layers"])
def test_import_copies_every_tensor(tmp_path, small_net, legacy):
    path = tmp_path / "fcn.caffemodel"
    path.write_bytes(fcn8s_caffemodel(small_net, legacy=legacy, double_layers=("score_pool3",)))
    segmenter = import_fcn8s(path)
    imported = segmenter.model.state_dict()
    reference = small_net.state_dict()
    assert set(imported) == set(reference) and len(imported) == 39  # 18 convolutions x (weight, bias) + 3 deconvolutions
    for name, tensor in reference.items():
        assert torch.equal(imported[name], tensor), name
    assert segmenter.preprocess == OFFICIAL_PREPROCESS
    assert segmenter.output_to_train_id == tuple(range(19)) + (255,)
    assert segmenter.arch_args == {"width_divisor": DIVISOR}
    x = torch.randint(0, 256, (2, 3, 45, 61), dtype=torch.uint8)
    with torch.no_grad():
        logits = segmenter.model(segmenter.preprocess(x))
        assert torch.equal(logits, small_net(OFFICIAL_PREPROCESS(x)))
    assert logits.shape == (2, 20, 45, 61)
    # official preprocessing: BGR order, BGR mean subtracted, no scaling
    assert torch.allclose(OFFICIAL_PREPROCESS(x)[:, 0], x[:, 2].float() - 72.78044)
    saved = tmp_path / "fcn.pt"
    save_segmenter(saved, segmenter)
    loaded = load_segmenter(saved)
    assert loaded.sha256 == segmenter.sha256 and loaded.arch == "fcn8s"
    assert set(loaded.predict(x).unique().tolist()) <= set(range(19)) | {255}


def test_reads_unpacked_and_double_blobs(tmp_path, small_net):
    path = tmp_path / "unpacked.caffemodel"
    path.write_bytes(fcn8s_caffemodel(small_net, packed=False, double_layers=("conv1_1",)))
    layers = {layer.name: layer for layer in read_caffemodel(path)}
    assert layers["relu_conv1_1"].blobs == () and layers["upscore8"].type == "Deconvolution"
    assert np.array_equal(layers["conv1_1"].blobs[0].data, small_net.conv1_1.weight.detach().numpy().ravel())
    assert layers["conv1_1"].blobs[0].shape == (2, 3, 3, 3)


def _rewrite(small_net, tmp_path, edit, legacy=False):
    classes = caffe_classes()
    net = classes["NetParameter"].FromString(fcn8s_caffemodel(small_net, legacy=legacy))
    edit(net)
    path = tmp_path / "edited.caffemodel"
    path.write_bytes(net.SerializeToString())
    return path


def _drop(name):
    def edit(net):
        keep = [layer for layer in net.layer if layer.name != name]
        del net.layer[:]
        net.layer.extend(keep)
    return edit


def _rename(old, new):
    def edit(net):
        next(layer for layer in net.layer if layer.name == old).name = new
    return edit


def _reshape_weight(name):
    def edit(net):
        shape = next(layer for layer in net.layer if layer.name == name).blobs[0].shape
        shape.dim[0], shape.dim[1] = shape.dim[1], shape.dim[0]
    return edit


def _add_bias(name):
    def edit(net):
        layer = next(layer for layer in net.layer if layer.name == name)
        bias = layer.blobs.add()
        bias.shape.dim.append(20)
        bias.data.extend([0.0] * 20)
    return edit


@pytest.mark.parametrize(
    "edit, message",
    [
        (_drop("upscore8"), r"missing from the file: \['upscore8'\]"),
        (_rename("score_pool3", "score_pool3b"), r"not in the network: \[.score_pool3b.\]; layers of the network missing from the file: \[.score_pool3.\]"),
        (_reshape_weight("conv3_1"), r"layer 'conv3_1' \(Convolution\) weight has shape \(4, 8, 3, 3\)"),
        (_reshape_weight("fc6_cs"), r"layer 'fc6_cs' \(Convolution\) weight has shape \(16, 128, 7, 7\), the network expects \(128, 16, 7, 7\)"),
        (_add_bias("upscore_pool4"), r"layer 'upscore_pool4' \(Deconvolution\) has 2 blobs; the network expects 1 \(weight\)"),
    ],
    ids=["missing", "unknown", "shape", "fc6-shape", "deconv-bias"],
)
def test_mismatched_files_name_the_layer(tmp_path, small_net, edit, message):
    with pytest.raises(InputError, match=message):
        import_fcn8s(_rewrite(small_net, tmp_path, edit))


def test_truncated_file_names_the_layer(tmp_path, small_net):
    data = fcn8s_caffemodel(small_net, legacy=True)
    full = tmp_path / "full.caffemodel"
    full.write_bytes(data)
    for cut in (len(data) - 7, len(data) // 2, 40):
        path = tmp_path / f"cut{cut}.caffemodel"
        path.write_bytes(data[:cut])
        with pytest.raises(InputError, match=r"cut\d+\.caffemodel: cannot read the file in (the layer after )?layer '\w+'.*truncated"):
            import_fcn8s(path)


def test_not_a_caffemodel(tmp_path):
    path = tmp_path / "photo.caffemodel"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError, match="photo.caffemodel"):
        import_fcn8s(path)
    with pytest.raises(InputError, match="not found"):
        import_fcn8s(tmp_path / "absent.caffemodel")


def test_cli_import_and_info(tmp_path, small_net, capsys):
    source = tmp_path / "fcn.caffemodel"
    source.write_bytes(fcn8s_caffemodel(small_net))
    out = tmp_path / "fcn8s-cityscapes.pt"
    assert main(["segmenter", "import-caffe", str(source), "--out", str(out)]) == 0
    assert main(["segmenter", "info", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "fcn8s" in printed and "BGR" in printed and load_segmenter(out).sha256 in printed
    assert "19 -> 255" in printed
    assert main(["segmenter", "import-caffe", str(tmp_path / "nope.caffemodel"), "--out", str(out)]) == 2
