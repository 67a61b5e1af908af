"""Image modes: how each Pillow mode becomes 8-bit RGB, said out loud.

Every conversion p2p-eval makes is listed in `CONVERSIONS` with what it does
to the pixels, so a reader counts and reports them (`conversion_summary`)
instead of letting ``Image.convert("RGB")`` decide silently. That call
clips 16-bit greyscale (``I;16``: 0..65535) to 0..255, which turns almost
every pixel white; here it is scaled by its bit depth instead. Modes whose
bit depth is unknown (32-bit integer ``I``, float ``F``) are refused with a
fix, never guessed.
"""

from collections import Counter
from collections.abc import Iterable

import numpy as np
from PIL import Image

SIXTEEN_BIT_GREY = ("I;16", "I;16L", "I;16B", "I;16N")
"""Pillow's modes of 16-bit greyscale (16-bit greyscale PNGs open as ``I;16``)."""

CONVERSIONS: dict[str, str] = {
    "RGB": "kept",
    "RGBA": "alpha dropped",
    "RGBX": "padding byte dropped",
    "L": "greyscale copied to R, G and B",
    "LA": "greyscale copied to R, G and B, alpha dropped",
    "1": "bilevel, black 0 and white 255",
    "P": "palette looked up",
    "PA": "palette looked up, alpha dropped",
    "CMYK": "CMYK converted to RGB by Pillow's formula (no colour profile)",
    "YCbCr": "YCbCr converted to RGB (JPEG's matrix)",
    "LAB": "CIE Lab converted to RGB by Pillow",
    "HSV": "HSV converted to RGB",
    **{mode: "16-bit greyscale scaled to 8 bits, round(v * 255 / 65535), copied to R, G and B"
       for mode in SIXTEEN_BIT_GREY},
}
"""Pillow mode -> what making it 8-bit RGB does. 16-bit RGB(A) PNGs open as 8-bit
``RGB``/``RGBA`` already (Pillow keeps each sample's high byte: scaled, not clipped)."""


class UnsupportedMode(ValueError):
    """An image mode p2p-eval does not convert to RGB (the message says why and what to do)."""


def to_rgb(image: Image.Image) -> np.ndarray:
    """An image's pixels as 8-bit RGB, converted as `CONVERSIONS` says.

    Parameters
    ----------
    image : PIL.Image.Image
        Decoded, of any mode in `CONVERSIONS`.

    Returns
    -------
    rgb : (H, W, 3) uint8 ndarray

    Raises
    ------
    UnsupportedMode
        For a mode not in `CONVERSIONS` (``I``, ``F``, ...), naming it and the fix.

    Examples
    --------
    >>> grey16 = Image.fromarray(np.array([[0, 257, 65535]], dtype=np.uint16))
    >>> grey16.mode, to_rgb(grey16)[0, :, 0].tolist()
    ('I;16', [0, 1, 255])
    """
    mode = image.mode
    if mode not in CONVERSIONS:
        raise UnsupportedMode(
            f"pixels of mode {mode} ({_mode_name(mode)}) have no known bit depth or colour meaning, so they "
            "cannot be made 8-bit RGB without guessing; save the image as an 8-bit RGB PNG "
            f"(modes read: {', '.join(CONVERSIONS)}).")
    if mode in SIXTEEN_BIT_GREY:
        values = np.asarray(image).astype(np.uint32)
        grey = ((values * 255 + 32767) // 65535).astype(np.uint8)  # round(v * 255 / 65535)
        return np.repeat(grey[..., None], 3, axis=2)
    return np.asarray(image if mode == "RGB" else image.convert("RGB"))


def _mode_name(mode: str) -> str:
    return {"I": "32-bit signed integer", "F": "32-bit float"}.get(mode, "not an RGB, greyscale or palette mode")


def conversion_summary(modes: Iterable[str]) -> str:
    """One line counting the conversions of a set of images' modes ("" when all were RGB).

    Examples
    --------
    >>> conversion_summary(["RGB", "RGBA", "I;16", "RGBA"])
    '2 RGBA (alpha dropped), 1 I;16 (16-bit greyscale scaled to 8 bits, round(v * 255 / 65535), copied to R, G and B)'
    """
    counts = Counter(m for m in modes if m != "RGB")
    return ", ".join(f"{n} {mode} ({CONVERSIONS.get(mode, 'unknown')})" for mode, n in counts.most_common())
