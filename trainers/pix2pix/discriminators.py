"""The PatchGAN family of discriminators, named by receptive field.

``pixel`` (1x1 PixelGAN: 1x1 convolutions 64-128-1), and ``n_layers`` PatchGANs
of 4x4 convolutions (stride 2, the last two stride 1) whose receptive fields are
16 (n=1), 34 (2), 70 (3, the default), 142 (4) and 286 (5, the paper's
"ImageGAN"); widths and biases follow the PyTorch pix2pix code so parameter
counts match it. The output is a map of logits, one per patch (no sigmoid: the
loss takes logits).
"""

from dataclasses import dataclass

import torch
from torch import nn

from trainers.pix2pix.init import NORMS, init_weights, norm_layer

PATCH_LAYERS = {"16": 1, "34": 2, "70": 3, "142": 4, "286": 5}
"""Receptive-field name -> number of strided layers of the PatchGAN."""
RECEPTIVE_FIELDS = ("pixel", *PATCH_LAYERS)


@dataclass(frozen=True)
class DiscriminatorConfig:
    receptive_field: str = "70"  # one of RECEPTIVE_FIELDS
    conditional: bool = True  # sees input and output (6 channels) or the output only
    ndf: int = 64  # filters of the first layer
    norm: str = "batch"

    def __post_init__(self) -> None:
        if self.receptive_field not in RECEPTIVE_FIELDS:
            raise ValueError(
                f"Expected `receptive_field` to be one of {RECEPTIVE_FIELDS}, got {self.receptive_field!r}."
            )
        if self.norm not in NORMS:
            raise ValueError(f"Expected `norm` to be one of {NORMS}, got {self.norm!r}.")
        if self.ndf < 1:
            raise ValueError(f"Expected `ndf` >= 1, got {self.ndf}.")


def patch_discriminator(in_channels: int, ndf: int, n_layers: int, norm: str) -> nn.Sequential:
    """PatchGAN: C64 (no norm), then Ck with k doubling up to 8*ndf, then a 1-channel conv."""
    make_norm, bias = norm_layer(norm), norm == "instance"
    layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2)]
    width = ndf
    for n in range(1, n_layers + 1):
        stride = 2 if n < n_layers else 1
        new_width = ndf * min(2**n, 8)
        layers += [nn.Conv2d(width, new_width, 4, stride, 1, bias=bias), make_norm(new_width), nn.LeakyReLU(0.2)]
        width = new_width
    layers.append(nn.Conv2d(width, 1, 4, 1, 1))
    return nn.Sequential(*layers)


def pixel_discriminator(in_channels: int, ndf: int, norm: str) -> nn.Sequential:
    """PixelGAN: 1x1 convolutions ndf -> 2*ndf (norm) -> 1, one logit per pixel."""
    make_norm, bias = norm_layer(norm), norm == "instance"
    return nn.Sequential(
        nn.Conv2d(in_channels, ndf, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf, 2 * ndf, 1, bias=bias), make_norm(2 * ndf), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * ndf, 1, 1, bias=bias),
    )


def build_discriminator(config: DiscriminatorConfig, image_channels: int = 3) -> nn.Module:
    """The discriminator `config` describes, initialised N(0, 0.02).

    Conditional discriminators see ``cat([input, output], 1)`` (2 x `image_channels`).
    """
    in_channels = image_channels * (2 if config.conditional else 1)
    if config.receptive_field == "pixel":
        net = pixel_discriminator(in_channels, config.ndf, config.norm)
    else:
        net = patch_discriminator(in_channels, config.ndf, PATCH_LAYERS[config.receptive_field], config.norm)
    init_weights(net)
    return net


def receptive_field(net: nn.Module) -> int:
    """Receptive field, in input pixels, of one output of a chain of convolutions.

    From the output backwards, ``r = (r - 1) * stride + kernel`` for each
    convolution (the module order is the forward order).

    Examples
    --------
    >>> receptive_field(patch_discriminator(6, 64, 3, "batch"))
    70
    """
    field = 1
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    for conv in reversed(convs):
        field = (field - 1) * conv.stride[0] + conv.kernel_size[0]
    return field


def min_input_size(receptive_field_name: str) -> int:
    """Smallest square input a discriminator gives a non-empty patch map for.

    n stride-2 convolutions halve the input, the two stride-1 4x4 ones each take
    one off: ``size / 2**n - 2 >= 1``. So 24 for the 70x70 D, 96 for the 286x286 D.
    """
    if receptive_field_name == "pixel":
        return 1
    return 3 * 2 ** PATCH_LAYERS[receptive_field_name]


def patch_map_size(net: nn.Module, size: int) -> int:
    """Side of the logit map for a `size` x `size` input (30 for the 70x70 D at 256)."""
    with torch.no_grad():
        first = next(m for m in net.modules() if isinstance(m, nn.Conv2d))
        probe = torch.zeros(1, first.in_channels, size, size)
        return net.eval()(probe).shape[-1]
