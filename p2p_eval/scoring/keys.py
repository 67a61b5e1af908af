"""What a cached per-frame state depends on: cache namespaces and item keys.

A state is reused only when the image, its label map and the whole protocol
(segmenter weights, output mapping, preprocessing, resize kernel, resolution;
or the colour decoding for label maps) are the same as when it was stored.
"""

import functools
from dataclasses import asdict
from pathlib import Path

from p2p_eval.cache import file_digest, namespace
from p2p_eval.scoring.loader import FAR_DISTANCE, LABEL_MAP_RESIZE, RESIZE_KERNEL
from p2p_eval.segmenters.checkpoint import Segmenter


def fcn_namespace(segmenter: Segmenter) -> str:
    """Cache namespace of FCN-score states: everything a frame's confusion depends on."""
    return namespace(
        "fcn-score", segmenter=segmenter.sha256, arch=segmenter.arch, outputs=list(segmenter.output_to_train_id),
        preprocess=asdict(segmenter.preprocess), resize=RESIZE_KERNEL, resolution="label",
    )


def label_namespace() -> str:
    """Cache namespace of label-score states."""
    return namespace("label-score", decode="nearest-cityscapes-color", far=FAR_DISTANCE, resize=LABEL_MAP_RESIZE)


def item_keys(images: list[Path], labels: list[Path], indices: list[int]) -> dict[int, str]:
    """Cache key of each item: digest of the image and of its label map.

    An unreadable file gets no key: the loader reports it, nothing is cached.
    """
    keys = {}
    for i in indices:
        try:
            keys[i] = f"{file_digest(images[i])}:{_label_digest(labels[i], *_stat(labels[i]))}"
        except OSError:
            continue
    return keys


def _stat(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_mtime_ns, info.st_size


@functools.lru_cache(maxsize=8192)
def _label_digest(path: Path, mtime_ns: int, size: int) -> str:
    """Label digests are shared by every run scored on a dataset: digest each file once."""
    return file_digest(path)
