"""Trial stimuli as the browser gets them: raw pixels of one length, prepared once per study.

Every image of a study (the real photos, each algorithm's images, and the
vigilance fakes made from the reals when there are vigilance trials) is decoded, converted to RGB, resized to
the study's square size and stored as raw 8-bit RGB, ``size * size * 3`` bytes,
in one file that every server process maps into memory. It is built once, when
the server starts, and reused while the image files are unchanged. A trial's
stimulus is one response holding its slots' pixels back to back, so every
stimulus of a study has the same length, headers and content type and is served
by the same memory copy: no size, header or timing of the network layer tells
the real image from the fake. (Per-image PNGs did: a blurred fake always
compressed smaller, a colour-shifted one larger, and the smaller one came first.)
Raw pixels also carry no format, colour mode or metadata (EXIF, text chunks,
ICC profiles) that could differ. URLs hold random one-time tokens, never a
file, run or frame name.
"""

import hashlib
import logging
import mmap
import os
import secrets
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from skimage.color import lab2rgb, rgb2lab
from tqdm import tqdm

from p2p_eval.data.files import read_rgb
from p2p_eval.errors import InputError
from study_app.config import StudyConfig
from study_app.stimuli import Stimuli
from study_app.presentation import IMAGE_SLOT, SLOTS
from study_app.trials import VIGILANCE_PREFIX, session_rng

log = logging.getLogger(__name__)

TOKEN_BYTES = 16
CACHE_DIR = ".p2p-study-cache"
_FORMAT = 1  # bump when the pixels a source gives change (resampling, blur)

ImageId = tuple[str, ...]
"""``("real", key)``, ``("fake", algorithm, key)`` or ``("vigilance", key)`` (a vigilance fake)."""


def new_token() -> str:
    """A fresh one-time token (22 URL-safe characters, 128 random bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def pixels(path: Path, size: int, *, blur: bool = False, colours_of: Path | None = None) -> np.ndarray:
    """One image as the study shows it.

    Parameters
    ----------
    path : Path
        Source image (any format Pillow reads).
    size : int
        Output width and height in pixels (Lanczos resampling when it differs).
    blur : bool, optional
        Heavy Gaussian blur, for vigilance trials.
    colours_of : Path, optional
        Another image whose colours (CIE Lab a*, b*) replace this one's, keeping
        its lightness L*: Zhang et al.'s random-colour baseline, for vigilance
        trials ("Random: copies the colors from a random image").

    Returns
    -------
    rgb : (size, size, 3) uint8 ndarray
    """
    image = Image.fromarray(read_rgb(path))
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    if blur:
        # Vigilance "fake": so blurred that any attentive rater spots it.
        image = image.filter(ImageFilter.GaussianBlur(radius=size / 24))
    rgb = np.asarray(image, dtype=np.uint8)
    if colours_of is not None:
        lab = rgb2lab(rgb)
        lab[..., 1:] = rgb2lab(pixels(colours_of, size))[..., 1:]
        with warnings.catch_warnings():  # another photo's colours at this lightness may be outside sRGB: clipped
            warnings.filterwarnings("ignore", message="Conversion from CIE-LAB", category=UserWarning)
            rgb = np.clip(np.round(lab2rgb(lab) * 255), 0, 255).astype(np.uint8)
    return rgb


def colour_partners(keys: list[str], seed: int) -> dict[str, str]:
    """For the random-colour vigilance fakes: whose colours each real photo gets, another photo's, fixed by the seed.

    >>> partners = colour_partners(["a", "b", "c"], 0)
    >>> sorted(partners) == ["a", "b", "c"] and all(k != v for k, v in partners.items())
    True
    """
    order = [str(k) for k in session_rng(seed, "random-colour").permutation(sorted(keys))]
    return {key: order[(i + 1) % len(order)] for i, key in enumerate(order)}


Source = tuple[ImageId, Path, dict]
"""An image of the store: its id, its file, and `pixels`' keyword arguments."""


def _sources(config: StudyConfig, stimuli: Stimuli) -> list[Source]:
    sources: list[Source] = [(("real", key), path, {}) for key, path in sorted(stimuli.real.items())]
    for name in config.algorithm_names:
        sources += [(("fake", name, key), path, {}) for key, path in sorted(stimuli.fakes[name].items())]
    if config.protocol.vigilance_trials and config.protocol.vigilance == "blur":
        sources += [(("vigilance", key), path, {"blur": True}) for key, path in sorted(stimuli.real.items())]
    elif config.protocol.vigilance_trials:
        partners = colour_partners(list(stimuli.real), config.protocol.seed)
        sources += [(("vigilance", key), path, {"colours_of": stimuli.real[partners[key]]})
                    for key, path in sorted(stimuli.real.items())]
    return sources


def _cache_key(sources: list[Source], size: int) -> str:
    digest = hashlib.sha256(f"{_FORMAT}:{size}".encode())
    for image_id, path, made in sources:
        stat = path.stat()
        digest.update(f"\n{image_id}:{path}:{stat.st_mtime_ns}:{stat.st_size}:{sorted(made.items())}".encode())
    return digest.hexdigest()[:16]


class StimulusStore:
    """The pixels of every image of a study, memory-mapped; read-only.

    Parameters
    ----------
    path : Path
        The file `prepare_stimuli` wrote.
    ids : sequence of ImageId
        The images in file order.
    size : int
        Width and height of every image.
    """

    def __init__(self, path: Path, ids: Sequence[ImageId], size: int):
        self.size = size
        self.image_bytes = size * size * 3
        self._offsets = {image_id: i * self.image_bytes for i, image_id in enumerate(ids)}
        with open(path, "rb") as file:
            self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        if len(self._map) != len(ids) * self.image_bytes:
            raise InputError(f"{path}: stimulus cache has the wrong size; delete it and restart the server.")
        # Fault every page in now, so that no image is served slower for being read from disk first.
        self._map.madvise(mmap.MADV_WILLNEED)
        for offset in range(0, len(self._map), mmap.PAGESIZE):
            self._map[offset]

    def stimulus(self, ids: Sequence[ImageId]) -> bytes:
        """The raw RGB pixels of `ids`, back to back (``len(ids) * image_bytes`` bytes)."""
        view = memoryview(self._map)
        return b"".join([view[self._offsets[i]: self._offsets[i] + self.image_bytes] for i in ids])  # one copy

    def image(self, image_id: ImageId) -> np.ndarray:
        """One image, ``(size, size, 3)`` uint8."""
        start = self._offsets[image_id]
        return np.frombuffer(self._map[start: start + self.image_bytes], dtype=np.uint8).reshape(self.size, self.size, 3)


def _write_pixels(sources: list[Source], size: int, path: Path) -> None:
    """Write every source's pixels to `path`, atomically (a half-written file is never used)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as out:
            for _, source, made in tqdm(sources, desc="preparing stimuli", unit="img", disable=None, file=sys.stderr):
                out.write(pixels(source, size, **made).tobytes())  # read_rgb names a bad file
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def prepare_stimuli(config: StudyConfig, stimuli: Stimuli) -> StimulusStore:
    """Build (or reuse) the study's stimulus file and map it.

    The file lives in ``.p2p-study-cache/`` beside the config, named after the
    config and a hash of every source file's path, size and modification time
    and the image size; a stale one is replaced.

    Raises
    ------
    InputError
        If an image cannot be decoded (naming it) or the cache folder cannot be written.
    """
    sources = _sources(config, stimuli)
    size = config.protocol.image_size
    folder = config.path.parent / CACHE_DIR
    path = folder / f"{config.path.stem}-{_cache_key(sources, size)}.rgb"
    if not path.is_file():
        try:
            folder.mkdir(exist_ok=True)
            _write_pixels(sources, size, path)
        except PermissionError as err:
            raise InputError(f"{folder}: cannot write the stimulus cache ({err.strerror}); make the config's "
                             "folder writable.") from None
        for stale in folder.glob(f"{config.path.stem}-{'?' * 16}.rgb"):
            if stale != path:
                stale.unlink(missing_ok=True)
        log.info("prepared %d stimuli in %s", len(sources), path)
    return StimulusStore(path, [image_id for image_id, _, _ in sources], size)


def trial_images(real_key: str, fake_key: str, fake_left: bool, algorithm: str) -> tuple[ImageId, ImageId]:
    """The (left, right) images of a two-alternative trial."""
    real: ImageId = ("real", real_key)
    if fake_key.startswith(VIGILANCE_PREFIX):
        fake: ImageId = ("vigilance", fake_key[len(VIGILANCE_PREFIX):])
    else:
        fake = ("fake", algorithm, fake_key)
    return (fake, real) if fake_left else (real, fake)


def single_image(image: str, real_key: str, fake_key: str, algorithm: str) -> tuple[ImageId]:
    """The one image of a single-image trial (`algorithm`: the fake's, the session's unless the trial names one)."""
    return (("real", real_key),) if image == "real" else (("fake", algorithm, fake_key),)


def stimulus_slots(image: str | None) -> list[str]:
    """The slots a trial's stimulus holds, in order: both sides, or the one image."""
    return list(SLOTS) if image is None else [IMAGE_SLOT]
