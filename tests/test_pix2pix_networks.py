"""pix2pix networks: parameter counts equal the PyTorch pix2pix code's, receptive fields, init."""

import pytest
import torch

from trainers.pix2pix.discriminators import (
    DiscriminatorConfig, build_discriminator, min_input_size, patch_discriminator, patch_map_size,
    receptive_field,
)
from trainers.pix2pix.generators import GeneratorConfig, build_generator, depth_for_size
from trainers.pix2pix.init import count_parameters

# shared/reference/PYTORCH_PIX2PIX.md, measured on the public implementation.
GENERATOR_COUNTS = [
    (GeneratorConfig("unet", 8, 64, "batch", True), 54_413_955),
    (GeneratorConfig("unet", 8, 64, "batch", False), 54_413_955),
    (GeneratorConfig("unet", 7, 64), 41_828_995),
    (GeneratorConfig("unet", 7, 32), 10_461_507),
    (GeneratorConfig("unet", 8, 64, "instance"), 54_409_603),
    (GeneratorConfig("encdec", 8, 64), 39_075_459),
]
DISCRIMINATOR_COUNTS = [
    (DiscriminatorConfig("70", True, 64), 2_768_705),
    (DiscriminatorConfig("70", False, 64), 2_765_633),
    (DiscriminatorConfig("16", True, 64), 139_585),
    (DiscriminatorConfig("286", True, 64), 11_159_361),
    (DiscriminatorConfig("pixel", True, 64), 9_024),
    (DiscriminatorConfig("pixel", False, 64), 8_832),
    (DiscriminatorConfig("70", True, 32), 696_225),
]


@pytest.mark.parametrize(("config", "expected"), GENERATOR_COUNTS, ids=str)
def test_generator_parameter_counts_match_pytorch_pix2pix(config, expected):
    assert count_parameters(build_generator(config)) == expected


@pytest.mark.parametrize(("config", "expected"), DISCRIMINATOR_COUNTS, ids=str)
def test_discriminator_parameter_counts_match_pytorch_pix2pix(config, expected):
    assert count_parameters(build_discriminator(config)) == expected


@pytest.mark.parametrize(
    ("name", "field", "patches"),
    [("pixel", 1, 256), ("16", 16, 126), ("34", 34, 62), ("70", 70, 30), ("142", 142, 14), ("286", 286, 6)],
)
def test_receptive_fields_and_patch_maps(name, field, patches):
    net = build_discriminator(DiscriminatorConfig(name, True, 8))
    assert receptive_field(net) == field
    assert patch_map_size(net, 256) == patches


@pytest.mark.parametrize(("name", "size"), [("pixel", 1), ("16", 6), ("70", 24), ("286", 96)])
def test_min_input_size_is_the_smallest_that_runs(name, size):
    net = build_discriminator(DiscriminatorConfig(name, True, 4))
    assert min_input_size(name) == size
    assert patch_map_size(net, size) == 1
    if size > 1:
        with pytest.raises(RuntimeError):
            patch_map_size(net, size - 1)


def test_receptive_field_formula_by_hand():
    # n_layers=6 is not a named variant; the reference file lists 574 for it.
    assert receptive_field(patch_discriminator(6, 4, 6, "batch")) == 574
    assert receptive_field(torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3, 1), torch.nn.Conv2d(1, 1, 3, 2))) == 5


@pytest.mark.parametrize(("size", "depth"), [(256, 8), (128, 7), (64, 6), (32, 5)])
def test_depth_follows_image_size(size, depth):
    assert depth_for_size(size, size) == depth


@pytest.mark.parametrize("size", [(16, 16), (100, 100), (64, 96)])
def test_bad_sizes_are_refused(size):
    with pytest.raises(ValueError, match="power of two"):
        depth_for_size(*size)


def test_unknown_names_list_the_choices():
    with pytest.raises(ValueError, match="unet"):
        GeneratorConfig("resnet")
    with pytest.raises(ValueError, match="pixel"):
        DiscriminatorConfig("99")


def test_init_is_normal_002_and_shapes_round_trip():
    torch.manual_seed(0)
    gen = build_generator(GeneratorConfig("unet", 7, 32))
    weights = torch.cat([m.weight.flatten() for m in gen.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))])
    assert abs(weights.mean().item()) < 1e-3 and abs(weights.std().item() - 0.02) < 1e-3
    bn = [m for m in gen.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert abs(torch.cat([m.weight for m in bn]).mean().item() - 1) < 0.01
    assert all((m.bias == 0).all() for m in bn)
    out = gen(torch.randn(2, 3, 128, 128))
    assert out.shape == (2, 3, 128, 128) and out.abs().max() <= 1


def test_encoder_decoder_has_no_skip_path():
    """Zeroing the innermost code changes nothing else in the encoder-decoder, so the output is
    constant over inputs; the U-Net's skips carry the input through."""
    torch.manual_seed(0)
    for arch, depends_on_input in (("encdec", False), ("unet", True)):
        gen = build_generator(GeneratorConfig(arch, 5, 4, dropout=False)).eval()
        innermost = gen.down[-1][-1]
        torch.nn.init.zeros_(innermost.weight)
        with torch.no_grad():
            a, b = gen(torch.randn(1, 3, 32, 32)), gen(torch.randn(1, 3, 32, 32))
        assert (not torch.allclose(a, b)) == depends_on_input, arch


def test_dropout_on_first_three_decoder_layers():
    gen = build_generator(GeneratorConfig("unet", 8, 8))
    with_dropout = [i for i, layer in enumerate(gen.up) if any(isinstance(m, torch.nn.Dropout) for m in layer)]
    assert with_dropout == [0, 1, 2]
