"""FID and KID: Inception features of each run's images against the real photos of the whole split.

Each frame's state is its 2048-d Inception pool feature row (``reduce="cat"``:
kept per frame, cached per image, gathered across torchrun processes). The
reference is the features of the real photos of the *whole* split
(`reference_frames`), cached in the dataset folder, so a run's FID does not
depend on which frames it or another run has; its statistics are held fixed
in every bootstrap replicate. A replicate resamples the run's frames; its FID
is larger than the point estimate by about FID's small-N bias (repeated
frames), so the interval is centred on the point (`centred_scores`): it
measures sampling variability over frames, not that bias. A paired test
between two runs draws the same frames for both, each replicate's FIDs
against the same fixed reference, and centres the differences likewise.
KID (``--kid``) is computed once per run, as torch-fidelity does, with its
standard deviation over subsets; FID-infinity (``--infinity``) too, from the
same feature rows, its subsets seeded by the session's seed.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from p2p_eval.cache import namespace
from p2p_eval.data.files import decode_rgb
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.device import exact_fp32, pick_device
from p2p_eval.errors import InputError
from p2p_eval.features.inception import FEATURE_DIM, PUBLISHED_FILE, PUBLISHED_SHA256_PREFIX, load_inception
from p2p_eval.features.names import DEFAULT_PROTOCOL, PROTOCOLS
from p2p_eval.features.resize import inception_batch
from p2p_eval.measures.base import REAL_ROW_PERCENTILES, Frame, Loaded, Measure
from p2p_eval.measures.fid.entry import FidEntry
from p2p_eval.measures.states import FrameStates, State
from p2p_eval.metrics.frechet import MIN_IMAGES_FOR_FID, GaussianStats, gaussian_stats, sample_size_warnings
from p2p_eval.metrics.frechet_bootstrap import resampled_frechet_distances, split_half_frechet
from p2p_eval.metrics.frechet_infinity import MIN_SIZE, NUM_POINTS, FrechetInfinity, frechet_infinity
from p2p_eval.metrics.kernel import SUBSET_SIZE, SUBSETS, KernelDistance, kernel_distance
from p2p_eval.paper import GROUND_TRUTH
from p2p_eval.resampling import split_half_masks
from p2p_eval.stats import Bootstrap, percentile_interval

log = logging.getLogger(__name__)

FEATURES = State("features", (FEATURE_DIM,), "float32", reduce="cat")
"""The Inception pool feature row of each frame, as the network gives it (fp32)."""
KID_SEED = 2020
"""torch-fidelity's default ``rng_seed``: the same subsets, the same KID."""
REAL_SPLITS = 100
"""Random split-halves of the ground-truth row (each an SVD of about N/2 x N/2)."""
REAL_ROW = (
    "split-half: the FID between two random halves of the split's real photos (median over "
    f"{REAL_SPLITS} random splits, the interval their {REAL_ROW_PERCENTILES} percentiles; KID from the first "
    "split). Not 0: "
    "FID's small-N bias at half the split's size plus the halves' difference. And not a floor: a run's FID "
    "compares all N photos with N frames, less bias than N/2 with N/2, so a run drawn from the photos' own "
    "distribution scores about half of it."
)
FID_INTERVAL = (
    "percentile interval of the bootstrap FIDs moved by (their mean - the point FID): centred on the point. It "
    "measures sampling variability over frames, not FID's upward bias at small N (replicates repeat frames, so "
    "they are more biased than the point; the move removes that offset, it does not remove the bias)"
)
INFINITY_FIT = (
    "Chong & Forsyth's FID-infinity (mchong6/FID_IS_infinity score_infinity.py): FID_N of a random subset of N of "
    "the run's frames at `points` sizes N evenly spaced from `min_size` to all frames, against the fixed "
    "reference statistics; the intercept at 1/N = 0 of the least-squares line of FID_N against 1/N"
)
PAIRED_TEST = (
    "paired bootstrap on the frames both runs have: the same frames drawn for both, each replicate's FID against "
    "the same fixed reference statistics; the differences moved by (their mean - the observed difference)"
)


@dataclass(frozen=True)
class FidSettings:
    """How fid runs: the Inception weights file (None: ``$P2P_EVAL_INCEPTION``), the resize
    protocol, whether KID is computed and how (torch-fidelity's subsets and seed by default),
    whether FID-infinity is fitted and at which sizes, and the device."""

    features: str | None = None
    resize: str = DEFAULT_PROTOCOL
    kid: bool = False
    kid_subsets: int = SUBSETS
    kid_subset_size: int = SUBSET_SIZE
    kid_seed: int = KID_SEED
    infinity: bool = False
    infinity_min_size: int = MIN_SIZE
    infinity_points: int = NUM_POINTS
    device: str | torch.device = "auto"

    def __post_init__(self):
        if self.resize not in PROTOCOLS:
            raise ValueError(f"Expected --resize in {PROTOCOLS}, got {self.resize!r}.")
        if self.kid_subsets < 1 or self.kid_subset_size < 2:
            raise ValueError(f"Expected --kid-subsets >= 1 and --kid-subset-size >= 2, got {self.kid_subsets} "
                             f"and {self.kid_subset_size}.")
        if self.infinity_min_size < 2 or self.infinity_points < 2:
            raise ValueError(f"Expected --infinity-min-size >= 2 and --infinity-points >= 2, got "
                             f"{self.infinity_min_size} and {self.infinity_points}.")


class Fid(Measure):
    """Per-frame Inception features; FID (and KID) against the whole split's real photos."""

    kind = "fid"
    Settings = FidSettings
    entry_type = FidEntry
    reference_input = "photo"
    real_row = REAL_ROW
    centred_scores = ("fid",)
    default_batch_size = 32
    run_direction = "AtoB"
    states = (FEATURES,)

    def __init__(self, inception, settings: FidSettings, n_reference: int):
        self.inception, self.settings, self.n_reference = inception, settings, n_reference
        self.device = inception.device
        self._reference: tuple[tuple[str, ...], GaussianStats] | None = None
        # Per row (by its states' id, the states kept alive with it): what `point_scores` computed
        # for the entry's own fields (`entry_fields`).
        self._point: dict[int, tuple[FrameStates, KernelDistance | None, FrechetInfinity | None]] = {}

    @classmethod
    def open(cls, settings: FidSettings, dataset: PreparedDataset, split: str) -> "Fid":
        n_reference = len(dataset.frames(split))
        if n_reference < 2:
            raise InputError(f"{dataset.root}: split {split!r} has {n_reference} real photo(s); FID needs the "
                             "statistics of at least 2 (and is biased below 2,000). Score a larger split.")
        if settings.infinity and n_reference <= settings.infinity_min_size:  # no run can have more frames
            raise InputError(
                f"{dataset.root}: split {split!r} has {n_reference} frames, so no run has more than "
                f"--infinity-min-size {settings.infinity_min_size} to fit FID-infinity from. Leave out --infinity, "
                f"or lower --infinity-min-size below {n_reference} (FID_N may not be linear in 1/N there).")
        return cls(load_inception(settings.features, device=pick_device(str(settings.device))), settings, n_reference)

    def namespace(self) -> str:
        # Device type too: features are floats, and a GPU's differ from the CPU's in the last bits.
        return namespace("fid", weights=self.inception.sha256, resize=self.settings.resize, layer="pool3-2048",
                         network="torch-fidelity FeatureExtractorInceptionV3", precision="fp32",
                         device=self.device.type)

    def reference_frames(self, split_frames: Sequence[str], scored: Sequence[str]) -> Sequence[str]:
        return split_frames  # the whole split: a run's FID does not depend on which frames it has

    def check_record(self, record: np.void, frame: Frame) -> str | None:
        """Inception pool features are finite and, after a ReLU and average pooling, never negative."""
        features = record[FEATURES.name]
        if not np.isfinite(features).all() or (features < 0).any():
            return "its features are not all finite and non-negative, as pooled ReLU outputs are"
        return None

    def computing(self):
        self.inception.network.eval()
        return exact_fp32()

    def load(self, image: Path, frame: Frame) -> Loaded:
        """Decode and resize by the protocol, here in the decoding threads (one image at a time)."""
        rgb, mode = decode_rgb(image)
        return Loaded(inception_batch([rgb], self.settings.resize)[0], mode)

    def update(self, batch: Sequence[torch.Tensor], *, batch_size: int) -> dict[str, np.ndarray]:
        x = torch.stack(list(batch))
        n = len(batch)
        if self.device.type == "cuda":
            # One batch size for every forward pass: cuDNN may pick other kernels for another
            # size. (On the CPU a frame's features were checked not to depend on its batch.)
            x = torch.cat([x, x.new_zeros((batch_size - n, *x.shape[1:]))]).pin_memory()
        features = self.inception.forward_batch(x.to(self.device, non_blocking=True))[:n]
        return {"features": features.cpu().numpy()}

    def _reference_stats(self, reference: FrameStates) -> GaussianStats:
        if self._reference is None or self._reference[0] != reference.frames:
            self._reference = (reference.frames, gaussian_stats(reference["features"]))
        return self._reference[1]

    def compute(self, states: FrameStates, weights: np.ndarray, reference: FrameStates | None) -> dict[str, np.ndarray]:
        return {"fid": resampled_frechet_distances(states["features"], self._reference_stats(reference), weights)}

    def point_scores(self, states: FrameStates, reference: FrameStates | None,
                     bootstrap: Bootstrap) -> dict[str, float | None]:
        s = self.settings
        kid = self._kernel_distance(states["features"], reference["features"]) if s.kid else None
        infinity = None
        if s.infinity:  # the features FID used; `check_rows` refused rows of too few frames
            infinity = frechet_infinity(states["features"], self._reference_stats(reference),
                                        min_size=s.infinity_min_size, num_points=s.infinity_points,
                                        seed=bootstrap.seed)
        self._point[id(states)] = (states, kid, infinity)
        return {"kid": None if kid is None else kid.mean, "fid_infinity": None if infinity is None else infinity.value}

    def _kernel_distance(self, features: np.ndarray, reference: np.ndarray) -> KernelDistance:
        s = self.settings
        return kernel_distance(features, reference, subsets=s.kid_subsets, subset_size=s.kid_subset_size,
                               seed=s.kid_seed)

    def entry_fields(self, row) -> dict[str, Any]:
        _, kid, infinity = self._point.pop(id(row.states), (None, None, None))
        return {**_kid_fields(kid), **_infinity_fields(infinity, self.settings),
                "warnings": self._warnings(len(row.states), kid, infinity)}

    def _warnings(self, n_frames: int, kid: KernelDistance | None,
                  infinity: FrechetInfinity | None = None) -> tuple[str, ...]:
        messages = sample_size_warnings(min(n_frames, self.n_reference), FEATURE_DIM, min_images=MIN_IMAGES_FOR_FID)
        if kid is not None and kid.subset_size < kid.requested_subset_size:
            messages += (f"KID subset size reduced from {kid.requested_subset_size} to {kid.subset_size} "
                         f"({n_frames} generated, {self.n_reference} real frames).",)
        if kid is not None and kid.subset_size == n_frames == self.n_reference:
            messages += ("Every KID subset holds all frames of both sets: KID's std over subsets is 0 and says "
                         "nothing about its uncertainty.",)
        if infinity is not None and self.settings.infinity_min_size < MIN_SIZE:
            messages += (self._low_min_size(),)
        return messages

    def _low_min_size(self) -> str:
        return (f"FID-infinity fitted from N = {self.settings.infinity_min_size} (< {MIN_SIZE}, Chong & Forsyth's "
                "smallest): FID_N may not be linear in 1/N there, so the intercept may be off.")

    def check_rows(self, rows: Sequence) -> None:
        """Refuse a row of fewer than 2 frames (or, with --infinity, of no more than its min size); warn, once
        per frame count, about FID's small-N bias."""
        small = [f"{row.name} ({len(row.states)})" for row in rows if len(row.states) < 2]
        if small:
            raise InputError(f"FID needs at least 2 frames per run (a covariance), got: {', '.join(small)}. "
                             "Generate the whole split, or score without --allow-missing.")
        s = self.settings
        few = [f"{row.name} ({len(row.states)})" for row in rows if len(row.states) <= s.infinity_min_size]
        if s.infinity and few:
            raise InputError(
                f"FID-infinity needs more than --infinity-min-size {s.infinity_min_size} frames per run, got: "
                f"{', '.join(few)}. Generate the whole split, leave out --infinity, or lower --infinity-min-size "
                "below the smallest N (FID_N may not be linear in 1/N there).")
        if s.infinity and s.infinity_min_size < MIN_SIZE:
            log.warning("%s", self._low_min_size())
        counts = sorted({len(row.states) for row in rows})
        for count in counts:
            for message in sample_size_warnings(min(count, self.n_reference), FEATURE_DIM):
                log.warning("%s", message)
        if len(counts) > 1:
            log.warning("The runs have different numbers of frames (%s): FID's bias depends on N, so their FIDs "
                        "are not comparable; the paired tests use the frames both runs have.",
                        ", ".join(f"{row.name} {len(row.states)}" for row in rows))

    def real_entry(self, reference: FrameStates, bootstrap: Bootstrap) -> FidEntry:
        features = reference["features"]
        n = len(reference)
        if n < 4:
            log.warning("The split has %d real photos: too few to split into halves; the ground-truth row is "
                        "empty.", n)
            return FidEntry(name=GROUND_TRUTH, scores={"fid": None, "kid": None, "fid_infinity": None}, intervals={},
                            is_real=True,
                            n_images=n, warnings=(f"{n} real photos: too few for a split-half FID (needs 4).",))
        distances = split_half_frechet(features, n_splits=REAL_SPLITS, seed=bootstrap.seed)
        low, high = percentile_interval(distances, bootstrap.confidence)
        kid = None
        if self.settings.kid:
            first = split_half_masks(n, REAL_SPLITS, bootstrap.seed)[0]  # split_half_frechet's first split
            kid = self._kernel_distance(features[first], features[~first])
        return FidEntry(
            # No FID-infinity: the halves are not a run's frames against the whole split's statistics.
            name=GROUND_TRUTH, scores={"fid": float(np.median(distances)), "kid": None if kid is None else kid.mean,
                                       "fid_infinity": None},
            intervals={"fid": (low, high)}, is_real=True, n_images=n, **_kid_fields(kid),
            warnings=sample_size_warnings(n // 2, FEATURE_DIM),
        )

    def data(self, reference: FrameStates | None) -> dict[str, Any]:
        return {"reference": {"input": "photo", "frames": "the whole split", "n_frames": len(reference)}}

    def protocol(self) -> dict[str, Any]:
        inception, s = self.inception, self.settings
        return {
            "features": {
                "network": "FID Inception v3 (TensorFlow's 2015-12-05 graph), torch-fidelity "
                           "FeatureExtractorInceptionV3 loaded from the file, 2048-d average pool",
                "path": str(inception.path), "sha256": inception.sha256, "published": inception.is_published,
                "published_file": PUBLISHED_FILE, "published_sha256_prefix": PUBLISHED_SHA256_PREFIX,
            },
            "resize": s.resize,
            "precision": "fp32, autocast off" + (", TF32 off" if self.device.type == "cuda" else ""),
            "device": self.device.type,
            "reference": "the real photos of the whole split; their statistics are held fixed in the bootstrap",
            "fid": {"min_images": MIN_IMAGES_FOR_FID, "interval": FID_INTERVAL, "paired_test": PAIRED_TEST},
            "kid": {"subsets": s.kid_subsets, "subset_size": s.kid_subset_size, "seed": s.kid_seed,
                    "kernel": "(x.y / d + 1)^3", "estimate": "unbiased MMD^2, mean over subsets; std = np.std"}
                   if s.kid else None,
            "infinity": {"min_size": s.infinity_min_size, "points": s.infinity_points, "fit": INFINITY_FIT,
                         "seed": "protocol.bootstrap.seed"} if s.infinity else None,
            "bootstrap": {"centred": list(self.centred_scores)},
        }


def _kid_fields(kid: KernelDistance | None) -> dict[str, Any]:
    if kid is None:
        return {"kid_std": None, "kid_subsets": None, "kid_subset_size": None}
    return {"kid_std": kid.std, "kid_subsets": kid.subsets, "kid_subset_size": kid.subset_size}


def _infinity_fields(infinity: FrechetInfinity | None, settings: FidSettings) -> dict[str, Any]:
    if infinity is None:
        return {}  # the entry's defaults: all null
    return {"fid_infinity_slope": infinity.slope, "fid_infinity_min_size": settings.infinity_min_size,
            "fid_infinity_points": settings.infinity_points,
            "fid_infinity_sizes": tuple(int(n) for n in infinity.sizes),
            "fid_infinity_distances": tuple(float(d) for d in infinity.distances)}


MEASURE = Fid
