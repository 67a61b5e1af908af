"""Trial images as the browser gets them: re-encoded the same way, behind opaque tokens.

Real and fake images are decoded, converted to RGB, resized to the study's
square size and written as PNG from bare pixels, so format, size, colour mode
and metadata (EXIF, text chunks, ICC profiles) cannot tell them apart. The URL
is a random token per trial and side: it names no file, run or frame.
"""

import io
import secrets
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from p2p_eval.data.files import read_rgb

TOKEN_BYTES = 16


def new_token() -> str:
    """A fresh image token (22 URL-safe characters, 128 random bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def _pixels(path: Path, size: int, blur: bool) -> np.ndarray:
    image = Image.fromarray(read_rgb(path))
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    if blur:
        # Vigilance "fake": so blurred that any attentive rater spots it.
        image = image.filter(ImageFilter.GaussianBlur(radius=size / 24))
    return np.asarray(image)


@lru_cache(maxsize=512)
def _encoded(path: str, mtime_ns: int, size: int, blur: bool) -> bytes:
    buffer = io.BytesIO()
    # fromarray(bare pixels): no info, EXIF or ICC profile survives from the file.
    Image.fromarray(_pixels(Path(path), size, blur)).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def encoded_png(path: Path, size: int, *, blur: bool = False) -> bytes:
    """The PNG bytes served for one image (cached; the cache follows file changes).

    Parameters
    ----------
    path : Path
        Source image (any format Pillow reads).
    size : int
        Output width and height in pixels.
    blur : bool, optional
        Heavy Gaussian blur, for vigilance trials.

    Returns
    -------
    png : bytes
        A ``size`` x ``size`` 8-bit RGB PNG without metadata chunks.
    """
    return _encoded(str(path), path.stat().st_mtime_ns, size, blur)
