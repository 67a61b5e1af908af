"""Training data for the segmenter: real photos and trainIds of a prepared split, in memory.

Photos are the generation-size ``<frame>_photo.png`` files resized with Pillow's
bilinear on uint8 (the kernel the scorer uses to bring generated images to label
resolution); trainIds are resized nearest, so 255 stays 255 and no class is
invented between two others.
"""

import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from p2p_eval.data.files import read_label_png, read_rgb
from p2p_eval.data.prepared import PreparedDataset

log = logging.getLogger(__name__)

JITTER = 1.125
"""Largest random zoom of the augmentation (pix2pix jitters 256 -> 286, 1.117x)."""


def _load_frame(dataset: PreparedDataset, split: str, frame: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    photo = read_rgb(dataset.path(split, frame, "photo"))
    labels = read_label_png(dataset.path(split, frame, "trainids"))
    h, w = size
    if photo.shape[:2] != (h, w):
        photo = np.asarray(Image.fromarray(photo).resize((w, h), Image.BILINEAR))
    if labels.shape != (h, w):
        labels = np.asarray(Image.fromarray(labels).resize((w, h), Image.NEAREST))
    return photo, labels


def load_split(
    dataset: PreparedDataset, split: str, size: tuple[int, int], *, workers: int = 2, progress: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """All photos and trainIds of `split` at `size`.

    Parameters
    ----------
    dataset : PreparedDataset
    split : str
    size : (int, int)
        (H, W) to train at.
    workers : int, optional
        Decoding threads (Pillow releases the GIL while decoding).
    progress : bool, optional
        tqdm bar on stderr.

    Returns
    -------
    photos : (N, 3, H, W) uint8 tensor
        RGB.
    labels : (N, H, W) uint8 tensor
        trainIds, 255 = ignore.

    Raises
    ------
    InputError
        If a file is missing or unreadable (the message names it).
    """
    dataset.check_files(split)
    frames = dataset.frames(split)
    gigabytes = len(frames) * size[0] * size[1] * 4 / 1e9  # 3 bytes of photo + 1 of trainIds per pixel
    if gigabytes > 4:
        log.warning("holding %d %s frames at %dx%d takes %.1f GB of memory; a smaller --size lowers it.",
                    len(frames), split, *size, gigabytes)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        loaded = list(tqdm(
            pool.map(lambda f: _load_frame(dataset, split, f, size), frames),
            total=len(frames), desc=f"loading {split}", unit="img", disable=not progress, leave=False,
        ))
    photos = torch.from_numpy(np.stack([p for p, _ in loaded])).permute(0, 3, 1, 2).contiguous()
    labels = torch.from_numpy(np.stack([lab for _, lab in loaded]))
    log.info("loaded %d %s frames at %dx%d", len(frames), split, *size)
    return photos, labels


def augment(
    photos: torch.Tensor, labels: torch.Tensor, generator: torch.Generator, crop: tuple[int, int] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Modest augmentation: random zoom up to `JITTER`, a random crop, random mirroring.

    Parameters
    ----------
    photos : (B, 3, H, W) uint8 tensor
    labels : (B, H, W) uint8 tensor
    generator : torch.Generator
        CPU generator; all randomness comes from it, so a resumed run repeats it.
    crop : (int, int), optional
        (h, w) of the crops, at most (H, W); default (H, W). Crops keep the
        scale the segmenter will see while making each step cheaper.

    Returns
    -------
    photos : (B, 3, h, w) uint8 tensor
    labels : (B, h, w) uint8 tensor
    """
    b, _, full_h, full_w = photos.shape
    h, w = crop or (full_h, full_w)
    if h > full_h or w > full_w:
        raise ValueError(f"Expected a crop within {(full_h, full_w)}, got {(h, w)}.")
    zoom = 1 + (JITTER - 1) * torch.rand((), generator=generator).item()
    zh, zw = round(full_h * zoom), round(full_w * zoom)
    tops = torch.randint(0, zh - h + 1, (b,), generator=generator)
    lefts = torch.randint(0, zw - w + 1, (b,), generator=generator)
    flips = torch.rand(b, generator=generator) < 0.5
    big_photos = F.interpolate(photos.float(), size=(zh, zw), mode="bilinear", align_corners=False)
    big_labels = F.interpolate(labels[:, None].float(), size=(zh, zw), mode="nearest-exact")[:, 0]
    out_photos = torch.empty((b, 3, h, w), dtype=photos.dtype)
    out_labels = torch.empty((b, h, w), dtype=labels.dtype)
    for i in range(b):
        t, left = int(tops[i]), int(lefts[i])
        p = big_photos[i, :, t : t + h, left : left + w]
        lab = big_labels[i, t : t + h, left : left + w]
        if flips[i]:
            p, lab = p.flip(-1), lab.flip(-1)
        out_photos[i] = p.round().clamp(0, 255).to(torch.uint8)
        out_labels[i] = lab.to(torch.uint8)
    return out_photos, out_labels
