"""FCN-8s as the pix2pix Cityscapes evaluator builds it (Caffe ``deploy.prototxt``).

Module names are the Caffe layer names of
``scripts/eval_cityscapes/caffemodel/deploy.prototxt`` (phillipi/pix2pix), so
``<layer>.weight`` / ``<layer>.bias`` are the layer's blobs 0 and 1 and the
Caffe import (`p2p_eval.segmenters.caffe`) is a direct name mapping.

The geometry follows the prototxt exactly: conv1_1 pads by 100, pooling rounds
up (Caffe's ceil mode), fc6 is a 7x7 convolution without padding, and the three
learned deconvolutions (no bias) are aligned to their skip inputs by crops at
offsets 5 (score_pool4), 9 (score_pool3) and 31 (the final score), which makes
the output exactly as large as the input for every input size.
"""

import numpy as np
import torch
from torch import nn

VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
"""Output channels of the 3x3 convolutions of each VGG-16 block, before its 2x2 max pool."""

CROP_POOL4, CROP_POOL3, CROP_SCORE = 5, 9, 31
"""Crop offsets of the prototxt's ``score_pool4c``, ``score_pool3c`` and ``score`` layers."""

CONV_LAYERS = tuple(f"conv{b + 1}_{i + 1}" for b, block in enumerate(VGG16_BLOCKS) for i in range(len(block)))
LAYERS_WITH_BIAS = CONV_LAYERS + ("fc6_cs", "fc7_cs", "score_fr", "score_pool4", "score_pool3")
DECONV_LAYERS = ("upscore2", "upscore_pool4", "upscore8")
"""Every layer with blobs, by kind: convolutions have (weight, bias), deconvolutions weight only."""


class FCN8s(nn.Module):
    """FCN-8s (Long, Shelhamer & Darrell) in the layout of the pix2pix evaluator.

    Parameters
    ----------
    num_outputs : int
        Score channels (20 for the published Cityscapes model).
    dropout : float, optional
        Dropout after fc6 and fc7 while training (the VOC FCN-8s training
        net's 0.5). The Cityscapes deploy net has no dropout layers; in eval
        mode dropout is the identity, so inference is the same either way.
    width_divisor : int, optional
        Divides every trunk and fc channel count (1, the default, is the
        published network; 64 and 4096 must be divisible by it). Larger values
        give the same geometry with far fewer weights, for tests and quick
        experiments.

    Notes
    -----
    Input is (N, 3, H, W) float32, already preprocessed (BGR, mean subtracted
    for the published weights); output is (N, num_outputs, H, W) float32 scores.
    """

    def __init__(self, num_outputs: int, dropout: float = 0.5, width_divisor: int = 1):
        super().__init__()
        if not isinstance(width_divisor, int) or width_divisor < 1 or 64 % width_divisor:
            raise ValueError(f"Expected `width_divisor` to be a power of two in 1..64, got {width_divisor!r}.")
        fc = 4096 // width_divisor
        in_channels = 3
        for b, block in enumerate(VGG16_BLOCKS):
            for i, out_channels in enumerate(c // width_divisor for c in block):
                pad = 100 if (b, i) == (0, 0) else 1  # pad 100: every input size survives 5 pools and fc6
                self.add_module(f"conv{b + 1}_{i + 1}", nn.Conv2d(in_channels, out_channels, 3, padding=pad))
                in_channels = out_channels
        self.pool = nn.MaxPool2d(2, stride=2, ceil_mode=True)  # Caffe pooling rounds output size up
        self.relu = nn.ReLU(inplace=True)
        self.drop = nn.Dropout(dropout)
        self.fc6_cs = nn.Conv2d(in_channels, fc, 7)
        self.fc7_cs = nn.Conv2d(fc, fc, 1)
        self.score_fr = nn.Conv2d(fc, num_outputs, 1)
        self.score_pool4 = nn.Conv2d(VGG16_BLOCKS[3][-1] // width_divisor, num_outputs, 1)
        self.score_pool3 = nn.Conv2d(VGG16_BLOCKS[2][-1] // width_divisor, num_outputs, 1)
        self.upscore2 = nn.ConvTranspose2d(num_outputs, num_outputs, 4, stride=2, bias=False)
        self.upscore_pool4 = nn.ConvTranspose2d(num_outputs, num_outputs, 4, stride=2, bias=False)
        self.upscore8 = nn.ConvTranspose2d(num_outputs, num_outputs, 16, stride=8, bias=False)
        self._init_weights()

    def _init_weights(self) -> None:
        """FCN's training start: bilinear deconvolutions, zero score layers, Gaussian trunk."""
        for name in CONV_LAYERS + ("fc6_cs", "fc7_cs"):
            conv = getattr(self, name)
            nn.init.normal_(conv.weight, std=0.01)  # the prototxt's gaussian filler
            nn.init.zeros_(conv.bias)
        for name in ("score_fr", "score_pool4", "score_pool3"):
            nn.init.zeros_(getattr(self, name).weight)
            nn.init.zeros_(getattr(self, name).bias)
        for name in DECONV_LAYERS:
            deconv = getattr(self, name)
            with torch.no_grad():
                deconv.weight.copy_(bilinear_kernel(deconv.in_channels, deconv.kernel_size[0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        h = x
        skips = {}
        for b, block in enumerate(VGG16_BLOCKS):
            for i in range(len(block)):
                h = self.relu(getattr(self, f"conv{b + 1}_{i + 1}")(h))
            h = self.pool(h)
            skips[b + 1] = h
        h = self.drop(self.relu(self.fc6_cs(h)))
        h = self.drop(self.relu(self.fc7_cs(h)))
        h = self.upscore2(self.score_fr(h))
        h = h + _crop(self.score_pool4(skips[4]), CROP_POOL4, h.shape[-2:])
        h = self.upscore_pool4(h)
        h = h + _crop(self.score_pool3(skips[3]), CROP_POOL3, h.shape[-2:])
        return _crop(self.upscore8(h), CROP_SCORE, (height, width))


def _crop(x: torch.Tensor, offset: int, size: tuple[int, int]) -> torch.Tensor:
    """Caffe ``Crop`` with ``axis: 2``: the (H, W) window of `size` at (offset, offset)."""
    assert x.shape[-2] >= offset + size[0] and x.shape[-1] >= offset + size[1], (x.shape, offset, size)
    return x[..., offset : offset + size[0], offset : offset + size[1]]


def bilinear_kernel(channels: int, size: int) -> torch.Tensor:
    """Per-channel bilinear upsampling weights for a deconvolution (FCN's ``surgery.interp``).

    Returns
    -------
    weight : (channels, channels, size, size) float32 tensor
        Zero except the diagonal channel pairs, which hold the bilinear kernel.
    """
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    grid = np.ogrid[:size, :size]
    kernel = (1 - abs(grid[0] - center) / factor) * (1 - abs(grid[1] - center) / factor)
    weight = torch.zeros(channels, channels, size, size)
    weight[range(channels), range(channels)] = torch.from_numpy(kernel).float()
    return weight

