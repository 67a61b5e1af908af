"""Local weights files for the feature networks: find, hash, check, load.

Nothing here downloads. The networks of the field (the FID Inception, the
LPIPS backbones) are read from files the user names, by argument or by an
environment variable; a file of another architecture is refused with a
message that says what the file looks like and what was expected.
"""

import hashlib
import logging
import os
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
import torchvision
from torch import nn

from p2p_eval.data.torch_files import describe_file
from p2p_eval.errors import InputError

logger = logging.getLogger(__name__)

INCEPTION_ENV = "P2P_EVAL_INCEPTION"
LPIPS_BACKBONE_ENV = "P2P_EVAL_LPIPS_BACKBONE"


def _fid_inception() -> nn.Module:
    # pytorch-fid's `fid_inception_v3` is torchvision's Inception3 with these
    # arguments and FID-patched blocks of identical parameter shapes;
    # torch-fidelity's FeatureExtractorInceptionV3 uses the same names.
    return torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008, init_weights=False)


def _imagenet_inception() -> nn.Module:
    return torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)


# Architectures a weights file is checked against; the extra entries only help
# to say what a refused file is. Name -> constructor of the torchvision module.
ARCHITECTURES: dict[str, Callable[[], nn.Module]] = {
    "fid-inception": _fid_inception,
    "alex": torchvision.models.alexnet,
    "vgg": torchvision.models.vgg16,
    "squeeze": torchvision.models.squeezenet1_1,
    "imagenet-inception": _imagenet_inception,
}

DESCRIPTIONS = {
    "fid-inception": "the FID Inception v3 (pt_inception-2015-12-05-6726825d.pth)",
    "alex": "torchvision AlexNet weights (alexnet-owt-7be5be79.pth)",
    "vgg": "torchvision VGG-16 weights (vgg16-397923af.pth)",
    "squeeze": "torchvision SqueezeNet 1.1 weights (squeezenet1_1-b8a52dc0.pth)",
    "imagenet-inception": "torchvision's ImageNet Inception v3 (inception_v3_google-*.pth), not the FID Inception",
}

# BatchNorm's step counter: absent from files converted from TensorFlow, and
# never used in eval mode, so a file may have it or not.
_OPTIONAL_SUFFIX = ".num_batches_tracked"


def expected_shapes(architecture: str) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of an architecture, built without allocating weights.

    Examples
    --------
    >>> expected_shapes("alex")["features.0.weight"]
    (64, 3, 11, 11)
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"Expected `architecture` in {tuple(ARCHITECTURES)}, got {architecture!r}.")
    with torch.device("meta"):
        module = ARCHITECTURES[architecture]()
    return {name: tuple(t.shape) for name, t in module.state_dict().items()}


def locate_weights(path: str | os.PathLike | None, env_var: str, *, what: str, how_to_get: str) -> Path:
    """The weights file to use: `path` if given, else the environment variable.

    Parameters
    ----------
    path : path-like or None
        The file named on the command line or by the caller.
    env_var : str
        Environment variable consulted when `path` is None.
    what : str
        What the file is, for messages.
    how_to_get : str
        How to obtain the file, appended to messages.

    Raises
    ------
    InputError
        If neither names a file, or the named file does not exist.
    """
    if path is None:
        path = os.environ.get(env_var) or None
        if path is None:
            raise InputError(f"No {what} given: pass its path or set {env_var}. {how_to_get}")
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file (the {what}). {how_to_get}")
    return path


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes (what published digests and torch.hub's file-name prefixes hash)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/constants.pkl") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def identify(shapes: Mapping[str, tuple[int, ...]]) -> str | None:
    """The name in `ARCHITECTURES` whose parameters these are, if any."""
    for name in ARCHITECTURES:
        if _mismatches(shapes, expected_shapes(name)) == []:
            return name
    return None


def _mismatches(found: Mapping[str, tuple[int, ...]], expected: Mapping[str, tuple[int, ...]]) -> list[str]:
    """Human-readable differences between two name -> shape tables (empty if they agree)."""
    missing = [k for k in expected if k not in found and not k.endswith(_OPTIONAL_SUFFIX)]
    unexpected = [k for k in found if k not in expected]
    wrong = [f"{k} {found[k]} (expected {expected[k]})" for k in expected if k in found and found[k] != expected[k]]
    problems = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
        if items:
            more = f" and {len(items) - 3} more" if len(items) > 3 else ""
            problems.append(f"{len(items)} {label}: {', '.join(items[:3])}{more}")
    return problems


def load_state_dict(path: Path, architecture: str, *, fix: str) -> dict[str, torch.Tensor]:
    """Read a weights file (plain tensors only) and check it against an architecture.

    Parameters
    ----------
    path : Path
        A ``torch.save`` of a flat ``{name: tensor}`` mapping.
    architecture : str
        Key of `ARCHITECTURES` the file must match, name for name and shape for shape
        (BatchNorm's ``num_batches_tracked`` may be absent).
    fix : str
        What to do instead, appended to messages.

    Returns
    -------
    state_dict : dict of str to float tensor, on the CPU

    Raises
    ------
    InputError
        If the file cannot be read as plain tensors (corrupt, a TorchScript
        archive, a pickle of code), is not a flat mapping of tensors, or does
        not match `architecture` (the message lists the differences and, when
        the file is another known network, says which).
    """
    wanted = DESCRIPTIONS[architecture]
    if _is_torchscript(path):
        raise InputError(
            f"{path}: a TorchScript archive (like clean-fid/StyleGAN's inception-2015-12-05.pt), "
            f"not a state dict of {wanted}. {fix}"
        )
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for corrupt or code-carrying files
        raise InputError(f"{path}: cannot read it as plain tensors: this is {describe_file(path, err)}. Expected {wanted}. "
                         f"{fix}") from None  # never torch's advice to load with weights_only=False
    if not isinstance(blob, Mapping) or not all(isinstance(v, torch.Tensor) for v in blob.values()):
        kind = f"a p2p-eval {blob['format']!r} file" if isinstance(blob, Mapping) and "format" in blob else (
            f"a {type(blob).__name__} that is not a flat mapping of tensors"
        )
        raise InputError(f"{path}: {kind}, not a state dict of {wanted}. {fix}")
    found = {name: tuple(t.shape) for name, t in blob.items()}
    problems = _mismatches(found, expected_shapes(architecture))
    if problems:
        other = identify(found)
        looks = f"it holds {DESCRIPTIONS[other]}" if other else "it matches no known network"
        raise InputError(
            f"{path}: not {wanted}; {looks} ({'; '.join(problems)}). {fix}"
        )
    return dict(blob)
