"""LPIPS (Zhang et al., CVPR 2018) per image pair, from the `lpips` package and local files.

The linear calibration layers (v0.1) ship inside the ``lpips`` package; the
backbone is read from a local torchvision weights file (AlexNet by default,
the variant the LPIPS authors recommend as a forward metric and the one
image-translation papers report). ``lpips.LPIPS`` is built with
``pretrained=False, pnet_rand=True``, so it never asks torchvision to download;
both weight sets are then loaded strictly here.
"""

import logging
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import lpips
import numpy as np
import torch

from p2p_eval.features.names import BACKBONES
from p2p_eval.features.weights import (
    DESCRIPTIONS,
    LPIPS_BACKBONE_ENV,
    file_sha256,
    load_state_dict,
    locate_weights,
)

logger = logging.getLogger(__name__)

LPIPS_VERSION = "0.1"
MIN_SIDE = {"alex": 31, "vgg": 16, "squeeze": 17}
"""The smallest image side each backbone's convolutions and poolings leave a feature map of (below it torch
raises "Output size is too small"). Found by trying sides on random weights of each backbone; the test
checks alex's at and below the bound."""
_TORCHVISION_URLS = {
    "alex": "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    "vgg": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "squeeze": "https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth",
}


def published_file(backbone: str) -> str:
    """torchvision's published weights file of a backbone (``alexnet-owt-7be5be79.pth``)."""
    return _TORCHVISION_URLS[backbone].rsplit("/", 1)[1]


def _how_to_get(backbone: str) -> str:
    return (
        f"LPIPS-{backbone} needs {DESCRIPTIONS[backbone]}; on a machine with internet: "
        f"curl -L -O {_TORCHVISION_URLS[backbone]}, then pass the file or set {LPIPS_BACKBONE_ENV}."
    )


@dataclass
class Lpips:
    """LPIPS, loaded: call it on image pairs to get one distance per pair.

    Attributes
    ----------
    network : lpips.LPIPS
        In eval mode, fp32, on `device`.
    backbone : {"alex", "vgg", "squeeze"}
    backbone_sha256 : str
        Hex sha256 of the backbone weights file.
    linear_sha256 : str
        Hex sha256 of the package's linear-layer file (``lpips/weights/v0.1/<backbone>.pth``).
    device : torch.device
    path : Path or None
        The backbone weights file.
    """

    network: lpips.LPIPS
    backbone: str
    backbone_sha256: str
    linear_sha256: str
    device: torch.device
    path: Path | None = None

    @property
    def is_published(self) -> bool:
        """Whether the backbone file's sha256 starts like torchvision's published file's (the hex
        digits its name ends with, torch.hub's convention: ``7be5be79`` for AlexNet)."""
        return self.backbone_sha256.startswith(published_file(self.backbone).rsplit("-", 1)[1].split(".")[0])

    @torch.no_grad()
    def _distances(self, first: list[np.ndarray], second: list[np.ndarray]) -> np.ndarray:
        def as_input(images):
            x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).to(self.device)
            # lpips.im2tensor: image / (255 / 2) - 1, computed in float64 then stored as float32
            return (x.double() / 127.5 - 1).float().contiguous()

        return self.network(as_input(first), as_input(second)).reshape(-1).double().cpu().numpy()

    def __call__(
        self, pairs: Iterable[tuple[np.ndarray, np.ndarray]], *, batch_size: int = 16
    ) -> np.ndarray:
        """LPIPS distance of each pair, in order.

        Parameters
        ----------
        pairs : iterable of ((H, W, 3) uint8 ndarray, (H, W, 3) uint8 ndarray)
            (generated, real) RGB images; the two of a pair must have the same
            shape, different pairs may differ.
        batch_size : int, optional
            Pairs per network call.

        Returns
        -------
        distances : (N,) float64 ndarray
            Spatially averaged LPIPS v0.1 (lower is more similar), computed in
            fp32 without autocast.

        Raises
        ------
        ValueError
            If an image is not (H, W, 3) uint8 or the two of a pair differ in shape.
        """
        if batch_size < 1:
            raise ValueError(f"Expected `batch_size` >= 1, got {batch_size}.")
        out, first, second = [], [], []
        with torch.autocast(self.device.type, enabled=False):
            for index, (a, b) in enumerate(pairs):
                _check_pair(index, a, b)
                if first and (len(first) == batch_size or first[0].shape != a.shape):
                    out.append(self._distances(first, second))
                    first, second = [], []
                first.append(a)
                second.append(b)
            if first:
                out.append(self._distances(first, second))
        return np.concatenate(out) if out else np.zeros(0, np.float64)


def _check_pair(index: int, a: np.ndarray, b: np.ndarray) -> None:
    for image in (a, b):
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
            raise ValueError(f"Expected pair {index} to hold (H, W, 3) uint8 RGB images, got {got}.")
    if a.shape != b.shape:
        raise ValueError(f"Expected the images of pair {index} to have one shape, got {a.shape} and {b.shape}.")


def load_lpips(
    backbone_path: str | os.PathLike | None = None,
    *,
    backbone: str = "alex",
    device: torch.device | str = "cpu",
) -> Lpips:
    """Build LPIPS v0.1 from the package's linear layers and a local backbone file (never downloads).

    Parameters
    ----------
    backbone_path : path-like or None
        torchvision weights of `backbone` (for "alex": ``alexnet-owt-7be5be79.pth``);
        None reads the path from ``P2P_EVAL_LPIPS_BACKBONE``.
    backbone : {"alex", "vgg", "squeeze"}, optional
    device : torch.device or str, optional

    Returns
    -------
    Lpips

    Raises
    ------
    ValueError
        If `backbone` is unknown.
    InputError
        If the file is missing, unreadable or of another architecture.
    """
    if backbone not in BACKBONES:
        raise ValueError(f"Expected `backbone` in {BACKBONES}, got {backbone!r}.")
    how_to_get = _how_to_get(backbone)
    path = locate_weights(backbone_path, LPIPS_BACKBONE_ENV, what=f"LPIPS {backbone} backbone", how_to_get=how_to_get)
    trunk = load_state_dict(path, backbone, fix=how_to_get)
    with warnings.catch_warnings():  # lpips passes torchvision's deprecated `pretrained=False`
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torchvision\.")
        network = lpips.LPIPS(pretrained=False, net=backbone, version=LPIPS_VERSION, pnet_rand=True, verbose=False)
    # lpips slices torchvision's `features` keeping its indices: net.slice2.3.weight is features.3.weight.
    network.net.load_state_dict({k: trunk["features." + k.split(".", 1)[1]] for k in network.net.state_dict()})
    linear_path = Path(lpips.__file__).parent / "weights" / f"v{LPIPS_VERSION}" / f"{backbone}.pth"
    linear = torch.load(linear_path, map_location="cpu", weights_only=True)
    # `lins` is a ModuleList aliasing lin0..lin4; the file names the latter.
    expected = {k for k in network.state_dict() if k.startswith("lin") and not k.startswith("lins.")}
    if set(linear) != expected:  # lpips itself loads with strict=False; a short file would go unnoticed
        raise RuntimeError(f"{linear_path}: expected keys {sorted(expected)}, got {sorted(linear)}.")
    network.load_state_dict(linear, strict=False)
    device = torch.device(device)
    network = network.eval().requires_grad_(False).to(device)
    model = Lpips(network, backbone, file_sha256(path), file_sha256(linear_path), device, path)
    if not model.is_published:
        logger.warning("%s: sha256 %s... is not torchvision's %s; its LPIPS are not comparable with published "
                       "numbers.", path, model.backbone_sha256[:12], published_file(backbone))
    return model
