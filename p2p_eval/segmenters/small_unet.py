"""A small U-Net that trains in minutes on a CPU: the default segmenter for the synthetic city.

Four resolutions with ``width``, 2x, 4x and 8x channels (two 3x3 conv + BN +
ReLU blocks each), max-pool down, bilinear up, skip concatenation. At
``width=16`` it has ~0.5 M parameters, about a thirtieth of a ResNet-18 U-Net,
which is plenty for the synthetic city's flat-coloured street scenes.
"""

import torch
import torch.nn.functional as F
from torch import nn


def _block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SmallUNet(nn.Module):
    """(N, 3, H, W) float32 -> (N, num_outputs, H, W) float32 logits, any H and W.

    Parameters
    ----------
    num_outputs : int
        Score channels.
    width : int, optional
        Channels at full resolution (default 16); doubled at each of the 3 downsamplings.
    """

    def __init__(self, num_outputs: int, width: int = 16):
        super().__init__()
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"Expected `width` to be a positive int, got {width!r}.")
        channels = [width * 2**i for i in range(4)]
        self.down = nn.ModuleList([_block(3, channels[0])] + [_block(a, b) for a, b in zip(channels, channels[1:])])
        self.up = nn.ModuleList([_block(b + a, a) for a, b in zip(channels, channels[1:])])
        self.head = nn.Conv2d(channels[0], num_outputs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2, ceil_mode=True))
            skips.append(x)
        for block, skip in zip(reversed(self.up), reversed(skips[:-1])):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([skip, x], dim=1))
        return self.head(x)
