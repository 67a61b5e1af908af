"""FCN-score: a segmenter trained on real photos labels the generated photos.

`ConfusionMeasure` is what FCN-score and label-score share: one per-frame
state, the ``(19, 20)`` confusion matrix against the frame's trainIds
(`p2p_eval.metrics.confusion`), scored by the official formulas, with
per-class detail and the summed matrix in the entry. `FcnScore` segments
each generated photo at the resolution of its frame's trainIds, as the
official pix2pix evaluation does: the photo is resized there (Pillow
bilinear on uint8, ``scipy.misc.imresize``) and every forward pass has the
same batch size (the last batch is padded), so a frame's confusion does not
depend on frame order, batch, worker or process count. Under ``--protocol
official`` it also keeps each frame's official histogram
(`p2p_eval.measures.fcn_score.official`) and reports the official script's
numbers, its quirks reproduced, beside the corrected ones.
"""

import contextlib
import itertools
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from p2p_eval.cache import namespace
from p2p_eval.classes import CLASS_NAMES, CLASS_SET, IGNORE, NUM_CLASSES
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.measures.base import Frame, Loaded, Measure
from p2p_eval.measures.fcn_score import official
from p2p_eval.measures.fcn_score.entry import ClassScore, FcnEntry
from p2p_eval.measures.fcn_score.inputs import (
    RESIZE_KERNEL, label_size, labelled_pixels, photo_input, read_train_ids,
)
from p2p_eval.measures.fcn_score.protocols import (PROTOCOLS, check_official, check_scale, default_batch_size,
                                                   label_sizes, segmenter_path, warn_training_frames)
from p2p_eval.measures.states import FrameStates, State
from p2p_eval.metrics.confusion import ABSENT_RULES, confusion_matrices, fcn_scores, per_class_scores
from p2p_eval.segmenters.checkpoint import Segmenter, load_segmenter

log = logging.getLogger(__name__)

CONFUSION = State("confusion", (NUM_CLASSES, NUM_CLASSES + 1))
"""Ground-truth rows, predicted columns, last column = predicted no train class."""
OFFICIAL_SCORES = ("the official evaluate.py's (fast_hist, get_scores), its quirks reproduced; each run's "
                   "\"corrected\" holds the same frames scored with predictions of no train class as errors")
"""What the scores of a ``--protocol official`` document are (its ``protocol.scores``, a note under tables)."""


@dataclass(frozen=True)
class ConfusionSettings:
    """``absent_rule``: classes absent from the ground truth, "nan" (left out of the means,
    cityscapesScripts) or "zero" (counted as 0, the official script); None: the protocol's rule."""

    absent_rule: str | None = None

    def __post_init__(self):
        if self.absent_rule not in (None, *ABSENT_RULES):
            raise ValueError(f"Expected --absent-classes in {ABSENT_RULES}, got {self.absent_rule!r}.")

    @property
    def rule(self) -> str:
        return self.absent_rule or "nan"


class ConfusionMeasure(Measure):
    """Per-frame confusion matrices against the frame's trainIds, scored as FCN-scores."""

    frame_inputs = ("trainids",)
    default_batch_size = 4
    states = (CONFUSION,)

    def __init__(self, dataset: PreparedDataset, *, absent_rule: str = "nan", protocol: str = "default",
                 device: torch.device | None = None):
        self.dataset, self.absent_rule, self.protocol_name = dataset, absent_rule, protocol
        self.device = device if device is not None else torch.device("cpu")

    def batch_key(self, frame: Frame) -> tuple[int, int]:
        return label_size(frame.path("trainids"))  # no padding, no cropping: equal label sizes share a batch

    def check_record(self, record: np.void, frame: Frame) -> str | None:
        """A frame's confusion counts each of its labelled pixels exactly once."""
        counted, labelled = int(record["confusion"].sum()), labelled_pixels(frame.path("trainids"))
        if counted != labelled or (record["confusion"] < 0).any():
            return f"its confusion counts {counted} pixels, but {frame.path('trainids')} labels {labelled}"
        return None

    def compute(self, states: FrameStates, weights: np.ndarray, reference: FrameStates | None) -> dict[str, np.ndarray]:
        return fcn_scores(states.sums("confusion", weights), self.absent_rule)

    def entry_fields(self, row) -> dict[str, Any]:
        total = row.states.total("confusion")
        return {
            "per_class": _class_scores(*per_class_scores(total, self.absent_rule)),
            "confusion": total[:, :NUM_CLASSES].tolist(),
            "confusion_other": total[:, NUM_CLASSES].tolist(),
        }

    def check_rows(self, rows: Sequence) -> None:
        """Warn, once per distinct frame set, about classes with no ground-truth pixel."""
        seen = set()
        for row in rows:
            if row.states.frames in seen:
                continue
            seen.add(row.states.frames)
            present = row.states.total("confusion").sum(axis=1)
            names = [CLASS_NAMES[c] for c in np.flatnonzero(present == 0)]
            if names:
                what = ("accuracy counted as 0 and IoU as 0 in the means (--absent-classes zero)"
                        if self.absent_rule == "zero" else
                        "accuracy left out of the mean; IoU 0 if predicted, else left out (--absent-classes nan)")
                log.warning("%d class(es) have no ground-truth pixel in the %d scored frame(s): %s; %s.",
                            len(names), len(row.states), ", ".join(names), what)

    def protocol(self) -> dict[str, Any]:
        meta = self.dataset.meta
        return {
            "name": self.protocol_name, "class_set": CLASS_SET, "ignore_train_id": IGNORE,
            "absent_classes": self.absent_rule,
            "resolution": {"scored_at": "label", "label_size": meta.get("label_size"), "image_size": meta.get("image_size")},
            "device": self.device.type,
        }


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _class_scores(acc: np.ndarray, iou: np.ndarray) -> tuple[ClassScore, ...]:
    return tuple(ClassScore(name, _finite(a), _finite(i)) for name, a, i in zip(CLASS_NAMES, acc, iou))


@dataclass(frozen=True)
class FcnSettings(ConfusionSettings):
    """How fcn-score runs: the segmenter (None: the one ``dataset.json`` records), the
    device it runs on, the protocol ("official": full-resolution Cityscapes labels,
    absent classes counted as 0, as the pix2pix ``evaluate.py``) and the absent-class rule."""

    segmenter: str | None = None
    device: str | torch.device = "auto"
    protocol: str = "default"

    def __post_init__(self):
        super().__post_init__()
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"Expected --protocol in {PROTOCOLS}, got {self.protocol!r}.")
        if self.protocol == "official" and self.absent_rule == "nan":
            raise ValueError("--protocol official counts absent classes as 0 (the official script); "
                             "drop --absent-classes nan, or use --protocol default.")

    @property
    def rule(self) -> str:
        return self.absent_rule or ("zero" if self.protocol == "official" else "nan")


class FcnScore(ConfusionMeasure):
    """Generated photos segmented at label resolution by a segmenter trained on real photos."""

    kind = "fcn-score"
    Settings = FcnSettings
    entry_type = FcnEntry
    real_input = "photo"
    run_direction = "AtoB"
    real_row = "the dataset's real photos, segmented and scored as a run"

    def __init__(self, segmenter: Segmenter, dataset: PreparedDataset, *, device: torch.device | None = None,
                 absent_rule: str = "nan", protocol: str = "default", segmenter_path: Path | None = None):
        super().__init__(dataset, absent_rule=absent_rule, protocol=protocol,
                         device=device if device is not None else _model_device(segmenter.model))
        self.segmenter, self.segmenter_path = segmenter, segmenter_path
        self.official = protocol == "official"
        self.states = (CONFUSION, *official.STATES) if self.official else (CONFUSION,)
        self.default_batch_size = default_batch_size(self.device)

    @classmethod
    def open(cls, settings: FcnSettings, dataset: PreparedDataset, split: str) -> "FcnScore":
        from p2p_eval.device import pick_device

        path = segmenter_path(settings.segmenter, dataset)
        device = pick_device(str(settings.device))
        segmenter = load_segmenter(path, device)
        sizes = label_sizes(dataset, split)
        if settings.protocol == "official":
            check_official(dataset, sizes, segmenter)
        check_scale(segmenter, path, dataset, sizes, settings.protocol)
        warn_training_frames(segmenter, path, dataset, split)
        return cls(segmenter, dataset, device=device, absent_rule=settings.rule, protocol=settings.protocol,
                   segmenter_path=path)

    def namespace(self) -> str:
        s = self.segmenter
        states = {"states": [state.name for state in self.states]} if self.official else {}  # default: as before
        # Device type too, as fid and lpips: a GPU's logits differ from the CPU's in the last bits, and an
        # argmax between two near-equal classes can flip, so a CPU confusion is no GPU one.
        return namespace("fcn-score", segmenter=s.sha256, arch=s.arch, outputs=list(s.output_to_train_id),
                         preprocess=asdict(s.preprocess), resize=RESIZE_KERNEL, resolution="label",
                         device=self.device.type, **states)

    @contextlib.contextmanager
    def computing(self):
        """The segmenter on the device, in eval mode (running BatchNorm statistics: a frame never
        depends on its batch), with TF32 off: cuDNN would otherwise run float32 convolutions with
        10-bit mantissas on Ampere and later GPUs, and predictions would depend on the GPU model
        (the CPU and the official Caffe run full fp32)."""
        model = self.segmenter.model
        model.to(self.device)
        was_training = model.training  # a trainer may score mid-training
        saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
        model.eval()
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        try:
            yield
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
            model.train(was_training)

    def load(self, image: Path, frame: Frame) -> Loaded:
        labels = read_train_ids(frame.path("trainids"))
        array, mode = photo_input(image, labels.shape)
        return Loaded((array, labels), mode)

    def update(self, batch: Sequence[tuple[np.ndarray, np.ndarray]], *, batch_size: int) -> dict[str, np.ndarray]:
        inputs = torch.from_numpy(np.stack([image for image, _ in batch]))
        labels = torch.from_numpy(np.stack([label for _, label in batch]))
        if self.device.type == "cuda":  # page-locked, for asynchronous copies
            inputs, labels = inputs.pin_memory(), labels.pin_memory()
        inputs = inputs.to(self.device, non_blocking=True)
        labels = labels.to(self.device, non_blocking=True)
        n = len(batch)
        if n < batch_size:
            inputs = torch.cat([inputs, inputs.new_zeros((batch_size - n, *inputs.shape[1:]))])
        channels = self.segmenter.predict_channels(inputs)[:n]
        states = {"confusion": confusion_matrices(self.segmenter.to_train_ids(channels), labels, validate=False)}
        if self.official:
            states["official_hist"], states["official_dropped"] = official.official_hists(channels, labels)
        return {name: values.cpu().numpy() for name, values in states.items()}

    def check_record(self, record: np.void, frame: Frame) -> str | None:
        """Besides the confusion's count: an official histogram counts every labelled pixel once, or none
        when the frame was dropped (`fast_hist` drops a frame whole)."""
        problem = super().check_record(record, frame)
        if problem or not self.official:
            return problem
        hist, dropped = record["official_hist"], int(record["official_dropped"])
        labelled = int(record["confusion"].sum())  # equal to the frame's labelled pixels, checked above
        if dropped not in (0, 1) or (hist < 0).any() or int(hist.sum()) != (0 if dropped else labelled):
            return (f"its official histogram counts {int(hist.sum())} pixels (dropped: {dropped}), but "
                    f"{frame.path('trainids')} labels {labelled}")
        return None

    def compute(self, states: FrameStates, weights: np.ndarray, reference: FrameStates | None) -> dict[str, np.ndarray]:
        """The official script's numbers under ``--protocol official`` (what the tables show), else the corrected."""
        if self.official:
            return official.official_scores(states.sums("official_hist", weights))
        return super().compute(states, weights, reference)

    def entry_fields(self, row) -> dict[str, Any]:
        """Under ``--protocol official``: per-class scores of the official histogram, the official script's
        record (``official_script``) and the corrected scores (``corrected``) beside the true confusion."""
        fields = super().entry_fields(row)
        if not self.official:
            return fields
        hist, confusion = row.states.total("official_hist"), row.states.total("confusion")
        scores = {key: float(value) for key, value in official.official_scores(hist).items()}
        return fields | {
            "per_class": _class_scores(*official.official_per_class(hist)),
            "official_script": {**scores, "frames_dropped": int(row.states.total("official_dropped")),
                                "pixels_predicted_void": int(confusion[:, NUM_CLASSES].sum()),
                                "confusion": hist.tolist()},
            "corrected": {key: _finite(float(value)) for key, value in fcn_scores(confusion, "zero").items()},
        }

    def check_rows(self, rows: Sequence) -> None:
        """Besides the absent classes: warn where the official script's numbers differ from the corrected."""
        super().check_rows(rows)
        if not self.official:
            return
        for row in rows:
            ones = np.ones((1, len(row.states)))
            theirs = official.official_scores(row.states.sums("official_hist", ones))
            ours = fcn_scores(row.states.sums("confusion", ones), "zero")
            if any(abs(theirs[k][0] - ours[k][0]) > 1e-9 for k in theirs):
                log.warning(
                    "%s: the official script's numbers %s differ from the corrected ones %s: %d pixel(s) were "
                    "predicted as an output that is no train class, which it counts at class g as class g+1's road, "
                    "dropping the whole frame where g is bicycle (%d of %d frame(s) dropped). The tables show the "
                    "official script's (--protocol official); the corrected ones are each run's \"corrected\" in "
                    "the JSON.", row.name, _triple(theirs), _triple(ours),
                    int(row.states.total("confusion")[:, NUM_CLASSES].sum()),
                    int(row.states.total("official_dropped")), len(row.states))

    def protocol(self) -> dict[str, Any]:
        import PIL

        s = self.segmenter
        return {
            **super().protocol(),
            "segmenter": {
                "path": str(self.segmenter_path), "sha256": s.sha256, "arch": s.arch, "arch_args": s.arch_args,
                "preprocess": asdict(s.preprocess), "output_to_train_id": list(s.output_to_train_id),
                **{k: s.meta[k] for k in ("train_size", "trained_on") if k in s.meta},
            },
            "resize": {"kernel": RESIZE_KERNEL, "pillow": PIL.__version__,
                       "equivalent": "scipy.misc.imresize(image, label_size) (interp='bilinear')"},
            "fp32": "exact (TF32 off)" if self.device.type == "cuda" else "cpu",
            **({"scores": OFFICIAL_SCORES} if self.official else {}),
        }


def _triple(scores: dict[str, np.ndarray]) -> str:
    return "/".join(f"{float(np.ravel(scores[k])[0]):.3f}" for k in ("pixel_acc", "class_acc", "class_iou"))


def _model_device(model: torch.nn.Module) -> torch.device:
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


MEASURE = FcnScore
