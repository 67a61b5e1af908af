"""Reading and writing image and JSON files, with errors that name the file.

Every write goes to a temporary name in the same folder and is renamed into
place, so an interrupted program never leaves a half-written file behind.
"""

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from p2p_eval.errors import InputError

log = logging.getLogger(__name__)


def _open_image(path: Path) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise InputError(
            f"{path}: cannot decode the image ({err}); the file is corrupt or truncated, "
            "re-export it as PNG."
        ) from None
    return image


def read_rgb(path: str | os.PathLike, *, convert: bool = True) -> np.ndarray:
    """Read a colour image as RGB.

    Parameters
    ----------
    path : path-like
        Any image Pillow decodes (PNG expected).
    convert : bool, optional
        Convert greyscale, palette and RGBA images to RGB with a warning
        (default). When False such images raise `InputError`.

    Returns
    -------
    rgb : (H, W, 3) uint8 ndarray

    Raises
    ------
    InputError
        If the file is missing, corrupt, or not RGB and `convert` is False.
    """
    rgb, mode = decode_rgb(path)
    if mode != "RGB":
        if not convert:
            raise InputError(f"{path}: expected an RGB image, got mode {mode}.")
        if mode not in ("P", "PA"):  # palette PNGs are RGB in disguise
            log.warning("%s: %s image converted to RGB.", path, mode)
    return rgb


def decode_rgb(path: str | os.PathLike) -> tuple[np.ndarray, str]:
    """Read any image as RGB and say what it was, without logging.

    For callers that decode many files (in worker processes) and report
    conversions once, with a count, instead of once per file.

    Returns
    -------
    rgb : (H, W, 3) uint8 ndarray
    mode : str
        The file's Pillow mode before conversion ("RGB", "RGBA", "L", "P", ...).

    Raises
    ------
    InputError
        If the file is missing, corrupt or truncated.
    """
    image = _open_image(Path(path))
    mode = image.mode
    if mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image), mode


def read_label_png(path: str | os.PathLike) -> np.ndarray:
    """Read a single-channel 8-bit label image (labelIds or trainIds).

    Returns
    -------
    labels : (H, W) uint8 ndarray

    Raises
    ------
    InputError
        If the file is missing, corrupt, or not single-channel 8-bit (a colour
        label map given where ids are expected, for example).
    """
    path = Path(path)
    image = _open_image(path)
    if image.mode != "L":
        raise InputError(
            f"{path}: expected a single-channel 8-bit label PNG (mode L), got mode {image.mode}. "
            "Use the *_labelIds.png files, not *_color.png, or decode colours with "
            "`p2p-eval prepare pix2pix-ab`."
        )
    return np.asarray(image)


def _atomic_target(path: Path) -> tuple[int, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")


def write_png(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write a (H, W) or (H, W, 3) uint8 array as PNG, atomically."""
    path = Path(path)
    array = np.asarray(array)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ValueError(
            f"Expected a (H, W) or (H, W, 3) uint8 array, got {array.dtype} {array.shape}."
        )
    fd, tmp = _atomic_target(path)
    try:
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(array).save(f, format="PNG", compress_level=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, document: Any) -> None:
    """Write a JSON document atomically (indented, NaN written as null)."""
    write_text(path, json.dumps(_nan_to_none(document), indent=2, allow_nan=False) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a UTF-8 text file (LaTeX, HTML, Markdown) atomically."""
    path = Path(path)
    fd, tmp = _atomic_target(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON document; a missing or malformed file raises `InputError`."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: file not found.") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON ({err}).") from None


def _nan_to_none(value: Any) -> Any:
    """JSON has no NaN: write it as null (a score that does not exist)."""
    if isinstance(value, float):
        return None if value != value or value in (float("inf"), float("-inf")) else value
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_to_none(v) for v in value]
    if isinstance(value, np.ndarray):
        return _nan_to_none(value.tolist())
    if isinstance(value, np.generic):
        return _nan_to_none(value.item())
    return value


def read_torch_file(path: str | os.PathLike, fmt: str, *, what: str, fix: str) -> dict[str, Any]:
    """Load a p2p-eval ``torch.save`` file of plain types onto the CPU.

    Parameters
    ----------
    path : path-like
    fmt : str
        The ``"format"`` the file must declare (e.g. ``"p2p-eval-segmenter"``).
    what : str
        What the file is, for messages ("segmenter checkpoint").
    fix : str
        What to do when the file cannot be used, appended to the messages.

    Raises
    ------
    InputError
        If the file is missing, unreadable (corrupt, truncated) or of another format.
    """
    import torch  # here, so that modules reading only images and JSON need no torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no {what}; {fix}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a corrupt file
        raise InputError(f"{path}: cannot read the {what} ({err}); {fix}") from None
    if not isinstance(blob, dict) or blob.get("format") != fmt:
        raise InputError(f"{path}: not a {what} (format {fmt!r}); {fix}")
    return blob
