"""The paper's generators: the U-Net and the encoder-decoder (the U-Net with its skips severed).

Encoder ``C64-C128-C256-C512-C512-...`` (4x4 convolutions, stride 2, leaky ReLU
0.2, no norm on the first and the innermost layer); decoder of transposed
4x4 convolutions, ReLU, norm, dropout 0.5 on the first three decoder layers as in
the paper and its Torch code (the PyTorch port puts it on the 2nd-4th instead;
the parameter count is the same), then Tanh. Layer widths and biases follow the
PyTorch pix2pix code exactly, so parameter counts match it.

How the encoder-decoder severs the skips: each decoder layer takes only the
layer below it (``w_i`` channels instead of ``2 w_i``); every layer, width and
bias is otherwise the U-Net's. At 256x256, ngf 64: 39,075,459 parameters.
"""

import math
from dataclasses import dataclass

import torch
from torch import nn

from trainers.pix2pix.init import NORMS, init_weights, norm_layer

ARCHS = ("unet", "encdec")
MIN_DEPTH = 5  # innermost + the C512, C256, C128 and C64 layers
DROPOUT_LAYERS = 3  # decoder layers (innermost first) with dropout, as the paper says


@dataclass(frozen=True)
class GeneratorConfig:
    arch: str = "unet"  # one of ARCHS
    depth: int = 8  # number of downsamplings; 8 at 256x256 (1x1 bottleneck)
    ngf: int = 64  # filters of the first encoder layer
    norm: str = "batch"  # one of trainers.pix2pix.init.NORMS
    dropout: bool = True  # dropout 0.5 on the first three decoder layers

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"Expected generator `arch` to be one of {ARCHS}, got {self.arch!r}.")
        if self.norm not in NORMS:
            raise ValueError(f"Expected `norm` to be one of {NORMS}, got {self.norm!r}.")
        if self.depth < MIN_DEPTH:
            raise ValueError(f"Expected generator `depth` >= {MIN_DEPTH}, got {self.depth}.")
        if self.ngf < 1:
            raise ValueError(f"Expected `ngf` >= 1, got {self.ngf}.")


def depth_for_size(height: int, width: int) -> int:
    """Downsamplings that take the smaller side to 1 pixel: 8 at 256, 7 at 128, 6 at 64.

    Raises
    ------
    ValueError
        If the smaller side is not a power of two >= 32, or the other side is
        not divisible by it.
    """
    side = min(height, width)
    depth = int(round(math.log2(side))) if side > 0 else 0
    if side < 2**MIN_DEPTH or 2**depth != side or max(height, width) % side:
        raise ValueError(
            f"Expected an image size whose smaller side is a power of two >= {2**MIN_DEPTH} "
            f"dividing the larger one (e.g. 64, 128, 256), got {height}x{width}; pass --size."
        )
    return depth


class UNet(nn.Module):
    """U-Net generator (or encoder-decoder when ``skips=False``).

    Parameters
    ----------
    config : GeneratorConfig
    in_channels, out_channels : int
    """

    def __init__(self, config: GeneratorConfig, in_channels: int = 3, out_channels: int = 3) -> None:
        super().__init__()
        self.skips = config.arch == "unet"
        norm = norm_layer(config.norm)
        bias = config.norm == "instance"  # batch norm makes conv biases redundant
        depth = config.depth
        widths = [config.ngf * min(2**i, 8) for i in range(depth)]
        self.down = nn.ModuleList()
        for i in range(depth):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(in_channels if i == 0 else widths[i - 1], widths[i], 4, 2, 1, bias=bias))
            if 0 < i < depth - 1:
                layers.append(norm(widths[i]))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()  # innermost first
        for j, i in enumerate(reversed(range(depth))):
            width_in = widths[i] * (2 if self.skips and i < depth - 1 else 1)
            layers = [nn.ReLU()]
            if i > 0:
                layers += [nn.ConvTranspose2d(width_in, widths[i - 1], 4, 2, 1, bias=bias), norm(widths[i - 1])]
                if config.dropout and j < DROPOUT_LAYERS:
                    layers.append(nn.Dropout(0.5))
            else:
                layers += [nn.ConvTranspose2d(width_in, out_channels, 4, 2, 1), nn.Tanh()]
            self.up.append(nn.Sequential(*layers))
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate a batch.

        Parameters
        ----------
        x : (N, C_in, H, W) float tensor in [-1, 1]
            H and W divisible by ``2 ** depth``.

        Returns
        -------
        y : (N, C_out, H, W) float tensor in [-1, 1]
        """
        features = []
        for layer in self.down:
            x = layer(x)
            features.append(x)
        x = self.up[0](features.pop())
        for layer in self.up[1:]:
            # ReLU(LeakyReLU(a)) == ReLU(a): the pre-activation skip equals PyTorch pix2pix's.
            x = layer(torch.cat([features.pop(), x], 1) if self.skips else x)
        return x


GENERATORS = {"unet": UNet, "encdec": UNet}
"""Generator name -> constructor ``(config, in_channels, out_channels)``."""


def build_generator(config: GeneratorConfig, in_channels: int = 3, out_channels: int = 3) -> nn.Module:
    """The generator `config` describes, initialised N(0, 0.02)."""
    if config.arch not in GENERATORS:
        raise ValueError(f"Expected a generator in {tuple(GENERATORS)}, got {config.arch!r}.")
    return GENERATORS[config.arch](config, in_channels, out_channels)
