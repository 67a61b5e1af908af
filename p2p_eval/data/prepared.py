"""The prepared-dataset layout: what `p2p-eval prepare` writes and everything reads.

::

    <data>/dataset.json                  this module's `DatasetInfo`, as JSON
    <data>/<split>/<frame>_photo.png     real photo at generation size (RGB)
    <data>/<split>/<frame>_color.png     colour label map at generation size (pix2pix input)
    <data>/<split>/<frame>_trainids.png  trainIds at evaluation resolution (255 = ignore)
"""

import hashlib
import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from p2p_eval import __version__
from p2p_eval.cache import stable_file_digest
from p2p_eval.classes import CLASS_SET
from p2p_eval.data.files import read_json, write_json
from p2p_eval.errors import InputError

log = logging.getLogger(__name__)

FORMAT = "p2p-eval-prepared"
VERSION = 1
KINDS = ("photo", "color", "trainids")
"""The three files of a frame; the file name is ``<frame>_<kind>.png``."""


@dataclass(frozen=True)
class PreparedDataset:
    """A prepared dataset on disk.

    Attributes
    ----------
    root : Path
        The folder holding ``dataset.json``.
    meta : dict
        The parsed ``dataset.json``: ``name``, ``class_set``, ``image_size``
        ([H, W] of photos and colour maps), ``label_size`` ([H, W] of trainIds,
        or null when it varies), ``resample``, ``splits`` ({split: [frame, ...]}),
        ``source`` and ``segmenter`` (path of the segmenter that scores it, or null).
    """

    root: Path
    meta: dict[str, Any]

    @classmethod
    def load(cls, root: str | os.PathLike) -> "PreparedDataset":
        """Read and validate ``<root>/dataset.json``."""
        root = Path(root)
        meta_path = root / "dataset.json"
        if not meta_path.is_file():
            raise InputError(
                f"{root}: no dataset.json, so this is not a prepared dataset. "
                "Create one with `p2p-eval prepare synthetic|cityscapes|pix2pix-ab --out DIR`."
            )
        meta = read_json(meta_path)
        if meta.get("format") != FORMAT:
            raise InputError(f"{meta_path}: expected format {FORMAT!r}, got {meta.get('format')!r}.")
        if meta.get("version", 0) > VERSION:
            raise InputError(
                f"{meta_path}: written by a newer p2p-eval (version {meta['version']} > {VERSION}); "
                "upgrade p2p-eval."
            )
        if meta.get("class_set") != CLASS_SET:
            raise InputError(
                f"{meta_path}: class set {meta.get('class_set')!r} is not {CLASS_SET!r}, "
                "the only one p2p-eval scores."
            )
        _check_meta(meta, meta_path)
        return cls(root=root, meta=meta)

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.meta["image_size"])

    @property
    def splits(self) -> dict[str, tuple[str, ...]]:
        return {split: tuple(frames) for split, frames in self.meta["splits"].items()}

    def frames(self, split: str) -> tuple[str, ...]:
        """The frame ids of `split`, sorted."""
        if split not in self.meta["splits"]:
            raise InputError(
                f"{self.root}: no split {split!r}; it has {sorted(self.meta['splits'])}."
            )
        return tuple(self.meta["splits"][split])

    def path(self, split: str, frame: str, kind: str) -> Path:
        """Path of one file of a frame; `kind` is one of `KINDS`."""
        if kind not in KINDS:
            raise ValueError(f"Expected `kind` to be one of {KINDS}, got {kind!r}.")
        return self.root / split / f"{frame}_{kind}.png"

    @property
    def segmenter(self) -> Path | None:
        """The segmenter recorded by `p2p-eval train-segmenter`, if any."""
        recorded = self.meta.get("segmenter")
        if not recorded:
            return None
        path = Path(recorded)
        return path if path.is_absolute() else self.root / path

    def check_files(self, split: str) -> None:
        """Raise `InputError` naming the first missing files of `split`."""
        missing = [
            self.path(split, frame, kind)
            for frame in self.frames(split)
            for kind in KINDS
            if not self.path(split, frame, kind).is_file()
        ]
        if missing:
            shown = "\n  ".join(str(p) for p in missing[:5])
            raise InputError(
                f"{self.root}: {len(missing)} file(s) of split {split!r} are missing, e.g.\n  {shown}\n"
                "Re-run the `p2p-eval prepare` command that made this dataset (it resumes)."
            )


def _check_meta(meta: dict[str, Any], meta_path: Path) -> None:
    """Refuse a ``dataset.json`` whose fields every reader relies on are missing or malformed.

    A frame listed twice in a split would be scored twice (weighted double in
    every mean and bootstrap) without a word, and a missing field would end in
    a ``KeyError`` traceback far from the file: both are named here, at load.
    """
    fix = "the file was edited or damaged; re-run the `p2p-eval prepare` command that made it"

    def size(key: str, nullable: bool) -> None:
        value = meta.get(key)
        if value is None and nullable:
            return
        if not (isinstance(value, list) and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
            raise InputError(f"{meta_path}: expected {key!r} to be [height, width] in pixels, got {value!r}; {fix}.")

    if not isinstance(meta.get("name"), str) or not meta["name"]:
        raise InputError(f"{meta_path}: expected \"name\" to be the dataset's name, got {meta.get('name')!r}; {fix}.")
    size("image_size", nullable=False)
    size("label_size", nullable=True)
    splits = meta.get("splits")
    if not isinstance(splits, dict) or not all(isinstance(frames, list) for frames in splits.values()):
        raise InputError(f"{meta_path}: expected \"splits\" to map each split to its list of frame ids, "
                         f"got {str(splits)[:80]}; {fix}.")
    for split, frames in splits.items():
        bad = [f for f in frames if not isinstance(f, str) or not f or "/" in f or "\\" in f]
        if bad:
            raise InputError(f"{meta_path}: split {split!r} lists {len(bad)} entry(ies) that are no frame id "
                             f"(e.g. {bad[0]!r}); {fix}.")
        twice = sorted(f for f, count in Counter(frames).items() if count > 1)
        if twice:
            raise InputError(f"{meta_path}: split {split!r} lists {len(twice)} frame(s) more than once "
                             f"(e.g. {twice[0]!r}), which would be scored more than once; {fix}, or remove the "
                             "repeated ids.")
    if meta.get("segmenter") is not None and not isinstance(meta["segmenter"], str):
        raise InputError(f"{meta_path}: expected \"segmenter\" to be a path or null, got {meta['segmenter']!r}; "
                         f"{fix}, or record one with `p2p-eval train-segmenter`.")


def split_digest(dataset: PreparedDataset, split: str) -> str:
    """A digest of a split's content: its frame ids and the bytes of every frame's three files.

    ``generate`` records it beside the images it writes, and scoring compares
    it with the dataset scored against, so images are never scored against
    labels they were not generated from (another dataset, or this one
    re-prepared since). Each file is read once per process
    (`p2p_eval.cache.stable_file_digest`).

    Raises
    ------
    InputError
        If the split does not exist or a file of it is missing.
    """
    digest = hashlib.blake2b(digest_size=20)
    for frame in dataset.frames(split):
        digest.update(f"{frame}\0".encode())
        for kind in KINDS:
            path = dataset.path(split, frame, kind)
            try:
                digest.update(stable_file_digest(path).encode())
            except FileNotFoundError:
                raise InputError(f"{path}: missing from the prepared dataset; re-run the `p2p-eval prepare` command "
                                 "that made it (it resumes).") from None
    return digest.hexdigest()


def split_record(dataset: PreparedDataset, split: str) -> dict[str, str]:
    """What a run records of the data its `split` images are generated from: path and `split_digest`."""
    return {"path": str(dataset.root.resolve()), "digest": split_digest(dataset, split)}


def write_dataset_json(root: str | os.PathLike, meta: dict[str, Any]) -> None:
    """Write ``dataset.json`` atomically, adding format, version and class set."""
    document = {"format": FORMAT, "version": VERSION, "class_set": CLASS_SET, **meta}
    document.setdefault("segmenter", None)
    document.setdefault("created_by", {"p2p_eval": __version__})
    for split, frames in document["splits"].items():
        document["splits"][split] = sorted(frames)
    write_json(Path(root) / "dataset.json", document)


def record_segmenter(dataset: PreparedDataset, segmenter: str | os.PathLike) -> None:
    """Record in ``dataset.json`` the segmenter that scores this dataset.

    Stored relative to the dataset folder when it lies inside it, so the
    folder can be moved as a whole.
    """
    path = Path(segmenter).resolve()
    try:
        recorded = str(path.relative_to(dataset.root.resolve()))
    except ValueError:
        recorded = str(path)
    meta = {k: v for k, v in dataset.meta.items()}
    meta["segmenter"] = recorded
    write_json(dataset.root / "dataset.json", meta)
