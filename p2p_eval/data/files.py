"""Reading and writing image and JSON files, with errors that name the file.

Every write is atomic (`p2p_eval.data.outputs.atomic_output`): an
interrupted program never leaves a half-written file behind.
"""

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from p2p_eval.data.modes import UnsupportedMode, conversion_summary, to_rgb
from p2p_eval.data.outputs import atomic_output
from p2p_eval.errors import InputError

log = logging.getLogger(__name__)


MAX_PIXELS_VARIABLE = "P2P_EVAL_MAX_IMAGE_PIXELS"
"""Environment variable: the largest image, in pixels, that p2p-eval decodes (`set_pixel_limit`)."""


def set_pixel_limit(pixels: int | None = None) -> None:
    """Set the largest image Pillow decodes: `pixels`, else `MAX_PIXELS_VARIABLE`, else Pillow's default.

    Pillow refuses images over twice ``Image.MAX_IMAGE_PIXELS`` (by default
    178,956,970 pixels) as possible decompression bombs; this sets that
    threshold to about `pixels`. Called once when this module is imported.

    Raises
    ------
    InputError
        If `MAX_PIXELS_VARIABLE` is not a whole number >= 2.
    """
    if pixels is None:
        given = os.environ.get(MAX_PIXELS_VARIABLE)
        if given is None:
            return
        pixels = int(given) if given.strip().isdigit() else 0
        if pixels < 2:
            raise InputError(f"Expected {MAX_PIXELS_VARIABLE} to be a whole number of pixels >= 2, got {given!r}.")
    Image.MAX_IMAGE_PIXELS = -(-pixels // 2)  # Pillow refuses above twice this, and warns above it:
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the user has chosen the limit


def open_image(path: str | os.PathLike, *, decode: bool = True) -> Image.Image:
    """Open an image file (and decode it, with `decode`), with errors that name it and say what to do.

    Raises
    ------
    InputError
        If the file is missing, not an image, corrupt or truncated, or larger
        than the decompression-bomb limit (`set_pixel_limit`): the message
        gives the limit and the two fixes, resize it or raise the limit.
    """
    path = Path(path)
    try:
        image = Image.open(path)
        if decode:
            image.load()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found.") from None
    except Image.DecompressionBombError as err:
        raise InputError(
            f"{path}: too many pixels to decode safely ({err}). Resize the image; or, if you trust the file, "
            f"raise the limit: {MAX_PIXELS_VARIABLE}=<pixels> p2p-eval ...") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise InputError(
            f"{path}: cannot decode the image ({err}); the file is corrupt or truncated, "
            "re-export it as PNG."
        ) from None
    return image


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(H, W) of an image from its header, without decoding it (errors as `open_image`)."""
    with open_image(path, decode=False) as image:
        return image.height, image.width


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
            log.warning("%s: converted to RGB: %s.", path, conversion_summary([mode]))
    return rgb


def decode_rgb(path: str | os.PathLike) -> tuple[np.ndarray, str]:
    """Read any image as 8-bit RGB and say what it was, without logging.

    For callers that decode many files (in threads) and report conversions
    once, counted (`p2p_eval.data.modes.conversion_summary`), instead of once
    per file. Each mode is converted as `p2p_eval.data.modes.CONVERSIONS`
    says: 16-bit greyscale is scaled by its bit depth, never clipped.

    Returns
    -------
    rgb : (H, W, 3) uint8 ndarray
    mode : str
        The file's Pillow mode before conversion ("RGB", "RGBA", "L", "I;16", "P", ...).

    Raises
    ------
    InputError
        If the file is missing, corrupt or truncated, or of a mode with no
        known bit depth (32-bit integer, float).
    """
    image = open_image(path)
    try:
        return to_rgb(image), image.mode
    except UnsupportedMode as err:
        raise InputError(f"{path}: {err}") from None


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
    image = open_image(path)
    if image.mode != "L":
        raise InputError(
            f"{path}: expected a single-channel 8-bit label PNG (mode L), got mode {image.mode}. "
            "Use the *_labelIds.png files, not *_color.png, or decode colours with "
            "`p2p-eval prepare pix2pix-ab`."
        )
    return np.asarray(image)


def write_png(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write a (H, W) or (H, W, 3) uint8 array as PNG, atomically."""
    _write_image(path, array, format="PNG", compress_level=1)


def write_jpeg(path: str | os.PathLike, array: np.ndarray, *, quality: int = 100, subsampling: int = 0) -> None:
    """Write a (H, W, 3) uint8 array as JPEG, atomically.

    The defaults are the PyTorch pix2pix Cityscapes preparation's
    (``save(savepath, format='JPEG', subsampling=0, quality=100)``).
    """
    _write_image(path, array, format="JPEG", quality=quality, subsampling=subsampling)


def _write_image(path: str | os.PathLike, array: np.ndarray, **save_options: Any) -> None:
    path = Path(path)
    array = np.asarray(array)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ValueError(
            f"Expected a (H, W) or (H, W, 3) uint8 array, got {array.dtype} {array.shape}."
        )
    with atomic_output(path, "wb") as f:
        Image.fromarray(array).save(f, **save_options)


def printable(text: str) -> str:
    """`text` as valid Unicode: bytes that are not UTF-8 (a folder named in Latin-1, say) as ``\\xNN``.

    Python reads such file names with lone surrogates (``os.fsdecode``'s
    "surrogateescape"), which no UTF-8 file can hold: writing them fails
    (``UnicodeEncodeError``), or JSON escapes them into text other programs
    refuse. Names and paths that go into results, tables and reports pass
    through here, so every output holds the same readable name.

    Examples
    --------
    >>> printable(os.fsdecode(b"run-\\xe9t\\xe9"))
    'run-\\\\xe9t\\\\xe9'
    >>> printable("été")
    'été'
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape") if _only_escapes(text) else text.encode("utf-8", "backslashreplace")
        return raw.decode("utf-8", "backslashreplace")


def _only_escapes(text: str) -> bool:
    """Whether every surrogate in `text` is one "surrogateescape" made (U+DC80..U+DCFF)."""
    return all("\udc80" <= c <= "\udcff" for c in text if "\ud800" <= c <= "\udfff")


def write_json(path: str | os.PathLike, document: Any) -> None:
    """Write a JSON document atomically (indented, NaN written as null, text made `printable`)."""
    write_text(path, json_text(document))


def json_text(document: Any) -> str:
    """The text `write_json` writes: indented, NaN as null, every string `printable`."""
    return json.dumps(_nan_to_none(document), indent=2, allow_nan=False) + "\n"


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a UTF-8 text file (LaTeX, HTML, Markdown, CSV) atomically; undecodable names as ``\\xNN``."""
    with atomic_output(path, "w", encoding="utf-8") as f:
        f.write(printable(text))


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
    """JSON has no NaN: write it as null (a score that does not exist). Strings are made `printable`."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, float):
        return None if value != value or value in (float("inf"), float("-inf")) else value
    if isinstance(value, dict):
        return {_nan_to_none(k): _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_to_none(v) for v in value]
    if isinstance(value, np.ndarray):
        return _nan_to_none(value.tolist())
    if isinstance(value, np.generic):
        return _nan_to_none(value.item())
    return value
