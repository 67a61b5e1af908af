"""Runs: folders of generated images, found and matched to dataset frames.

Three layouts are read without conversion:

``p2p-eval``
    ``<run>/run.json`` and ``<run>/images/<split>/<frame>.png`` (what the
    bundled trainers write).
``pytorch-pix2pix``
    ``<name>/test_latest/images/<id>_fake_B.png`` (``test.py`` of the PyTorch
    pix2pix code). ``<id>`` is the frame id; when every id is a number that
    names no frame, the ids are taken as the 1-based position of the frame in
    sorted order, as the PyTorch Cityscapes preparation numbers them.
``flat``
    a folder of ``<frame>_leftImg8bit.png``, named the official Cityscapes way,
    directly or in the official ``<split>/<city>/`` tree below it.

Scorers share `discover_runs` and `match_frames`, so every measure finds the
same images and refuses the same bad input.
"""

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from p2p_eval import __version__
from p2p_eval.data.files import read_json, write_json
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.errors import InputError

log = logging.getLogger(__name__)

RUN_FORMAT = "p2p-eval-run"
RUN_VERSION = 1
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_FAKE_SUFFIX = "_fake_B"
_FLAT_SUFFIX = "_leftImg8bit"


@dataclass(frozen=True)
class Run:
    """One set of generated images.

    Attributes
    ----------
    name : str
        The run's name in tables (the folder name).
    root : Path
        The folder given or found.
    layout : {"p2p-eval", "pytorch-pix2pix", "flat"}
    meta : dict
        ``run.json`` for p2p-eval runs (variant, dataset, seed, ...), else empty.
    """

    name: str
    root: Path
    layout: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def dataset(self) -> Path | None:
        """The prepared dataset the run was generated from, if run.json says."""
        recorded = self.meta.get("dataset")
        if not recorded:
            return None
        path = Path(recorded)
        return path if path.is_absolute() else (self.root / path)

    def images(self, split: str) -> dict[str, Path]:
        """Generated images by id (frame id, or the PyTorch numeric id).

        The foreign layouts hold one split; `split` only selects the folder of
        p2p-eval runs.
        """
        if self.layout == "p2p-eval":
            folder = self.root / "images" / split
            return {p.stem: p for p in _image_files(folder)}
        if self.layout == "pytorch-pix2pix":
            folder = _pytorch_images_folder(self.root)
            return {
                p.stem[: -len(_FAKE_SUFFIX)]: p
                for p in _image_files(folder)
                if p.stem.endswith(_FAKE_SUFFIX)
            }
        return {
            p.stem[: -len(_FLAT_SUFFIX)]: p
            for p in sorted(self.root.rglob(f"*{_FLAT_SUFFIX}.*"))
            if p.suffix.lower() in IMAGE_SUFFIXES
        }


def _image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _pytorch_images_folder(root: Path) -> Path:
    """``<name>/test_latest/images``, or the only ``test_<epoch>`` when no latest."""
    if (root / "images").is_dir():  # the user pointed at test_latest itself
        return root / "images"
    if (root / "test_latest" / "images").is_dir():
        return root / "test_latest" / "images"
    epochs = sorted(p for p in root.glob("test_*/images") if p.is_dir())
    if len(epochs) == 1:
        return epochs[0]
    raise InputError(
        f"{root}: {len(epochs)} result folders {[p.parent.name for p in epochs]} and no "
        "test_latest; pass the one to score, e.g. "
        f"{epochs[0].parent if epochs else root / 'test_latest'}."
    )


def _as_run(path: Path) -> Run | None:
    """The run at `path`, or None when `path` holds no run of a known layout."""
    if (path / "run.json").is_file():
        meta = read_json(path / "run.json")
        if meta.get("format") != RUN_FORMAT:
            raise InputError(f"{path / 'run.json'}: not a p2p-eval run.json (format {meta.get('format')!r}).")
        return Run(name=meta.get("name") or path.name, root=path, layout="p2p-eval", meta=meta)
    if path.name.startswith("test_") and any((path / "images").glob(f"*{_FAKE_SUFFIX}.*")):
        return Run(name=path.parent.name, root=path, layout="pytorch-pix2pix")
    if any(path.glob(f"test_*/images/*{_FAKE_SUFFIX}.*")):
        return Run(name=path.name, root=path, layout="pytorch-pix2pix")
    if _holds_flat_images(path):
        return Run(name=path.name, root=path, layout="flat")
    return None


def _holds_flat_images(path: Path) -> bool:
    """Official-named images directly in `path`, or in an official split/city tree below it."""
    if next(path.glob(f"*{_FLAT_SUFFIX}.*"), None) is not None:
        return True
    return any(next((path / split).rglob(f"*{_FLAT_SUFFIX}.*"), None) for split in ("train", "val", "test"))


def discover_runs(paths: Sequence[str | os.PathLike]) -> list[Run]:
    """Find the runs named by command-line paths.

    Each path is a run of a known layout, or a folder whose sub-folders are
    runs (``runs/``). Runs come back in the order given, sub-folders sorted.

    Raises
    ------
    InputError
        If a path does not exist, holds no run, or two runs share a name.
    """
    runs: list[Run] = []
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            raise InputError(f"{path}: no such folder; pass a run folder or a folder of runs.")
        run = _as_run(path)
        if run is not None:
            runs.append(run)
            continue
        children = [r for r in (_as_run(c) for c in sorted(path.iterdir()) if c.is_dir()) if r]
        if not children:
            raise InputError(
                f"{path}: holds no run. Expected run.json (p2p-eval), "
                "test_latest/images/*_fake_B.png (PyTorch pix2pix), *_leftImg8bit.png files, "
                "or sub-folders that are runs."
            )
        runs.extend(children)
    names = [r.name for r in runs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"Several runs are named {dupes}; rename the folders so each name is unique.")
    return runs


def match_frames(
    run: Run, frames: Sequence[str], split: str, *, allow_missing: bool = False
) -> list[tuple[str, Path]]:
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

    Returns
    -------
    pairs : list of (frame, Path)
        In the order of `frames`.

    Raises
    ------
    InputError
        If the run has no images, or (unless `allow_missing`) a frame has no
        image or an image matches no frame; the message names the first few
        and the count.
    """
    images = run.images(split)
    if not images:
        raise InputError(f"{run.root}: run {run.name!r} has no generated images for split {split!r}.")
    frame_set = set(frames)
    if not frame_set & images.keys() and all(k.isdigit() for k in images):
        log.warning(
            "%s: image ids are numbers, not frame ids; taking id N as the N-th frame of %r in "
            "sorted order (the PyTorch pix2pix Cityscapes numbering).", run.root, split)
        ordered = sorted(frames)
        images = {ordered[int(k) - 1]: p for k, p in images.items() if 1 <= int(k) <= len(ordered)} | {
            f"#{k}": p for k, p in images.items() if not 1 <= int(k) <= len(ordered)}
    missing = [f for f in frames if f not in images]
    extra = sorted(k for k in images if k not in frame_set)
    problems = []
    if missing:
        problems.append(f"{len(missing)} frame(s) of {split!r} have no generated image, e.g. {missing[:5]}")
    if extra:
        problems.append(f"{len(extra)} image(s) match no frame of {split!r}, e.g. {[str(images[k]) for k in extra[:5]]}")
    if problems:
        message = f"run {run.name!r} ({run.root}): " + "; ".join(problems)
        if not allow_missing:
            raise InputError(message + ". Generate every frame, or pass --allow-missing to score the intersection.")
        log.warning("%s. --allow-missing: scoring the %d matched frame(s) only.", message, len(frames) - len(missing))
    pairs = [(f, images[f]) for f in frames if f in images]
    if not pairs:
        raise InputError(f"run {run.name!r} ({run.root}): no generated image matches a frame of {split!r}.")
    jpegs = [p for _, p in pairs if p.suffix.lower() in (".jpg", ".jpeg")]
    if jpegs:
        log.warning(
            "run %r: %d image(s) are JPEG (e.g. %s); JPEG artefacts lower FCN-scores. "
            "Save generated images as PNG.", run.name, len(jpegs), jpegs[0])
    return pairs


def write_run_json(root: str | os.PathLike, meta: dict[str, Any]) -> None:
    """Write ``<root>/run.json`` atomically, adding format and version.

    `meta` holds at least ``name``, ``variant`` and ``dataset`` (the prepared
    dataset's path); trainers add seed, steps, config and versions.
    """
    document = {"format": RUN_FORMAT, "version": RUN_VERSION, **meta}
    document.setdefault("versions", {"p2p_eval": __version__})
    write_json(Path(root) / "run.json", document)


def recorded_dataset(runs: Sequence[Run], given: str | os.PathLike | None = None) -> PreparedDataset:
    """The prepared dataset to score `runs` against: `given`, else the one their run.json files record.

    Raises
    ------
    InputError
        If `given` is None and the runs record several datasets, or some
        record none; the message says to pass --data.
    """
    if given is not None:
        return PreparedDataset.load(given)
    recorded = {r.dataset.resolve() for r in runs if r.dataset is not None}
    unknown = [r.name for r in runs if r.dataset is None]
    if len(recorded) == 1 and not unknown:
        return PreparedDataset.load(recorded.pop())
    if len(recorded) > 1:
        raise InputError(f"The runs come from {len(recorded)} different datasets {sorted(map(str, recorded))}; "
                         "score them separately, or pass --data to score all on one.")
    raise InputError(f"Runs {unknown[:5]} do not record their dataset (no run.json, or no \"dataset\" in it); "
                     "pass --data PREPARED.")
