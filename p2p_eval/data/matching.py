"""Pairing a run's generated images with a split's frames, and recording how they were paired.

Every scorer pairs through `match_run`, so every measure scores the same
images, refuses the same missing or extra ones and records its pairing
(`RunMatch.matching`) in its results.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from p2p_eval.data.numbered import pair_numbered
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.data.runs import Run, official_splits
from p2p_eval.errors import InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunMatch:
    """A run's images paired with the split's frames, and how.

    Attributes
    ----------
    pairs : list of (frame, Path)
        In the order of the split's frames.
    matching : dict
        How the ids were read, recorded per run in results: ``layout``, ``by``
        ("frame-id", or for numbered PyTorch results "content" or
        "numbering", with ``numbering``, ``order`` and ``checked_by_content``
        from `p2p_eval.data.numbered.identify_numbered`).
    """

    pairs: list[tuple[str, Path]]
    matching: dict[str, Any]


def match_run(
    run: Run, frames: Sequence[str], split: str, *, allow_missing: bool = False,
    dataset: PreparedDataset | None = None, numbering: int | None = None,
) -> RunMatch:
    """Pair each frame of a split with the run's generated image.

    Parameters
    ----------
    run : Run
    frames : sequence of str
        Frame ids of the split, as in the prepared dataset.
    split : str
    allow_missing : bool, optional
        Score the intersection, warning loudly how many frames and images were
        left out, instead of raising.
    dataset : PreparedDataset, optional
        The split's dataset: needed to identify numbered PyTorch results by
        their siblings' content (without it, numbered ids need `numbering`).
    numbering : {0, 1}, optional
        The number of the first frame, for numbered results
        (`p2p_eval.data.numbered.identify_numbered`).

    Raises
    ------
    InputError
        If the run has no images, an id has several files, numbered ids
        cannot be identified (see `identify_numbered`), or (unless
        `allow_missing`) a frame has no image or an image matches no frame;
        the message names the first few and the count.
    """
    images = run.images(split)
    where = f"run {run.name!r} ({run.root})"
    if not images:
        raise InputError(f"{run.root}: run {run.name!r} has no generated images for split {split!r}"
                         + (f" (it has {official_splits(run.root)})." if official_splits(run.root) else "."))
    frame_set = set(frames)
    matching: dict[str, Any] = {"layout": run.layout, "by": "frame-id"}
    if not frame_set & images.keys() and all(k.isdigit() for k in images):
        images, how = pair_numbered(images, frames, split, dataset=dataset, numbering=numbering, where=where)
        matching |= how
    missing = [f for f in frames if f not in images]
    extra = sorted(k for k in images if k not in frame_set)
    problems = []
    if missing:
        problems.append(f"{len(missing)} frame(s) of {split!r} have no generated image, e.g. {missing[:5]}")
    if extra:
        problems.append(f"{len(extra)} image(s) match no frame of {split!r}, e.g. {[str(images[k]) for k in extra[:5]]}")
    if problems:
        message = f"{where}: " + "; ".join(problems)
        if not allow_missing:
            raise InputError(message + ". Generate every frame, or pass --allow-missing to score the intersection.")
        log.warning("%s. --allow-missing: scoring the %d matched frame(s) only.", message, len(frames) - len(missing))
    pairs = [(f, images[f]) for f in frames if f in images]
    if not pairs:
        raise InputError(f"{where}: no generated image matches a frame of {split!r}.")
    jpegs = [p for _, p in pairs if p.suffix.lower() in (".jpg", ".jpeg")]
    if jpegs:
        log.warning(
            "run %r: %d image(s) are JPEG (e.g. %s): its compression artefacts change the pixels every measure "
            "reads, so the scores are those of the compressed images, not of what the model made. Save generated "
            "images as PNG.", run.name, len(jpegs), jpegs[0])
    return RunMatch(pairs, matching)


def match_frames(run: Run, frames: Sequence[str], split: str, *, allow_missing: bool = False,
                 dataset: PreparedDataset | None = None, numbering: int | None = None) -> list[tuple[str, Path]]:
    """`match_run`'s pairs alone."""
    return match_run(run, frames, split, allow_missing=allow_missing, dataset=dataset, numbering=numbering).pairs
