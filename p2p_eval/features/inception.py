"""The FID Inception v3 from a local weights file: per-image 2048-d features.

The network is torch-fidelity's ``FeatureExtractorInceptionV3`` (the
TensorFlow-ported Inception of pytorch-fid and torch-fidelity, loaded with
``feature_extractor_weights_path``), so no download is ever attempted. Its own
forward resizes with TensorFlow 1.x bilinear inside the network; p2p-eval
resizes first by the chosen protocol (`p2p_eval.features.resize`) and runs the
same layers, in torch-fidelity's order, from the first convolution to the
2048-d average pool. At 299x299 input torch-fidelity's resize is the identity,
so both give the same features (tested).
"""

import itertools
import logging
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

from p2p_eval.features.resize import DEFAULT_PROTOCOL, check_protocol, inception_batch
from p2p_eval.features.weights import INCEPTION_ENV, file_sha256, load_state_dict, locate_weights

logger = logging.getLogger(__name__)

FEATURE_DIM = 2048
PUBLISHED_FILE = "pt_inception-2015-12-05-6726825d.pth"
PUBLISHED_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + PUBLISHED_FILE
# torch.hub names a weights file `<name>-<first 8+ hex digits of its sha256>.<ext>`;
# both pytorch-fid and torch-fidelity publish the FID Inception as "...-6726825d.pth".
PUBLISHED_SHA256_PREFIX = "6726825d"
HOW_TO_GET = (
    f"On a machine with internet: curl -L -o {PUBLISHED_FILE} {PUBLISHED_URL} "
    "(pytorch-fid's release; torch-fidelity's weights-inception-2015-12-05-6726825d.pth is the same network), "
    f"then pass the file or set {INCEPTION_ENV}."
)

# torch-fidelity's forward, from after its resize and normalisation to the
# 2048-d pool (feature_extractor_inceptionv3.py, FeatureExtractorInceptionV3.forward).
_LAYERS = (
    "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_1",
    "Conv2d_3b_1x1", "Conv2d_4a_3x3", "MaxPool_2",
    "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
    "Mixed_7a", "Mixed_7b", "Mixed_7c", "AvgPool",
)  # fmt: skip


@dataclass
class InceptionFeatures:
    """The FID Inception, loaded: call it on images to get their features.

    Attributes
    ----------
    network : FeatureExtractorInceptionV3
        torch-fidelity's module, in eval mode, fp32, on `device`.
    path : Path
        The weights file.
    sha256 : str
        Hex sha256 of the file's bytes; record it beside every FID.
    device : torch.device
    """

    network: FeatureExtractorInceptionV3
    path: Path
    sha256: str
    device: torch.device

    @property
    def is_published(self) -> bool:
        """Whether the file's sha256 starts like the published FID weights' (6726825d)."""
        return self.sha256.startswith(PUBLISHED_SHA256_PREFIX)

    @torch.no_grad()
    def forward_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """Features of a batch already resized (`p2p_eval.features.resize.inception_batch`).

        Parameters
        ----------
        batch : (B, 3, 299, 299) float32 tensor on `device`

        Returns
        -------
        features : (B, 2048) float32 tensor on `device`
            Computed in fp32: autocast is forced off here, since FID is
            sensitive to feature precision and a caller's ``torch.autocast``
            would run these convolutions in half precision.
        """
        x = batch
        with torch.autocast(self.device.type, enabled=False):
            for name in _LAYERS:
                x = getattr(self.network, name)(x)
        return torch.flatten(x, 1)

    def __call__(
        self,
        images: Iterable[np.ndarray],
        *,
        protocol: str = DEFAULT_PROTOCOL,
        batch_size: int = 32,
    ) -> np.ndarray:
        """Features of each image, in order.

        Parameters
        ----------
        images : iterable of (H, W, 3) uint8 ndarray
            RGB images; sizes may differ (each is resized on its own).
        protocol : {"clean", "legacy-tf1", "legacy-pytorch-fid"}, optional
            Resize protocol (see `p2p_eval.features.resize`).
        batch_size : int, optional
            Images per network call.

        Returns
        -------
        features : (N, 2048) float32 ndarray
            The 2048-d pool features, computed in fp32 without autocast (the
            network's own precision); N may be 0.

        Raises
        ------
        ValueError
            If an image is not (H, W, 3) uint8, or `protocol` or `batch_size` is invalid.
        """
        check_protocol(protocol)
        if batch_size < 1:
            raise ValueError(f"Expected `batch_size` >= 1, got {batch_size}.")
        source = iter(images)

        def next_batch() -> torch.Tensor | None:
            chunk = list(itertools.islice(source, batch_size))
            return inception_batch(chunk, protocol, self.device) if chunk else None

        chunks = []
        # One thread takes and resizes the next batch (decoding too, if `images`
        # is lazy) while the network runs on this one; it alone reads `source`.
        with ThreadPoolExecutor(max_workers=1) as prefetch:
            upcoming = prefetch.submit(next_batch)
            while (batch := upcoming.result()) is not None:
                upcoming = prefetch.submit(next_batch)
                chunks.append(self.forward_batch(batch).cpu().numpy())
        if not chunks:
            return np.zeros((0, FEATURE_DIM), np.float32)
        return np.concatenate(chunks).astype(np.float32, copy=False)


def load_inception(path: str | os.PathLike | None = None, *, device: torch.device | str = "cpu") -> InceptionFeatures:
    """Load the FID Inception from a local file (never downloads).

    Parameters
    ----------
    path : path-like or None
        A state dict of the FID Inception v3 (`PUBLISHED_FILE`); None reads
        the path from the environment variable ``P2P_EVAL_INCEPTION``.
    device : torch.device or str, optional

    Returns
    -------
    InceptionFeatures

    Raises
    ------
    InputError
        If no file is given, it is missing or unreadable, or it is not the
        FID Inception's architecture (the message says what it is instead).

    Notes
    -----
    A file whose sha256 does not start with ``6726825d`` loads (tests use
    random weights of the right shapes) but is logged as a warning: its FIDs
    are not comparable with published ones.
    """
    path = locate_weights(path, INCEPTION_ENV, what="FID Inception weights file", how_to_get=HOW_TO_GET)
    load_state_dict(path, "fid-inception", fix=HOW_TO_GET)  # refuses foreign files before torch-fidelity reads it
    sha256 = file_sha256(path)
    if not sha256.startswith(PUBLISHED_SHA256_PREFIX):
        logger.warning(
            "%s: sha256 %s... is not the published FID Inception (%s...); its FIDs are not comparable "
            "with published numbers.", path, sha256[:12], PUBLISHED_SHA256_PREFIX,
        )  # fmt: skip
    network = FeatureExtractorInceptionV3(
        "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path),
        feature_extractor_internal_dtype="float32",
    )  # fmt: skip
    device = torch.device(device)
    return InceptionFeatures(network.to(device), path, sha256, device)

