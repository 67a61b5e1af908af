"""One scoring session: runs, dataset and segmenter resolved, every row scored, one document.

`score_runs` is what ``p2p-eval fcn-score`` and ``p2p-eval label-score`` do
between parsing arguments and printing: find the runs, take the dataset from
their ``run.json`` and the segmenter from the dataset's ``dataset.json``
unless given, score every run (and the real photos with ``with_real``), and
build the results document.
"""

import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from p2p_eval.paper import GROUND_TRUTH
from p2p_eval.cache import cache_path_for
from p2p_eval.classes import CLASS_SET, IGNORE
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.data.runs import Run, discover_runs, match_frames, recorded_dataset
from p2p_eval.errors import InputError
from p2p_eval.fcn_score import real_pairs, score_images, score_label_maps
from p2p_eval.metrics.confusion import ABSENT_RULES
from p2p_eval.results import results_document
from p2p_eval.scoring.loader import FAR_DISTANCE, LABEL_MAP_RESIZE, RESIZE_KERNEL, label_size
from p2p_eval.scoring.report import Bootstrap, ScoredRun, absent_classes, run_entry
from p2p_eval.segmenters.checkpoint import Segmenter, load_segmenter

log = logging.getLogger(__name__)

MEASURES = ("fcn-score", "label-score")
PROTOCOLS = ("default", "official")
OFFICIAL_LABEL_SIZE = (1024, 2048)
"""Cityscapes frames at full resolution: the official protocol scores there."""


@dataclass(frozen=True)
class ScoreConfig:
    """Everything a scoring session depends on, validated once.

    ``absent_classes`` None means the protocol's rule: "nan" (cityscapesScripts)
    by default, "zero" (the official pix2pix script) for ``protocol="official"``.
    """

    measure: str
    runs: tuple[str, ...]
    data: str | None = None
    segmenter: str | None = None
    split: str = "val"
    with_real: bool = False
    baseline: str | None = None
    batch_size: int = 4
    workers: int = 2
    absent_classes: str | None = None
    allow_missing: bool = False
    protocol: str = "default"
    bootstrap: Bootstrap = field(default_factory=Bootstrap)

    def __post_init__(self):
        if self.measure not in MEASURES:
            raise ValueError(f"Expected `measure` in {MEASURES}, got {self.measure!r}.")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"Expected --protocol in {PROTOCOLS}, got {self.protocol!r}.")
        if self.absent_classes not in (None, *ABSENT_RULES):
            raise ValueError(f"Expected --absent-classes in {ABSENT_RULES}, got {self.absent_classes!r}.")
        if self.protocol == "official" and self.absent_classes == "nan":
            raise ValueError("--protocol official counts absent classes as 0 (the official script); "
                             "drop --absent-classes nan, or use --protocol default.")
        if self.protocol == "official" and self.measure != "fcn-score":
            raise ValueError("--protocol official applies to fcn-score only.")
        if self.batch_size < 1 or self.workers < 0:
            raise ValueError(f"Expected --batch-size >= 1 and --workers >= 0, got {self.batch_size} and {self.workers}.")
        if not self.runs:
            raise ValueError("Expected at least one run folder.")

    @property
    def absent_rule(self) -> str:
        return self.absent_classes or ("zero" if self.protocol == "official" else "nan")


def score_runs(config: ScoreConfig, *, device: torch.device, progress: bool = True) -> dict:
    """Score every run of `config` and return the results document (`p2p_eval.results`)."""
    runs = discover_runs(config.runs)
    baseline = _baseline(config.baseline, runs)
    dataset = recorded_dataset(runs, config.data)
    dataset.check_files(config.split)
    frames = dataset.frames(config.split)
    segmenter = None
    if config.measure == "fcn-score":
        segmenter = load_segmenter(_segmenter_path(config.segmenter, dataset), device)
        if config.protocol == "official":
            _check_official(dataset, config.split, segmenter)
    scored: list[ScoredRun] = []
    left_out: dict[str, int] = {}
    if config.with_real:
        pairs = real_pairs(dataset, config.split, "photo" if segmenter is not None else "color")
        scored.append(_score(config, segmenter, dataset, pairs, cache_path_for(dataset.root), device, progress,
                             name=GROUND_TRUTH, meta={}, is_real=True))
    for run in runs:
        pairs = match_frames(run, frames, config.split, allow_missing=config.allow_missing)
        left_out[run.name] = len(frames) - len(pairs)
        scored.append(_score(config, segmenter, dataset, pairs, cache_path_for(run.root), device, progress,
                             name=run.name, meta=run.meta, is_real=False))
    for frame_set, names in absent_classes(scored).items():
        what = ("accuracy counted as 0 and IoU as 0 in the means (--absent-classes zero)"
                if config.absent_rule == "zero" else
                "accuracy left out of the mean; IoU 0 if predicted, else left out (--absent-classes nan)")
        log.warning("%d class(es) have no ground-truth pixel in the %d scored frame(s): %s; %s.",
                    len(names), len(frame_set), ", ".join(names), what)
    base = next((s for s in scored if baseline is not None and s.name == baseline.name), None)
    entries = [run_entry(s, config.absent_rule, config.bootstrap, base) for s in scored]
    data = {"dataset": str(dataset.root), "name": dataset.name, "split": config.split, "n_frames": len(frames),
            "source": dataset.meta.get("source"), "left_out": left_out}
    return results_document(config.measure, entries, protocol=_protocol(config, dataset, segmenter, device), data=data)


def _score(config, segmenter, dataset, pairs, cache, device, progress, *, name, meta, is_real) -> ScoredRun:
    options = dict(batch_size=config.batch_size, workers=config.workers, cache=cache, progress=progress)
    log.info("scoring %s: %d frame(s)", name, len(pairs))
    if segmenter is not None:
        confusions, far = score_images(segmenter, dataset, config.split, pairs, device=device, **options), None
    else:
        confusions, far = score_label_maps(dataset, config.split, pairs, **options)
        if far.sum():
            log.warning("%s: %d pixel(s) in %d image(s) are further than %g from every label colour "
                        "(decoded to the nearest one anyway).", name, far.sum(), (far > 0).sum(), FAR_DISTANCE)
    return ScoredRun(name=name, variant=meta.get("variant"), preset=meta.get("preset"), is_real=is_real,
                     frames=tuple(f for f, _ in pairs), confusions=confusions, far_pixels=far)


def _baseline(given: str | None, runs: list[Run]) -> Run | None:
    """The baseline run: a scored run's name, or a folder (scored too, appended)."""
    if given is None:
        return None
    by_name = {r.name: r for r in runs}
    if given in by_name:
        return by_name[given]
    if not Path(given).is_dir():
        raise InputError(f"--baseline {given}: neither the name of a scored run ({sorted(by_name)}) nor a folder.")
    found = discover_runs([given])
    if len(found) != 1:
        raise InputError(f"--baseline {given}: holds {len(found)} runs; name one run folder.")
    run = found[0]
    known = {r.root.resolve(): r for r in runs}
    if run.root.resolve() in known:
        return known[run.root.resolve()]
    if run.name in by_name:
        raise InputError(f"--baseline {given}: another run is already named {run.name!r}; rename one folder.")
    runs.append(run)
    return run


def _segmenter_path(given: str | None, dataset: PreparedDataset) -> Path:
    if given is not None:
        return Path(given)
    if dataset.segmenter is None:
        raise InputError(f"{dataset.root / 'dataset.json'} records no segmenter; pass --segmenter seg.pt, or train "
                         f"one with `p2p-eval train-segmenter --data {dataset.root} --out seg.pt`.")
    return dataset.segmenter


def _check_official(dataset: PreparedDataset, split: str, segmenter: Segmenter) -> None:
    """The official protocol scores at full Cityscapes resolution; refuse anything else."""
    sizes = {tuple(dataset.meta["label_size"])} if dataset.meta.get("label_size") else {
        label_size(dataset.path(split, f, "trainids")) for f in dataset.frames(split)}
    if sizes != {OFFICIAL_LABEL_SIZE}:
        raise InputError(
            f"{dataset.root}: --protocol official scores at the full Cityscapes resolution "
            f"{OFFICIAL_LABEL_SIZE[1]}x{OFFICIAL_LABEL_SIZE[0]}, but this dataset's labels are "
            f"{', '.join(f'{w}x{h}' for h, w in sorted(sizes))}. Prepare one from the Cityscapes root with "
            "`p2p-eval prepare cityscapes --root CITYSCAPES --out DIR` (it keeps trainIds at full resolution), "
            "or use --protocol default.")
    if segmenter.arch != "fcn8s":
        log.warning("--protocol official: the official evaluator is the pix2pix FCN-8s "
                    "(`p2p-eval segmenter import-caffe`); scoring with a %s segmenter instead.", segmenter.arch)


def _protocol(config: ScoreConfig, dataset: PreparedDataset, segmenter: Segmenter | None, device) -> dict:
    protocol = {
        "name": config.protocol,
        "class_set": CLASS_SET,
        "ignore_train_id": IGNORE,
        "absent_classes": config.absent_rule,
        "resolution": {"scored_at": "label", "label_size": dataset.meta.get("label_size"),
                       "image_size": dataset.meta.get("image_size")},
        "bootstrap": {**asdict(config.bootstrap), "unit": "frame", "interval": "percentile"},
        "batch_size": config.batch_size,
        "world_size": int(os.environ.get("WORLD_SIZE", 1)),
        "device": device.type,
    }
    if segmenter is None:
        protocol["decode"] = {"rule": "nearest Cityscapes label colour (Euclidean RGB)", "far_distance": FAR_DISTANCE,
                              "resize": LABEL_MAP_RESIZE}
        return protocol
    import PIL

    protocol["segmenter"] = {
        "path": str(_segmenter_path(config.segmenter, dataset)), "sha256": segmenter.sha256,
        "arch": segmenter.arch, "arch_args": segmenter.arch_args, "preprocess": asdict(segmenter.preprocess),
        "output_to_train_id": list(segmenter.output_to_train_id),
        **{k: segmenter.meta[k] for k in ("train_size", "trained_on") if k in segmenter.meta},
    }
    protocol["resize"] = {"kernel": RESIZE_KERNEL, "pillow": PIL.__version__,
                          "equivalent": "scipy.misc.imresize(image, label_size) (interp='bilinear')"}
    protocol["fp32"] = "exact (TF32 off)" if device.type == "cuda" else "cpu"
    return protocol
