"""Segmenter architectures by name: name -> constructor(num_outputs, **arch_args)."""

from collections.abc import Callable

from torch import nn


def _smp(kind: str) -> Callable[..., nn.Module]:
    def build(num_outputs: int, encoder: str = "resnet18", encoder_weights_file: str | None = None) -> nn.Module:
        import segmentation_models_pytorch as smp
        import torch

        model = getattr(smp, kind)(encoder_name=encoder, encoder_weights=None, classes=num_outputs)
        if encoder_weights_file:  # a local file only: nothing is downloaded at run time
            state = torch.load(encoder_weights_file, map_location="cpu", weights_only=True)
            model.encoder.load_state_dict(state, strict=False)
        return model

    return build


def _fcn8s(num_outputs: int, dropout: float = 0.5, width_divisor: int = 1) -> nn.Module:
    from p2p_eval.segmenters.fcn8s import FCN8s

    return FCN8s(num_outputs, dropout=dropout, width_divisor=width_divisor)


def _small_unet(num_outputs: int, width: int = 16) -> nn.Module:
    from p2p_eval.segmenters.small_unet import SmallUNet

    return SmallUNet(num_outputs, width=width)


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "unet-small": _small_unet,  # trains in minutes on a CPU: the synthetic city's default
    "smp-unet": _smp("Unet"),
    "smp-deeplabv3plus": _smp("DeepLabV3Plus"),
    "fcn8s": _fcn8s,  # the pix2pix evaluator's FCN-8s; `p2p-eval segmenter import-caffe` fills it
}


def build_model(arch: str, num_outputs: int, **arch_args) -> nn.Module:
    """Build an untrained segmenter network by architecture name."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"Expected `arch` to be one of {sorted(ARCHITECTURES)}, got {arch!r}.")
    return ARCHITECTURES[arch](num_outputs, **arch_args)
