"""LPIPS per pair against the lpips package loading the same backbone file its own way."""

import lpips
import numpy as np
import pytest
import torch
from weights_factory import NetworkBlocked, block_network, write_random_weights

from p2p_eval.errors import InputError
from p2p_eval.features.perceptual import load_lpips
from p2p_eval.features.weights import LPIPS_BACKBONE_ENV, expected_shapes, file_sha256

# torchvision's file names: lpips asks torchvision for these, which reads them from the torch.hub cache.
TORCHVISION_FILES = {"alex": "alexnet-owt-7be5be79.pth", "squeeze": "squeezenet1_1-b8a52dc0.pth"}
# lpips' own loading (the reference) passes torchvision's deprecated `pretrained`.
lpips_own_loading = pytest.mark.filterwarnings("ignore:.*deprecated since 0.13:UserWarning")


def _pairs(seed, shapes):
    rng = np.random.default_rng(seed)
    return [
        (rng.integers(0, 256, size=s, dtype=np.uint8), rng.integers(0, 256, size=s, dtype=np.uint8)) for s in shapes
    ]


@lpips_own_loading
@pytest.mark.parametrize("backbone", ["alex", "squeeze"])
def test_distances_equal_lpips_packages_own_loading(backbone, tmp_path, monkeypatch):
    backbone_file = write_random_weights(tmp_path / "hub" / "checkpoints" / TORCHVISION_FILES[backbone], backbone)
    ours = load_lpips(backbone_file, backbone=backbone)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    block_network(monkeypatch)
    reference = lpips.LPIPS(net=backbone, verbose=False)  # pretrained trunk: torchvision reads the cached file
    pairs = _pairs(0, [(64, 64, 3)] * 3 + [(48, 80, 3)] * 2)  # two sizes: batches split where the size changes
    expected = np.array([reference(lpips.im2tensor(a), lpips.im2tensor(b)).item() for a, b in pairs])
    distances = ours(pairs, batch_size=2)
    assert distances.shape == (5,) and distances.dtype == np.float64
    np.testing.assert_allclose(distances, expected, rtol=1e-6)
    assert ours(pairs[:1])[0] > 0 and ours([(pairs[0][0], pairs[0][0])])[0] == 0


def test_records_both_weight_files_and_reads_the_environment(tmp_path, monkeypatch):
    backbone_file = write_random_weights(tmp_path / "alexnet.pth", "alex")
    monkeypatch.setenv(LPIPS_BACKBONE_ENV, str(backbone_file))
    loaded = load_lpips()
    assert loaded.backbone == "alex" and loaded.backbone_sha256 == file_sha256(backbone_file)
    assert loaded.linear_sha256 == file_sha256(lpips.__path__[0] + "/weights/v0.1/alex.pth")


@lpips_own_loading
def test_nothing_is_downloaded(tmp_path, monkeypatch):
    backbone_file = write_random_weights(tmp_path / "alexnet.pth", "alex")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    block_network(monkeypatch)
    with pytest.raises(NetworkBlocked):  # the guard works: the package's default would download the trunk
        lpips.LPIPS(net="alex", verbose=False)
    assert load_lpips(backbone_file)(_pairs(1, [(32, 32, 3)])).shape == (1,)


def test_refuses_another_network_and_bad_pairs(tmp_path, monkeypatch):
    monkeypatch.delenv(LPIPS_BACKBONE_ENV, raising=False)
    with pytest.raises(InputError, match=f"set {LPIPS_BACKBONE_ENV}.*alexnet-owt-7be5be79.pth"):
        load_lpips()
    squeeze = write_random_weights(tmp_path / "squeeze.pth", "squeeze")
    with pytest.raises(InputError, match=r"squeeze.pth: not torchvision AlexNet weights.*holds torchvision SqueezeNet"):
        load_lpips(squeeze, backbone="alex")
    with pytest.raises(ValueError, match="Expected `backbone` in"):
        load_lpips(squeeze, backbone="resnet")
    model = load_lpips(squeeze, backbone="squeeze")
    (a, _), (b, _) = _pairs(2, [(32, 32, 3), (32, 48, 3)])
    with pytest.raises(ValueError, match=r"images of pair 0 to have one shape, got \(32, 32, 3\) and \(32, 48, 3\)"):
        model([(a, b)])
    with pytest.raises(ValueError, match="pair 1 to hold .* uint8 RGB images, got float64"):
        model([(a, a), (a.astype(float), a)])


@lpips_own_loading
@pytest.mark.parametrize("backbone", ["alex", "vgg", "squeeze"])
def test_every_lpips_trunk_parameter_comes_from_the_torchvision_file(backbone):
    # The key mapping load_lpips uses, checked on shapes alone (no 500 MB VGG allocated).
    with torch.device("meta"):
        network = lpips.LPIPS(pretrained=False, net=backbone, pnet_rand=True, verbose=False)
    torchvision_shapes = expected_shapes(backbone)
    trunk = network.net.state_dict()
    mapped = {"features." + name.split(".", 1)[1]: tuple(t.shape) for name, t in trunk.items()}
    assert len(mapped) == len(trunk) > 0
    assert all(torchvision_shapes[name] == shape for name, shape in mapped.items())
