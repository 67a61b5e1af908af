"""Reading and writing image and JSON files, with errors that name the file.

Every write goes to a temporary name in the same folder and is renamed into
place, so an interrupted program never leaves a half-written file behind
(`atomic_output`; a symlink keeps pointing at the replaced file, and a stream
such as ``/dev/stdout`` is written to as it is).
`check_output_path` checks, before any work starts, that a command will be
able to write where it was told to.
"""

import contextlib
import json
import logging
import os
import secrets
import stat
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from p2p_eval.data.modes import UnsupportedMode, conversion_summary, to_rgb
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


def _atomic_target(path: Path) -> tuple[int, str]:
    """Create ``.<name>.<random>.tmp`` beside `path`; return its descriptor and name.

    Opened with mode 0666 so that the umask decides the permissions, as for
    any file a program creates (0644 under umask 022). ``tempfile.mkstemp``
    would make every output 0600, unreadable to other users and web servers.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), str(tmp)
        except FileExistsError:  # another writer drew the same name: draw again
            continue


def _is_stream(path: Path) -> bool:
    """`path` names no regular file to replace but a stream: a device, a pipe (``/dev/stdout``, ``/dev/null``),
    or the file this process's standard output or error is redirected to."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    if stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode):
        return True
    return stat.S_ISREG(info.st_mode) and any(_same_file(info, fd) for fd in (1, 2))


def _same_file(info: os.stat_result, fd: int) -> bool:
    try:
        return os.path.samestat(info, os.fstat(fd))
    except OSError:
        return False


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "wb", **open_options: Any) -> Iterator[IO]:
    """Open `path` for writing so that it appears whole or not at all.

    The file is written under a temporary name beside it and renamed into
    place on success (removed on any error), so an interrupted program never
    leaves a half-written file. Through a symlink, the file it names is
    replaced and the link kept. A stream is written to as it is:
    renaming over ``/dev/stdout`` or ``/dev/null`` would replace the device
    itself (as root) or fail after the work (as anyone else).

    Parameters
    ----------
    path : path-like
    mode : {"wb", "w"}, optional
    **open_options
        For `os.fdopen` / `open` (``encoding``).
    """
    path = Path(path)
    if _is_stream(path):
        with open(path, mode, **open_options) as f:
            yield f
        return
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    fd, tmp = _atomic_target(target)
    try:
        with os.fdopen(fd, mode, **open_options) as f:
            yield f
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def check_output_path(path: str | os.PathLike, *, folder: bool = False, option: str = "--out") -> Path:
    """Check, before any work starts, that `path` can be written; return it.

    Every command that writes calls this for each of its outputs first, so a
    bad output path stops it at once instead of after the work (a trained
    epoch, a scored dataset) that could not be saved.

    Parameters
    ----------
    path : path-like
        A file to write (created or replaced), or with `folder` a folder to
        write into (created when missing).
    folder : bool, optional
        Whether `path` names a folder.
    option : str, optional
        The command-line option that gave `path`, for the message.

    Returns
    -------
    path : Path

    Raises
    ------
    InputError
        If `path` is a folder where a file is expected or the reverse, if a
        parent on the way is a file, or if the folder that would receive the
        file (or the missing folders) is not writable by this user.

    Examples
    --------
    >>> check_output_path("results/fcn.json").name
    'fcn.json'
    """
    path = Path(path)
    if not folder and _is_stream(path):  # /dev/stdout, /dev/null: written as they are (`atomic_output`)
        if not os.access(path, os.W_OK):
            raise InputError(f"{option} {path}: not writable by this user; choose another path.")
        return path
    if folder and path.exists() and not path.is_dir():
        raise InputError(f"{option} {path}: this is a file, but {option} must name a folder; "
                         "pass a folder path (it is created when missing).")
    if not folder and path.is_dir():
        raise InputError(f"{option} {path}: this is a folder, but {option} must name a file to write; "
                         f"pass a file path (one inside {path}, if you like).")
    nearest = Path(os.path.abspath(path if folder else path.parent))
    try:
        while not nearest.exists():
            nearest = nearest.parent
    except PermissionError:
        raise InputError(f"{option} {path}: cannot reach {nearest}: permission denied; choose another path.") from None
    if not nearest.is_dir():
        raise InputError(f"{option} {path}: cannot be created, because {nearest} is a file, not a folder; "
                         "choose another path.")
    effective = {"effective_ids": True} if os.access in os.supports_effective_ids else {}
    if not os.access(nearest, os.W_OK | os.X_OK, **effective):
        raise InputError(f"{option} {path}: cannot write into {nearest}: the folder is read-only for this user; "
                         f"choose another path, or make it writable (chmod u+w {nearest}).")
    try:  # what `access` cannot tell: /proc, /sys, a full or read-only file system seen by root
        fd, probe = _atomic_target(nearest / ".p2p-eval-probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise InputError(f"{option} {path}: cannot write into {nearest} ({err.strerror}); choose another path.") from None
    return path


def check_distinct_outputs(outputs: Sequence[tuple[str | os.PathLike | None, str]],
                           inputs: Sequence[tuple[str | os.PathLike, str]] = ()) -> None:
    """Refuse two options naming one output file, and an output naming one of the command's inputs.

    Each would be lost without a word: ``--json out --csv out`` wrote the CSV over
    the JSON, ``report md fcn.json --out fcn.json`` the report over the results.
    Paths are compared as files (symlinks, ``..`` and hard links seen through);
    streams (``/dev/stdout``, ``/dev/null``) are written to, not replaced, and may repeat.

    Parameters
    ----------
    outputs : sequence of (path or None, option)
        None: the option was not given.
    inputs : sequence of (path, what)
        Files the command reads, ``what`` naming them for the message.

    Raises
    ------
    InputError
        Naming both options (or the option and the input) and the file.
    """
    read = {_file_key(Path(path)): what for path, what in inputs}
    written: dict[Any, str] = {}
    for path, option in outputs:
        if path is None or _is_stream(Path(path)):
            continue
        key = _file_key(Path(path))
        if key in read:
            raise InputError(f"{option} {path}: this file is also an input ({read[key]}); writing it would replace "
                             "what the command reads. Choose another path.")
        if key in written:
            raise InputError(f"{written[key]} and {option} both name {path}: the second would replace the first. "
                             "Give each its own path.")
        written[key] = option


def _file_key(path: Path) -> Any:
    """What identifies the file `path` names: its device and inode when it exists, else its resolved path."""
    try:
        info = os.stat(path)
        return info.st_dev, info.st_ino
    except OSError:
        return str(path.resolve())
