"""Runs: folders of generated images, found in their layouts, and their ``run.json``.

Three layouts are read without conversion:

``p2p-eval``
    ``<run>/run.json`` and ``<run>/images/<split>/<frame>.png`` (what the
    bundled trainers write).
``pytorch-pix2pix``
    ``<name>/test_latest/images/<id>_fake_B.png`` (``test.py`` of the PyTorch
    pix2pix code). ``<id>`` is the frame id (a dataset imported with
    ``prepare pix2pix-ab`` keeps the AB file stems as frame ids); when every
    id is a number that names no frame, each number's frame is identified by
    content from its ``<id>_real_A.png`` / ``<id>_real_B.png`` siblings, or
    by a numbering the user gives (`p2p_eval.data.numbered`).
``flat``
    a folder of ``<frame>_leftImg8bit.png``, named the official Cityscapes way:
    directly, in city folders (``leftImg8bit/val``: one run, not one per city),
    or an official ``<split>/<city>/`` tree (``leftImg8bit``: the scored
    split's folder only).

Scorers share `discover_runs` (and `p2p_eval.data.matching.match_run`), so
every measure finds the same images, refuses the same bad input and records
how it paired them. ``run.json`` is written by `write_run_json` and its
recorded dataset read by `recorded_dataset`.
"""

import logging
import os
from collections.abc import Iterable, Sequence
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
_SPLITS = ("train", "val", "test")
"""Split folders of the official Cityscapes tree (``leftImg8bit/<split>/<city>/``)."""


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

        The foreign layouts hold one split, except a flat official tree
        (``<root>/<split>/<city>/``), read from `split`'s folder; otherwise
        `split` only selects the folder of p2p-eval runs.

        Raises
        ------
        InputError
            If one id has several files (``x.png`` and ``x.jpg``): which one
            would be scored is a guess.
        """
        if self.layout == "p2p-eval":
            return _by_id(((p.stem, p) for p in _image_files(self.root / "images" / split)), self.root)
        if self.layout == "pytorch-pix2pix":
            files = _image_files(_pytorch_images_folder(self.root))
            return _by_id(((p.stem[: -len(_FAKE_SUFFIX)], p) for p in files if p.stem.endswith(_FAKE_SUFFIX)),
                          self.root)
        tree = self.root / split if official_splits(self.root) else self.root
        found = (p for p in _files_below(tree) if p.stem.endswith(_FLAT_SUFFIX) and p.suffix.lower() in IMAGE_SUFFIXES)
        return _by_id(((p.stem[: -len(_FLAT_SUFFIX)], p) for p in found), self.root)


def _files_below(tree: Path) -> list[Path]:
    """Every file below `tree`, sorted, through symlinked folders too (``Path.rglob`` does not enter them:
    a city folder linked in from elsewhere was read as no images), each real folder once."""
    files, seen = [], set()
    for folder, subfolders, names in os.walk(tree, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # a link back up the tree: walked already
            subfolders.clear()
            continue
        seen.add(real)
        files += [Path(folder, name) for name in names]
    return sorted(files)


def _by_id(found: Iterable[tuple[str, Path]], root: Path) -> dict[str, Path]:
    """{id: file}, refusing ids with several files (as `prepare pix2pix-ab` refuses them)."""
    images: dict[str, list[Path]] = {}
    for key, path in found:
        images.setdefault(key, []).append(path)
    twins = {key: paths for key, paths in images.items() if len(paths) > 1}
    if twins:
        key, paths = sorted(twins.items())[0]
        raise InputError(f"{root}: {len(twins)} frame(s) have several generated images (e.g. {key!r}: "
                         f"{', '.join(str(p) for p in paths)}); keep one file per frame, so that what is scored "
                         "is not a guess.")
    return {key: paths[0] for key, paths in images.items()}


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
    if _flat_images_in(path) or official_splits(path):
        return Run(name=path.name, root=path, layout="flat")
    if _city_folders(path):  # one split of the official tree, e.g. leftImg8bit/val: the tree's run
        return Run(name=path.parent.name if path.name in _SPLITS else path.name, root=path, layout="flat")
    return None


def _flat_images_in(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{_FLAT_SUFFIX}.*"))


def _city_folders(path: Path) -> bool:
    """`path` is a split of the official tree: every sub-folder holding official-named images is a city
    folder (each image named ``<city>_...``), and there is one."""
    holding = [c for c in path.iterdir() if c.is_dir() and _flat_images_in(c)]
    return bool(holding) and all(p.name.startswith(c.name + "_") for c in holding for p in _flat_images_in(c))


def official_splits(path: Path) -> list[str]:
    """The official ``<split>/<city>/`` folders below `path` (``leftImg8bit``)."""
    return [split for split in _SPLITS if (path / split).is_dir() and _city_folders(path / split)]


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
        found = [(c, _as_run(c)) for c in sorted(path.iterdir()) if c.is_dir()]
        children = [r for _, r in found if r]
        if not children:
            raise InputError(
                f"{path}: holds no run. Expected run.json (p2p-eval), "
                "test_latest/images/*_fake_B.png (PyTorch pix2pix), *_leftImg8bit.png files, "
                "or sub-folders that are runs."
            )
        _check_skipped(path, [c for c, r in found if r is None and not c.name.startswith(".")])
        runs.extend(children)
    folders: dict[str, list[Run]] = {}
    for run in runs:
        folders.setdefault(run.name, []).append(run)
    dupes = {name: named for name, named in folders.items() if len(named) > 1}
    if dupes:
        name, named = sorted(dupes.items())[0]
        raise InputError(
            f"{len(dupes)} name(s) belong to several runs, e.g. {name!r}: "
            + ", ".join(_named_by(r) for r in named)
            + ". Give each run its own name: edit \"name\" in run.json, or rename the folder of a run without one.")
    return runs


def _check_skipped(path: Path, skipped: list[Path]) -> None:
    """Sub-folders of a folder of runs that are no run: never left out of the table without a word.

    A p2p-eval run whose run.json is missing (copied without it, deleted)
    still has ``images/<split>/``: leaving it out would print a table
    without that run and exit 0, so it is refused; any other folder is named
    in a warning.

    Raises
    ------
    InputError
        If a skipped folder holds generated images in the p2p-eval layout.
    """
    broken = [c for c in skipped if any(_image_files(split) for split in (c / "images").glob("*") if split.is_dir())]
    if broken:
        raise InputError(
            f"{path}: {len(broken)} sub-folder(s) hold generated images (images/<split>/) but no run.json, e.g. "
            f"{broken[0]}, so they are no run and would be left out. Restore their run.json (`p2p-eval train` and "
            f"`generate` write it), or move them out of {path}.")
    if skipped:
        log.warning("%s: %d sub-folder(s) hold no run and are not scored: %s.", path, len(skipped),
                    ", ".join(c.name for c in skipped[:5]) + (", ..." if len(skipped) > 5 else ""))


def _named_by(run: Run) -> str:
    """Where a run's name comes from, for messages."""
    if run.layout == "p2p-eval" and run.meta.get("name"):
        return f"{run.root} (\"name\" in its run.json)"
    return f"{run.root} (its folder name)"


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
        path = recorded.pop()
        if not (path / "dataset.json").is_file():
            run = next(r for r in runs if r.dataset is not None)
            raise InputError(
                f"{path}: no dataset.json there, and this path comes from {run.root / 'run.json'} (\"dataset\"): "
                "the dataset was moved or deleted since the run was made. Pass --data PREPARED with the "
                "dataset where it is now.")
        return PreparedDataset.load(path)
    if len(recorded) > 1:
        raise InputError(f"The runs come from {len(recorded)} different datasets {sorted(map(str, recorded))}; "
                         "score them separately, or pass --data to score all on one.")
    raise InputError(f"Runs {unknown[:5]} do not record their dataset (no run.json, or no \"dataset\" in it); "
                     "pass --data PREPARED.")
