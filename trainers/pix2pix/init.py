"""Weight initialisation and normalisation layers shared by generators and discriminators."""

from functools import partial

from torch import nn

NORMS = ("batch", "instance")


def norm_layer(norm: str) -> type[nn.Module] | partial:
    """The normalisation layer class for `norm`.

    Instance norm has no affine parameters (as in the PyTorch pix2pix code), so
    the convolutions before it keep their biases; batch norm makes them redundant.

    Raises
    ------
    ValueError
        If `norm` is not one of `NORMS`.
    """
    if norm == "batch":
        return nn.BatchNorm2d
    if norm == "instance":
        return partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    raise ValueError(f"Expected `norm` to be one of {NORMS}, got {norm!r}.")


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """Initialise as the paper: conv weights ~ N(0, std), biases 0; BN scale ~ N(1, std), shift 0."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, std)
            nn.init.zeros_(layer.bias)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
