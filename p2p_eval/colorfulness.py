"""The colorfulness pipeline: Lab histograms of runs against the real photos, with intervals.

For each run, the marginal L*, a*, b* histograms over all pixels of its
generated images are intersected with those of the real photos of the same
frames (pix2pix v3 Figure 7 / CVPR Figure 6). Per-frame histograms are the
additive state: they are cached per image (`p2p_eval.cache`), so re-runs and
interrupted runs are incremental, and bootstrap replicates are weighted sums of
them (`p2p_eval.stats`), so no image is read twice.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from p2p_eval.cache import ItemCache, cache_path_for, namespace
from p2p_eval.data.image_histograms import cached_histograms, resized_images
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.data.runs import Run, match_frames
from p2p_eval.errors import InputError
from p2p_eval.metrics.colorfulness import CHANNELS, DEFAULT_BINNING, Binning, channel_intersections
from p2p_eval.paper import GROUND_TRUTH
from p2p_eval.results import results_document
from p2p_eval.stats import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    bootstrap_scores,
    paired_bootstrap_test,
    percentile_interval,
)

log = logging.getLogger(__name__)

LAB_CONVERSION = "CIE L*a*b*, D65 white, 2 degree observer, constants of skimage.color.rgb2lab"
REAL_ROW = (
    "split-half self-comparison: the frames are split at random into two halves and the real "
    "photos' histograms of one half are intersected with the other's; the value is the median "
    "over the random splits, the interval their 2.5-97.5 percentiles. (The real photos against "
    "themselves would give 1 by definition.)"
)


@dataclass(frozen=True)
class ColorfulnessConfig:
    """How colorfulness is measured; built and checked once by the CLI."""

    split: str = "val"
    binning: Binning = DEFAULT_BINNING
    with_real: bool = False
    baseline: str | None = None  # name of the run the others are tested against
    n_resamples: int = DEFAULT_RESAMPLES
    seed: int = 0
    confidence: float = DEFAULT_CONFIDENCE
    allow_missing: bool = False
    workers: int = 1
    progress: bool = True  # tqdm bars on stderr

    def __post_init__(self):
        if self.n_resamples < 1:
            raise ValueError(f"Expected `n_resamples` >= 1, got {self.n_resamples}.")
        if self.workers < 1:
            raise ValueError(f"Expected `workers` >= 1, got {self.workers}.")


def split_half_intersections(
    per_frame: np.ndarray, binning: Binning, *, n_splits: int, seed: int, confidence: float = DEFAULT_CONFIDENCE
) -> dict[str, tuple[float, float, float]]:
    """Intersection of the histograms of two random halves of the frames.

    Parameters
    ----------
    per_frame : (N, binning.total) array_like
        Histograms of the real photos, one row per frame.
    n_splits, seed : int
        Random splits into halves of N // 2 and N - N // 2 frames.

    Returns
    -------
    scores : dict of {"L", "a", "b"} to (median, low, high)
        NaN when there are fewer than two frames.
    """
    per_frame = np.asarray(per_frame, dtype=np.float64)
    n = len(per_frame)
    if n < 2:
        return {name: (float("nan"),) * 3 for name in CHANNELS}
    rng = np.random.default_rng(seed)
    ranks = rng.permuted(np.tile(np.arange(n), (n_splits, 1)), axis=1)
    first_half = (ranks < n // 2).astype(np.float64)  # (n_splits, N)
    scores = channel_intersections(first_half @ per_frame, (1 - first_half) @ per_frame, binning)
    return {name: (float(np.median(s)), *percentile_interval(s, confidence)) for name, s in scores.items()}


def _scorer(binning: Binning):
    """Bootstrap scorer of per-frame state ``[generated counts, real counts]``."""

    def score(state: np.ndarray) -> dict[str, np.ndarray]:
        return channel_intersections(state[:, : binning.total], state[:, binning.total :], binning)

    return score


@dataclass(frozen=True)
class _RunState:
    run: Run
    frames: list[str]
    generated: np.ndarray  # (N, total) per-frame histograms
    n_resized: int


def measure_colorfulness(runs: Sequence[Run], dataset: PreparedDataset, config: ColorfulnessConfig) -> dict[str, Any]:
    """Score every run against the real photos of its frames.

    Returns
    -------
    document : dict
        A results document of kind ``"colorfulness"`` (`p2p_eval.results`):
        per-run entries as in the README, ``data.reference`` the real photos'
        histograms over the frames of all runs, ``protocol.binning`` the bins.

    Raises
    ------
    InputError
        For runs without images, frames without images (unless
        ``allow_missing``), unreadable images, or a baseline that names no run.
    """
    names = [r.name for r in runs]
    if config.baseline is not None and config.baseline not in names:
        raise InputError(f"--baseline {config.baseline!r} is none of the runs given: {names}.")
    binning, size = config.binning, dataset.image_size
    space = namespace("colorfulness", bins=binning.bins, size=size, resize="bilinear", lab=LAB_CONVERSION)
    matches = [match_frames(run, dataset.frames(config.split), config.split, allow_missing=config.allow_missing)
               for run in runs]  # all bad input is reported before any long work starts
    matched = {frame for pairs in matches for frame, _ in pairs}
    used = [f for f in dataset.frames(config.split) if f in matched]
    photos = [dataset.path(config.split, f, "photo") for f in used]
    missing = [p for p in photos if not p.is_file()]
    if missing:
        raise InputError(f"{dataset.root}: {len(missing)} real photo(s) of split {config.split!r} are missing, "
                         f"e.g. {[str(p) for p in missing[:3]]}. Re-run the `p2p-eval prepare` command that "
                         "made this dataset (it resumes).")
    states = []
    for run, pairs in zip(runs, matches):
        frames, paths = zip(*pairs)
        resized = resized_images(paths, size)
        if resized:
            log.warning("run %r: %d of %d image(s) are not %dx%d (e.g. %s); resized with Pillow bilinear "
                        "to the real photos' size.", run.name, len(resized), len(paths), size[0], size[1], resized[0])
        with ItemCache(cache_path_for(run.root), space) as cache:
            generated = cached_histograms(paths, cache, binning, size, workers=config.workers, desc=run.name,
                                          progress=config.progress)
        states.append(_RunState(run, list(frames), generated, len(resized)))
    with ItemCache(cache_path_for(dataset.root), space) as cache:
        real = dict(zip(used, cached_histograms(photos, cache, binning, None, workers=config.workers,
                                                desc="real photos", progress=config.progress)))
    entries = [_run_entry(s, real, states, config) for s in states]
    if config.with_real:
        entries.append(_real_entry(np.stack([real[f] for f in used]), config))
    data = {
        "dataset": str(dataset.root), "dataset_name": dataset.name, "split": config.split,
        "n_frames": len(used), "frames": used,
        "reference": {c: h.tolist() for c, h in binning.split(sum(real.values())).items()},
    }
    return results_document("colorfulness", entries, protocol=protocol(config, size), data=data)


def _run_entry(state: _RunState, real: dict[str, np.ndarray], states: list[_RunState],
               config: ColorfulnessConfig) -> dict[str, Any]:
    score = _scorer(config.binning)
    reference = np.stack([real[f] for f in state.frames])
    boot = dict(n_resamples=config.n_resamples, seed=config.seed, confidence=config.confidence)
    intervals = bootstrap_scores(np.hstack([state.generated, reference]), score, **boot)
    entry = {
        "name": state.run.name,
        "variant": state.run.meta.get("variant"),
        "preset": state.run.meta.get("preset"),
        "is_real": False,
        "n_images": len(state.frames),
        **{c: intervals[c].value for c in CHANNELS},
        "intervals": {c: intervals[c].as_list() for c in CHANNELS},
        "baseline_test": None,
        "n_resized": state.n_resized,
        "histograms": {c: h.tolist() for c, h in config.binning.split(state.generated.sum(axis=0)).items()},
    }
    baseline = next((s for s in states if s.run.name == config.baseline), None)
    if baseline is not None and baseline is not state:
        common = [f for f in state.frames if f in set(baseline.frames)]
        if len(common) < len(state.frames) or len(common) < len(baseline.frames):
            log.warning("run %r vs baseline %r: tested on the %d frame(s) both have.",
                        state.run.name, baseline.run.name, len(common))
        ours = dict(zip(state.frames, state.generated))
        theirs = dict(zip(baseline.frames, baseline.generated))
        tests = paired_bootstrap_test(
            np.stack([np.concatenate([ours[f], real[f]]) for f in common]),
            np.stack([np.concatenate([theirs[f], real[f]]) for f in common]),
            score, **boot,
        )
        entry["baseline_test"] = {"baseline": baseline.run.name, "n_frames": len(common),
                                  **{c: tests[c].as_dict() for c in CHANNELS}}
    return entry


def _real_entry(real: np.ndarray, config: ColorfulnessConfig) -> dict[str, Any]:
    halves = split_half_intersections(real, config.binning, n_splits=config.n_resamples, seed=config.seed,
                                      confidence=config.confidence)
    return {
        "name": GROUND_TRUTH, "variant": None, "preset": None, "is_real": True, "n_images": len(real),
        **{c: halves[c][0] for c in CHANNELS},
        "intervals": {c: list(halves[c][1:]) for c in CHANNELS},
        "baseline_test": None,
        "histograms": {c: h.tolist() for c, h in config.binning.split(real.sum(axis=0)).items()},
    }


def protocol(config: ColorfulnessConfig, size: tuple[int, int]) -> dict[str, Any]:
    """How the numbers were made, for the results document."""
    return {
        "color_space": LAB_CONVERSION,
        "marginals": "per channel, over all pixels of all matched frames' images",
        "intersection": "sum over bins of min(p, q), p and q the histograms normalised to sum 1",
        "binning": config.binning.as_dict(),
        "resolution": list(size),
        "resize": "generated images of another size are resized to the real photos' size, Pillow bilinear "
                  "(n_resized per run)",
        "bootstrap": {"resamples": config.n_resamples, "seed": config.seed, "confidence": config.confidence,
                      "unit": "frame", "interval": "percentile",
                      "reference": "the real photos are resampled with the same frames (paired)"},
        "baseline": config.baseline,
        "real_row": REAL_ROW if config.with_real else None,
    }
