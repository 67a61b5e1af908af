"""The FID Inception features against torch-fidelity, pytorch-fid and clean-fid, from one local file."""

import logging

import numpy as np
import pytest
import torch
from cleanfid.resize import build_resizer, make_resizer
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
from weights_factory import NetworkBlocked, block_network, write_random_weights

from p2p_eval.errors import InputError
from p2p_eval.features.inception import FEATURE_DIM, load_inception
from p2p_eval.features.resize import PROTOCOLS, clean_resize, inception_batch
from p2p_eval.features.weights import INCEPTION_ENV, file_sha256


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    # pytorch-fid's file name, so pytorch-fid finds it in a torch.hub cache too
    root = tmp_path_factory.mktemp("torch_home")
    return write_random_weights(root / "hub" / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth", "fid-inception")


@pytest.fixture(scope="module")
def extractor(inception_file):
    return load_inception(inception_file)


def _images(seed, shapes):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=shape, dtype=np.uint8) for shape in shapes]


def _as_batch(images):
    """(N, 3, H, W) uint8, contiguous (a permuted view would change the convolution kernels' rounding)."""
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


@pytest.mark.parametrize("shape", [(299, 299, 3), (256, 256, 3), (64, 48, 3), (517, 300, 3), (1, 1, 3)])
def test_clean_resize_is_clean_fids_bit_for_bit(shape):
    image = _images(0, [shape])[0]
    theirs = make_resizer("PIL", False, "bicubic", (299, 299))(image)
    assert np.array_equal(clean_resize(image), theirs)
    assert np.array_equal(clean_resize(image), build_resizer("clean")(image))
    assert clean_resize(image).dtype == np.float32


def test_legacy_pytorch_fid_resize_is_clean_fids_legacy_pytorch_mode():
    image = _images(1, [(64, 80, 3)])[0]
    ours = (inception_batch([image], "legacy-pytorch-fid")[0].permute(1, 2, 0).numpy() + 1) / 2 * 255
    theirs = build_resizer("legacy_pytorch")(image)  # F.interpolate on 0..255 values
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-3)


def test_clean_features_equal_torch_fidelitys_extractor_at_299(extractor, inception_file):
    # At 299x299 torch-fidelity's in-network resize is the identity and the
    # clean resize is PIL's identity, so the two pipelines must agree exactly.
    reference = FeatureExtractorInceptionV3("ref", ["2048"], feature_extractor_weights_path=str(inception_file))
    images = _images(2, [(299, 299, 3)] * 3)
    with torch.no_grad():
        expected = reference(_as_batch(images))[0].numpy()
    ours = extractor(images, protocol="clean", batch_size=2)
    assert ours.shape == (3, FEATURE_DIM) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())
    assert np.abs(expected).max() > 1  # random weights still give non-trivial features


def test_legacy_tf1_features_equal_torch_fidelity_at_any_size(extractor, inception_file):
    reference = FeatureExtractorInceptionV3("ref", ["2048"], feature_extractor_weights_path=str(inception_file))
    images = _images(3, [(64, 80, 3)] * 2)
    with torch.no_grad():
        expected = reference(_as_batch(images))[0].numpy()
    np.testing.assert_allclose(extractor(images, protocol="legacy-tf1"), expected, rtol=1e-6, atol=1e-5)


def test_legacy_pytorch_fid_features_equal_pytorch_fid(extractor, inception_file, monkeypatch):
    from pytorch_fid.inception import InceptionV3

    # pytorch-fid always fetches through torch.hub; a cached file of the right name is used as is.
    monkeypatch.setenv("TORCH_HOME", str(inception_file.parents[2]))
    block_network(monkeypatch)
    network = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[FEATURE_DIM]]).eval()
    images = _images(4, [(64, 80, 3)] * 2)
    with torch.no_grad():
        expected = network(_as_batch(images).float() / 255)[0][:, :, 0, 0].numpy()
    np.testing.assert_allclose(extractor(images, protocol="legacy-pytorch-fid"), expected, rtol=1e-6, atol=1e-5)


def test_protocols_differ_and_features_do_not_depend_on_batch(extractor):
    images = _images(5, [(64, 64, 3), (96, 128, 3), (64, 64, 3)])  # mixed sizes in one call
    by_protocol = {p: extractor(images, protocol=p, batch_size=3) for p in PROTOCOLS}
    for p, q in [("clean", "legacy-tf1"), ("legacy-tf1", "legacy-pytorch-fid")]:
        assert np.abs(by_protocol[p] - by_protocol[q]).max() > 1e-3, (p, q)
    one_by_one = extractor(images, protocol="clean", batch_size=1)
    np.testing.assert_allclose(one_by_one, by_protocol["clean"], rtol=1e-5, atol=1e-5)


def test_features_stay_fp32_under_a_callers_autocast(extractor):
    images = _images(6, [(64, 64, 3)] * 2)
    plain = extractor(images)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = extractor(images)
    np.testing.assert_array_equal(under_autocast, plain)


def test_empty_input_and_bad_images(extractor):
    assert extractor([]).shape == (0, FEATURE_DIM)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8 RGB image, got float64 array of shape \(8, 8, 3\)"):
        extractor([np.zeros((8, 8, 3))])
    with pytest.raises(ValueError, match="got uint8 array of shape \\(8, 8\\)"):
        extractor([np.zeros((8, 8), np.uint8)])
    with pytest.raises(ValueError, match="Expected `protocol` in"):
        extractor(_images(7, [(8, 8, 3)]), protocol="bicubic")


def test_loads_from_the_environment_and_records_the_files_sha256(inception_file, monkeypatch, caplog):
    monkeypatch.setenv(INCEPTION_ENV, str(inception_file))
    with caplog.at_level(logging.WARNING):
        loaded = load_inception()
    assert loaded.sha256 == file_sha256(inception_file) and len(loaded.sha256) == 64
    assert not loaded.is_published
    assert "not the published FID Inception" in caplog.text


def test_a_file_without_batchnorm_step_counters_loads(tmp_path):
    # Weights converted from TensorFlow carry no num_batches_tracked buffers.
    path = write_random_weights(tmp_path / "inception.pth", "fid-inception", seed=1, drop_step_counters=True)
    assert load_inception(path)(_images(8, [(32, 32, 3)])).shape == (1, FEATURE_DIM)


def test_nothing_is_downloaded(inception_file, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    block_network(monkeypatch)
    with pytest.raises(NetworkBlocked):  # the guard works: the library's download path is refused
        FeatureExtractorInceptionV3("ref", ["2048"])
    assert load_inception(inception_file)(_images(9, [(32, 32, 3)])).shape == (1, FEATURE_DIM)


def test_refuses_missing_and_unset_files(tmp_path, monkeypatch):
    monkeypatch.delenv(INCEPTION_ENV, raising=False)
    with pytest.raises(InputError, match=f"No FID Inception weights file given: pass its path or set {INCEPTION_ENV}"):
        load_inception()
    with pytest.raises(InputError, match="no such file.*pt_inception-2015-12-05-6726825d.pth"):
        load_inception(tmp_path / "nope.pth")


def test_refuses_foreign_files_saying_what_they_are(tmp_path):
    alexnet = write_random_weights(tmp_path / "alexnet.pth", "alex")
    with pytest.raises(InputError, match=r"alexnet\.pth: not the FID Inception.*it holds torchvision AlexNet weights"):
        load_inception(alexnet)
    imagenet = write_random_weights(tmp_path / "inception_v3_google.pth", "imagenet-inception")
    with pytest.raises(InputError, match=r"holds torchvision's ImageNet Inception v3.*unexpected: AuxLogits"):
        load_inception(imagenet)

    state = torch.load(write_random_weights(tmp_path / "x.pth", "fid-inception"), weights_only=True)
    state["fc.weight"] = state["fc.weight"][:1000]
    torch.save(state, tmp_path / "truncated.pth")
    wrong = r"matches no known network \(1 wrong shape: fc.weight \(1000, 2048\) \(expected \(1008, 2048\)\)"
    with pytest.raises(InputError, match=wrong):
        load_inception(tmp_path / "truncated.pth")

    (tmp_path / "corrupt.pth").write_bytes(b"not a torch file")
    with pytest.raises(InputError, match="corrupt.pth: cannot read it as plain tensors"):
        load_inception(tmp_path / "corrupt.pth")

    torch.save({"format": "p2p-eval-segmenter", "version": 1}, tmp_path / "segmenter.pt")
    with pytest.raises(InputError, match="a p2p-eval 'p2p-eval-segmenter' file, not a state dict"):
        load_inception(tmp_path / "segmenter.pt")


def test_refuses_a_torchscript_inception(tmp_path):
    class Tiny(torch.nn.Module):
        def forward(self, x):
            return x + 1

    with pytest.warns(Warning):  # torch.jit is deprecated, but clean-fid's file is one
        torch.jit.save(torch.jit.trace(Tiny(), torch.zeros(2)), tmp_path / "inception-2015-12-05.pt")
    with pytest.raises(InputError, match="a TorchScript archive .*clean-fid.*not a state dict of the FID Inception"):
        load_inception(tmp_path / "inception-2015-12-05.pt")
