"""Writing a prepared dataset as the side-by-side (AB) folders PyTorch pix2pix trains on.

::

    <out>/train/<name>.png          photo | colour labels of each train frame
    <out>/test/<name>.png           the same for val: the preparation writes val to test/, which test.py reads
    <out>/p2p-eval-export.json      where it came from, how it was written, and the frame of every file

The layout is PyTorch pix2pix's Cityscapes preparation's (photo in A, labels in
B, so ``--direction BtoA`` trains labels->photo; val under ``test/``). Files
are named by frame id (default), so the ``<name>_fake_B.png`` that ``test.py``
writes match the prepared frames directly; ``names="index"`` numbers them from
0 in the preparation's order instead. PNG (default) is lossless: PyTorch
pix2pix then trains on exactly the prepared pixels, which for a dataset
prepared ``--like pytorch-pix2pix`` are the pixels its own preparation's
JPEGs decode to. ``jpg`` re-encodes as that preparation (quality 100,
subsampling 0): a second lossy pass.
"""

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from p2p_eval import __version__
from p2p_eval.data.files import read_rgb, write_jpeg, write_json, write_png
from p2p_eval.data.numbered import numbering_order
from p2p_eval.data.outputs import check_output_path
from p2p_eval.data.pix2pix_ab import DIRECTIONS
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.errors import InputError

log = logging.getLogger(__name__)

EXPORT_FILE = "p2p-eval-export.json"
FORMATS = ("png", "jpg")
NAMES = ("frame", "index")
PYTORCH_PHASES = (("train", "train"), ("val", "test"))
"""(prepared split, PyTorch phase folder), as prepare_cityscapes_dataset.py: ``'test' if phase == 'val' else 'train'``."""
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff")  # what its make_dataset would pick up


@dataclass(frozen=True)
class AbExportConfig:
    """What `p2p-eval export pix2pix-ab` writes.

    Attributes
    ----------
    direction : {"BtoA", "AtoB"}
        pix2pix's meaning for labels->photo training: BtoA puts the labels in B
        (photo | labels, the preparation's layout), AtoB puts them in A.
    phases : tuple of (split, phase folder)
        Which prepared split goes to which folder.
    names : {"frame", "index"}
        File names: frame ids, or 0-based numbers in the preparation's order.
    image_format : {"png", "jpg"}
    """

    direction: str = "BtoA"
    phases: tuple[tuple[str, str], ...] = PYTORCH_PHASES
    names: str = "frame"
    image_format: str = "png"

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"Expected `direction` in {DIRECTIONS}, got {self.direction!r}.")
        if self.names not in NAMES:
            raise ValueError(f"Expected `names` in {NAMES}, got {self.names!r}.")
        if self.image_format not in FORMATS:
            raise ValueError(f"Expected `image_format` in {FORMATS}, got {self.image_format!r}.")
        folders = [phase for _, phase in self.phases]
        if not self.phases or len(set(folders)) < len(folders) or len({s for s, _ in self.phases}) < len(self.phases):
            raise ValueError(f"Expected `phases` to map distinct splits to distinct folders, got {self.phases}.")


def _plan(data: PreparedDataset, out: Path, config: AbExportConfig) -> dict[str, list[tuple[str, Path]]]:
    """{phase: [(frame, file to write)]}, after refusing folders that hold other images."""
    suffix = "." + config.image_format
    plan = {}
    for split, phase in config.phases:
        if split not in data.splits:
            raise InputError(f"{data.root}: no split {split!r} to export; it has {sorted(data.splits)}. "
                             "Name the splits to export with --phases (e.g. train=train).")
        frames = list(numbering_order(data, split)[0])
        names = frames if config.names == "frame" else [str(i) for i in range(len(frames))]
        plan[phase] = [(frame, out / phase / f"{name}{suffix}") for frame, name in zip(frames, names)]
        folder = out / phase
        check_output_path(folder, folder=True)
        ours = {path.name for _, path in plan[phase]}
        foreign = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES
                         and p.name not in ours) if folder.is_dir() else []
        if foreign:
            raise InputError(f"{folder}: holds {len(foreign)} other image(s) ({', '.join(foreign[:3])}), which "
                             "PyTorch pix2pix would train or test on too; export into an empty --out.")
    return plan


def export_pix2pix_ab(data: PreparedDataset, out: str | os.PathLike, config: AbExportConfig, *,
                      progress: bool = True) -> dict[str, Any]:
    """Write `data` as PyTorch pix2pix AB folders into `out`; return the export record.

    Raises
    ------
    InputError
        If a split to export is missing, `out` cannot be written, or a phase
        folder already holds other images (checked before writing).
    """
    from tqdm import tqdm

    out = Path(out)
    check_output_path(out, folder=True)
    check_output_path(out / EXPORT_FILE)
    plan = _plan(data, out, config)
    left_out = sorted(set(data.splits) - {split for split, _ in config.phases})
    if left_out:
        log.warning("%s: split(s) %s not exported (--phases maps %s).", data.root, left_out,
                    ", ".join(f"{s}={p}" for s, p in config.phases))
    labels_first = config.direction == "AtoB"
    phase_split = {phase: split for split, phase in config.phases}
    total = sum(len(files) for files in plan.values())
    with tqdm(total=total, desc="export pix2pix-ab", unit="frame", disable=not progress) as bar:
        for phase, files in plan.items():
            for frame, path in files:
                photo, color = (read_rgb(data.path(phase_split[phase], frame, kind)) for kind in ("photo", "color"))
                ab = np.concatenate([color, photo] if labels_first else [photo, color], axis=1)
                (write_png if config.image_format == "png" else write_jpeg)(path, ab)
                bar.update()
    record = {
        "format": "p2p-eval-pix2pix-ab-export", "dataset": str(data.root.resolve()), "dataset_name": data.name,
        "direction": config.direction, "a": "colour labels" if labels_first else "photo",
        "b": "photo" if labels_first else "colour labels", "image_format": config.image_format,
        "jpeg": {"quality": 100, "subsampling": 0} if config.image_format == "jpg" else None,
        "names": config.names, "phases": {phase: split for split, phase in config.phases},
        "frames": {phase: {path.stem: frame for frame, path in files} for phase, files in plan.items()},
        "created_by": {"p2p_eval": __version__},
    }
    write_json(out / EXPORT_FILE, record)
    return record
