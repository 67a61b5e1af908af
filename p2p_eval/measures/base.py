"""The Measure protocol: what a measure declares; the shared session does the rest.

In the torchmetrics spirit, a measure declares

* its named per-frame states (`states`: name, shape, dtype and how each
  reduces across frames, batches and processes);
* how to compute them from one image and its frame: `load` (per image, in
  the session's decoding threads: read, resize, and for CPU measures the
  whole computation) then `update` (per batch, in the main thread: the model,
  on its device), which returns the batch's per-frame states;
* how to turn states into scores: `compute`, under (B, N) frame weights, so
  the point estimate, bootstrap replicates and paired tests are one call;
* its entry type (`entry_type`) and the fields it adds to it (`entry_fields`);
* what a cached frame's states must satisfy (`check_record`), so a wrong
  record is recomputed rather than trusted.

The session (`p2p_eval.session`) finds the runs, matches frames, caches each
frame's states (keyed by `namespace` and the content of the image and of the
frame's `frame_inputs`), shards frames under torchrun and gathers their
states, resamples, tests against the baseline, and writes the tables and the
results document. A measure never sees a cache, a process group or a run.
"""

import abc
import contextlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, ContextManager

import numpy as np

from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.measures.states import FrameStates, State
from p2p_eval.stats import Bootstrap, percentile_ends

REAL_ROW_PERCENTILES = "{percentiles}"
"""Stands in a `Measure.real_row` for its interval's percentiles ("2.5-97.5" at 95%), filled per document."""

if TYPE_CHECKING:  # annotations only
    import torch

    from p2p_eval.results.entries import RunEntry
    from p2p_eval.session.rows import ScoredRow


@dataclass(frozen=True)
class Frame:
    """One frame of a prepared split: what an image is scored against."""

    dataset: PreparedDataset
    split: str
    id: str

    def path(self, kind: str) -> Path:
        """The frame's ``photo``, ``color`` or ``trainids`` file."""
        return self.dataset.path(self.split, self.id, kind)


@dataclass(frozen=True)
class Loaded:
    """What `Measure.load` returns for one image.

    Attributes
    ----------
    value : any
        What `Measure.update` takes (arrays at the size the measure wants).
    mode : str
        The image's Pillow mode before conversion to RGB; the session reports
        converted images in one warning.
    """

    value: Any
    mode: str = "RGB"


class Measure(abc.ABC):
    """A measure opened on a dataset split with its settings (see the module docstring).

    Class attributes
    ----------------
    kind : str
        Results kind and subcommand (a key of `p2p_eval.measures.MEASURES`).
    Settings : type
        The measure's own settings, a frozen dataclass validated on construction.
    entry_type : type of RunEntry
    frame_inputs : tuple of str
        Prepared-dataset files of a frame that `load` reads (``"trainids"``):
        checked before scoring and part of every cache key.
    real_input : str or None
        The dataset file scored *as a run* for the ground-truth row
        (``--with-real``): ``"photo"`` for FCN-score. None: the row comes from
        `real_entry` instead.
    reference_input : str or None
        A dataset file whose states every score needs (``"photo"``: the real
        photos for colorfulness); the session computes them once per dataset
        (cached there) and passes them to `compute`, for the frames
        `reference_frames` names.
    real_row : str or None
        What the ground-truth row is, for the document's ``protocol.real_row``
        (`REAL_ROW_PERCENTILES` in it is replaced by the percentiles of the
        document's confidence, "2.5-97.5" at 95%); None: the measure has no
        ground-truth row (``--with-real`` is refused).
    default_batch_size : int
        Frames per `update` (and per cache transaction) unless the user says.
    run_direction : {"AtoB", "BtoA"} or None
        The runs it scores: "AtoB" (labels->photos: generated photos), "BtoA"
        (photo->labels: generated label maps); runs of the other direction are
        refused before scoring. None: any run.
    centred_scores : tuple of str
        Scores whose bootstrap replicates are biased against the point
        estimate (FID: a replicate repeats frames); their intervals and paired
        tests are centred on the point (`p2p_eval.stats.centred_interval`).
    """

    kind: ClassVar[str]
    Settings: ClassVar[type]
    entry_type: ClassVar["type[RunEntry]"]
    frame_inputs: ClassVar[tuple[str, ...]] = ()
    real_input: ClassVar[str | None] = None
    reference_input: ClassVar[str | None] = None
    real_row: ClassVar[str | None] = "the dataset's real images, scored as a run"
    default_batch_size: ClassVar[int] = 8
    run_direction: ClassVar[str | None] = None
    centred_scores: ClassVar[tuple[str, ...]] = ()

    states: tuple[State, ...]
    """The per-frame states (an instance attribute: shapes may depend on settings)."""
    device: "torch.device | None" = None
    """Where `update` runs (states are gathered there under NCCL); None: the CPU."""

    @classmethod
    @abc.abstractmethod
    def open(cls, settings: Any, dataset: PreparedDataset, split: str) -> "Measure":
        """The measure with its settings, on `dataset`'s `split` (loads models, checks the protocol)."""

    @abc.abstractmethod
    def namespace(self) -> str:
        """Cache namespace: everything a frame's states depend on besides the files' content
        (`p2p_eval.cache.namespace`: weights hash, resize kernel, bins, state layout)."""

    @abc.abstractmethod
    def load(self, image: Path, frame: Frame) -> Loaded:
        """Read one image (and its frame's files) for `update`; runs in decoding threads.

        Raises `p2p_eval.errors.InputError` naming the file for bad input.
        """

    @abc.abstractmethod
    def update(self, batch: Sequence[Any], *, batch_size: int) -> dict[str, np.ndarray]:
        """Per-frame states of a batch of `Loaded.value` s.

        `batch_size` is the size every batch of this image set has but the
        last: a measure whose model depends on the batch pads to it.
        Returns ``{state name: (len(batch), *shape) array}``.
        """

    @abc.abstractmethod
    def compute(self, states: FrameStates, weights: np.ndarray, reference: FrameStates | None) -> dict[str, np.ndarray]:
        """Scores under (B, N) frame weights: ``{score key: (B,) float64}``.

        `reference` holds the `reference_input` states of every frame scored
        (None when the measure has none); select the frames of `states` from
        it when the reference is paired frame by frame.
        """

    def check_record(self, record: np.void, frame: Frame) -> str | None:
        """Why a cached record cannot be `frame`'s (None: it can); it is then recomputed.

        `record` holds the measure's states and the engine's (``image_size``,
        the image's (H, W)). Check what the states must satisfy whatever the
        image: a confusion counts every labelled pixel of the frame once, a
        histogram counts every pixel once per channel. The cache's checksum
        already caught damaged bytes; this catches records that are well-formed
        but wrong. May raise `p2p_eval.errors.InputError` for an unreadable frame file.
        """
        return None

    def reference_frames(self, split_frames: Sequence[str], scored: Sequence[str]) -> Sequence[str]:
        """The frames whose `reference_input` states `compute` gets: by default those some row
        scored (a paired reference); a measure against a fixed reference returns the whole split."""
        return scored

    def point_scores(self, states: FrameStates, reference: FrameStates | None,
                     bootstrap: Bootstrap) -> dict[str, float | None]:
        """Scores of a row computed once from all its frames, with no bootstrap interval and no
        paired test (KID: its spread is its standard deviation over subsets, an entry field);
        random subsets drawn from ``bootstrap.seed`` (FID-infinity's)."""
        return {}

    def computing(self) -> ContextManager:
        """Entered around all `update` calls (a model's device and mode)."""
        return contextlib.nullcontext()

    def batch_key(self, frame: Frame) -> Hashable:
        """Frames with equal keys may share a batch (e.g. the label size); may raise InputError."""
        return None

    def entry_fields(self, row: "ScoredRow") -> dict[str, Any]:
        """The entry type's own fields for a scored row (per-class detail, histograms ...)."""
        return {}

    def real_entry(self, reference: FrameStates, bootstrap: Bootstrap) -> "RunEntry":
        """The ground-truth row when it is not `real_input` scored as a run."""
        raise NotImplementedError(f"{self.kind} has no ground-truth row")

    @classmethod
    def real_row_text(cls, bootstrap: Bootstrap) -> str | None:
        """`real_row` as the document records it: its interval's percentiles those of `bootstrap`'s confidence
        (a document at 90% said "2.5-97.5 percentiles")."""
        ends = "{:g}-{:g}".format(*percentile_ends(bootstrap.confidence))
        return None if cls.real_row is None else cls.real_row.replace(REAL_ROW_PERCENTILES, ends)

    def protocol(self) -> dict[str, Any]:
        """How the numbers were made (the document's ``protocol``; the session adds the bootstrap)."""
        return {}

    def data(self, reference: FrameStates | None) -> dict[str, Any]:
        """Fields the measure adds to the document's ``data`` (e.g. the reference's totals)."""
        return {}

    def check_rows(self, rows: Sequence["ScoredRow"]) -> None:
        """Warn about what the scored rows show (absent classes, far pixels, resized images)."""
