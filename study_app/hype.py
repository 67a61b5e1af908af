"""HYPE scores from per-trial records, with bootstrap intervals over raters and model comparisons.

HYPE (Zhou, Gordon et al., NeurIPS 2019) scores a model by single-image
real/fake judgements, one model per rater (between subjects):

- **HYPE-inf** (`hype-inf`): unlimited viewing; the score is the error rate
  over all of the model's scored trials (fakes taken for real and reals taken
  for fake), with the error on fakes and on reals reported separately. Above
  50% reads "hyper-real": raters called the fakes real more often than the reals.
- **HYPE-time** (`hype-time`): exposures follow a staircase
  (`study_app.staircase`); per block, the modal requested exposure
  (`modal_exposure`); a rater's score is the mean over blocks, the model's
  the mean over raters, in ms.

Intervals resample raters with replacement (10,000 times, seeded), as HYPE;
``bootstrap_sd`` is the SD of those replicates. Between models: the bootstrap
tests of `study_app.comparisons` beside HYPE's ANOVA/Tukey HSD or t-test on
per-rater scores. Every function here is pure; `study_app.records` reads files.
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from p2p_eval.errors import InputError
from p2p_eval.measures import entry_type
from p2p_eval.measures.hype_time.entry import STAIRCASE_MS
from p2p_eval.resampling import resample_weights, resampled_sums
from p2p_eval.stats import DEFAULT_CONFIDENCE, percentile_interval
from study_app.comparisons import bootstrap_sd, classical_tests, pairwise_bootstrap
from study_app.records import HYPE_PROTOCOLS, PHASES, TrialRecord, exclusion_counts

log = logging.getLogger(__name__)

SCORES = {protocol: entry_type(protocol).score_keys() for protocol in HYPE_PROTOCOLS}
"""Score fields of each protocol's run entries, as its entry type declares them; the first is the HYPE score."""
DEFAULT_RESAMPLES = 10_000  # HYPE: "10,000 iterations"
MODE_DECIMALS = 3  # exposures are grouped for the mode after rounding to 0.001 ms (CSV round trips)


def modal_exposure(exposures_ms: Sequence[float] | np.ndarray) -> float:
    """The most frequent exposure of a block; a tie is broken by the mean of the tied exposures.

    HYPE does not say how ties between modes are broken; the mean of the tied
    values leans neither up nor down the staircase.

    Parameters
    ----------
    exposures_ms : (N,) array_like of float
        Requested exposures of one block's scored trials, N >= 1.

    Examples
    --------
    >>> modal_exposure([500, 470, 470, 480])
    470.0
    >>> modal_exposure([470, 480, 470, 480, 500])
    475.0
    """
    values = np.round(np.asarray(exposures_ms, dtype=np.float64), MODE_DECIMALS)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"Expected a non-empty 1-d sequence of exposures, got shape {values.shape}.")
    levels, counts = np.unique(values, return_counts=True)
    return float(levels[counts == counts.max()].mean())


def hype_inf_scores(state: np.ndarray) -> dict[str, np.ndarray]:
    """HYPE-inf scores of summed counts ``[fake_errors, n_fake, real_errors, n_real]`` (last axis).

    Returns
    -------
    scores : dict of str to ndarray
        ``hype_inf`` (all errors / all trials), ``fake_error``, ``real_error``;
        NaN where a denominator is 0.
    """
    state = np.asarray(state, dtype=np.float64)
    fake_errors, n_fake, real_errors, n_real = np.moveaxis(state, -1, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"hype_inf": (fake_errors + real_errors) / (n_fake + n_real),
                "fake_error": fake_errors / n_fake, "real_error": real_errors / n_real}


def hype_time_scores(state: np.ndarray) -> dict[str, np.ndarray]:
    """HYPE-time of summed ``[rater_score_ms, 1]`` (last axis): the mean over raters."""
    state = np.asarray(state, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"hype_time_ms": state[..., 0] / state[..., 1]}


SCORERS = {"hype-inf": hype_inf_scores, "hype-time": hype_time_scores}


def rater_states(records: Sequence[TrialRecord], protocol: str) -> dict[str, dict[str, np.ndarray]]:
    """Each rater's additive state from their scored trials, per algorithm (first-seen order).

    Returns
    -------
    states : dict of str to dict of str to ndarray
        ``states[algorithm][rater]``: hype-inf ``[fake_errors, n_fake,
        real_errors, n_real]``; hype-time ``[mean over blocks of
        modal_exposure, 1]``. Raters without a scored trial are absent.
    """
    _check_protocol(records, protocol)
    trials: dict[str, dict[str, list[TrialRecord]]] = {
        algorithm: defaultdict(list) for algorithm in dict.fromkeys(r.algorithm for r in records)
    }  # every algorithm, first seen first, even one with nothing scored
    for record in records:
        if record.scored:
            trials[record.algorithm][record.rater].append(record)
    return {algorithm: {rater: _state(mine, protocol) for rater, mine in raters.items()}
            for algorithm, raters in trials.items()}


def _state(trials: list[TrialRecord], protocol: str) -> np.ndarray:
    if protocol == "hype-inf":
        fakes = [t for t in trials if t.is_fake]
        reals = [t for t in trials if not t.is_fake]
        return np.array([sum(not t.correct for t in fakes), len(fakes),
                         sum(not t.correct for t in reals), len(reals)], dtype=np.float64)
    blocks: dict[int, list[float]] = defaultdict(list)
    for t in trials:
        blocks[t.block].append(t.exposure_ms)
    return np.array([np.mean([modal_exposure(b) for b in blocks.values()]), 1.0])


def _check_protocol(records: Sequence[TrialRecord], protocol: str) -> None:
    if protocol not in HYPE_PROTOCOLS:
        raise ValueError(f"Expected `protocol` to be one of {HYPE_PROTOCOLS}, got {protocol!r}.")
    main = [r for r in records if r.phase == "main"]
    if protocol == "hype-time":
        low, high = STAIRCASE_MS
        bad = [r for r in main if r.exposure_ms is None or not low <= r.exposure_ms <= high]
        fix = (f"hype-time needs every main trial's requested exposure_ms, within the staircase's {low:g}-{high:g} "
               f"ms (the first has {bad[0].exposure_ms if bad else None})")
    else:
        bad = [r for r in main if r.exposure_ms is not None]
        fix = "hype-inf trials have unlimited viewing and no exposure_ms; is this a hype-time study?"
    if bad:
        raise InputError(f"{len(bad)} main trial(s) (first: rater {bad[0].rater!r}, algorithm {bad[0].algorithm!r}, "
                         f"block {bad[0].block}) do not fit {protocol}: {fix}")


def rater_bootstrap(per_rater: np.ndarray, protocol: str, *, n_resamples: int, seed: int) -> dict[str, np.ndarray]:
    """Bootstrap replicates of the scores, resampling raters with replacement.

    Parameters
    ----------
    per_rater : (R, K) ndarray
        Stacked `rater_states` of one algorithm.
    protocol : {"hype-inf", "hype-time"}
    n_resamples, seed : int

    Returns
    -------
    replicates : dict of str to (n_resamples,) ndarray
    """
    weights = resample_weights(len(per_rater), n_resamples, seed)
    return SCORERS[protocol](resampled_sums(per_rater, weights))


def hype_entries(
    records: Sequence[TrialRecord], protocol: str, *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run entries (one per algorithm) and the between-model tests.

    Algorithm i resamples with seed ``seed + i``. See README "Results files"
    for the fields.

    Returns
    -------
    runs : list of dict
    comparisons : dict
        `study_app.comparisons.classical_tests` on per-rater HYPE scores.
    """
    states = rater_states(records, protocol)
    keys = SCORES[protocol]
    entries, replicates, per_rater_scores = [], {}, {}
    for i, (algorithm, raters) in enumerate(states.items()):
        mine = [r for r in records if r.algorithm == algorithm and r.phase == "main"]
        everyone = {r.rater for r in mine}
        entry: dict[str, Any] = {
            "name": algorithm, "n_raters": len(raters), "n_raters_excluded": len(everyone - set(raters)),
            "n_trials": sum(r.scored for r in mine), "n_trials_excluded": sum(not r.scored for r in mine),
            **{key: None for key in keys}, "bootstrap_sd": None, "intervals": {},
            "rater_sd": None, "pairwise": [],
        }
        if protocol == "hype-inf":
            entry.update(n_fake=sum(r.scored and r.is_fake for r in mine),
                         n_real=sum(r.scored and not r.is_fake for r in mine), hyper_real=None)
        else:
            entry["n_blocks"] = len({(r.rater, r.block) for r in mine if r.scored})
        if raters:
            stacked = np.stack(list(raters.values()))
            point = SCORERS[protocol](stacked.sum(axis=0))
            boot = rater_bootstrap(stacked, protocol, n_resamples=n_resamples, seed=seed + i)
            scores = _per_rater_score(stacked, protocol)
            per_rater_scores[algorithm] = scores
            replicates[algorithm] = (float(point[keys[0]]), boot[keys[0]])
            entry.update({key: _number(point[key]) for key in keys})
            entry.update(bootstrap_sd=bootstrap_sd(boot[keys[0]]),
                         intervals={key: list(percentile_interval(boot[key], confidence)) for key in keys},
                         rater_sd=float(np.std(scores, ddof=1)) if len(scores) > 1 else None)
            if protocol == "hype-inf":
                entry["hyper_real"] = entry["hype_inf"] > 0.5
        entries.append(entry)
    pairwise = pairwise_bootstrap(replicates, confidence)
    for entry in entries:
        entry["pairwise"] = pairwise.get(entry["name"], [])
    return entries, classical_tests(per_rater_scores, confidence)


def _per_rater_score(stacked: np.ndarray, protocol: str) -> np.ndarray:
    """Each rater's own HYPE score: error rate, or mean modal exposure."""
    return SCORERS[protocol](stacked)[SCORES[protocol][0]]


def _number(value: np.ndarray) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def record_summary(records: Sequence[TrialRecord]) -> dict[str, Any]:
    """What the records held and what each exclusion rule removed.

    Returns
    -------
    summary : dict
        ``n_records``; ``phases`` (trials per phase: only ``main`` is scored);
        ``exclusions``: per rule, the main ``trials`` it marks and the
        ``raters`` it removes (raters whose main trials are all excluded, one
        of them by this rule); ``raters_in_several_algorithms`` (the tests
        assume each rater judged one model).
    """
    exclusions = exclusion_counts(((r.algorithm, r.rater), r.excluded) for r in records if r.phase == "main")
    algorithms_of: dict[str, set[str]] = defaultdict(set)
    for r in records:
        algorithms_of[r.rater].add(r.algorithm)
    several = sorted(rater for rater, names in algorithms_of.items() if len(names) > 1)
    if several:
        log.warning("%d rater(s) judged several algorithms (e.g. %r); HYPE's tests assume one model per rater.",
                    len(several), several[0])
    return {"n_records": len(records), "phases": {p: sum(r.phase == p for r in records) for p in PHASES},
            "exclusions": exclusions, "raters_in_several_algorithms": several}
