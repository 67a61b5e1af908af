"""From scored rows to typed results entries: scores, bootstrap intervals, baseline tests.

Pure functions of the per-frame states (`p2p_eval.measures.states.FrameStates`)
and the measure's `compute`; nothing here reads an image again.
"""

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from p2p_eval.measures.base import Measure
from p2p_eval.measures.states import FrameStates
from p2p_eval.results.entries import RunEntry
from p2p_eval.results.scores import BaselineTest
from p2p_eval.session.checks import size_counts
from p2p_eval.stats import Bootstrap, bootstrap_scores, paired_bootstrap_test

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ScoredRow:
    """One row of a scoring: a run (or the real images) and its per-frame states.

    Attributes
    ----------
    name, variant, preset : str, str or None, str or None
    is_real : bool
        The ground-truth row (the dataset's own real images, scored as a run).
    states : FrameStates
    images : tuple of Path
        The image of each frame, aligned with ``states.frames`` (for messages).
    matching : dict or None
        How the run's images were paired with frames (`p2p_eval.data.matching.RunMatch`).
    run_protocol : dict or None
        How a p2p-eval run's images were made (run.json: schedule, quantize ...).
    """

    name: str
    variant: str | None
    preset: str | None
    is_real: bool
    states: FrameStates
    images: tuple[Path, ...]
    matching: dict[str, Any] | None = None
    run_protocol: dict[str, Any] | None = None


def _finite(value: float) -> float | None:
    """A score as results files hold it: None where it does not exist (NaN)."""
    return None if math.isnan(value) else value


def row_entry(
    measure: Measure, row: ScoredRow, bootstrap: Bootstrap, reference: FrameStates | None,
    baseline: ScoredRow | None = None,
) -> RunEntry:
    """The results entry of one row.

    Parameters
    ----------
    measure : Measure
    row : ScoredRow
    bootstrap : Bootstrap
        Percentile intervals over the row's frames.
    reference : FrameStates or None
        The measure's reference states (`Measure.reference_input`).
    baseline : ScoredRow, optional
        Paired bootstrap test of `row` against it, over the frames both have
        (none when `row` is the baseline).
    """
    intervals = bootstrap_scores(lambda w: measure.compute(row.states, w, reference), len(row.states),
                                 n_resamples=bootstrap.resamples, seed=bootstrap.seed,
                                 confidence=bootstrap.confidence, centred=measure.centred_scores)
    test = None
    if baseline is not None and baseline.name != row.name:
        test = baseline_test(measure, row, baseline, bootstrap, reference)
    return measure.entry_type(
        name=row.name,
        scores={**{key: _finite(i.value) for key, i in intervals.items()},
                **measure.point_scores(row.states, reference, bootstrap)},
        intervals={key: (_finite(i.low), _finite(i.high)) for key, i in intervals.items()},
        variant=row.variant, preset=row.preset, is_real=row.is_real, n_images=len(row.states),
        image_sizes=tuple(size_counts(row.states["image_size"])), baseline_test=test, matching=row.matching,
        run_protocol=row.run_protocol, **measure.entry_fields(row),
    )


def baseline_test(
    measure: Measure, row: ScoredRow, baseline: ScoredRow, bootstrap: Bootstrap, reference: FrameStates | None
) -> BaselineTest:
    """Paired bootstrap of `row` - `baseline` on the frames both have (the same frames drawn for both)."""
    theirs = set(baseline.states.frames)
    shared = [f for f in row.states.frames if f in theirs]
    if len(shared) < len(row.states) or len(shared) < len(baseline.states):
        log.warning("run %r vs baseline %r: tested on the %d frame(s) both have.", row.name, baseline.name,
                    len(shared))
    if not shared:
        return BaselineTest(baseline.name, 0)
    ours, base = row.states.select(shared), baseline.states.select(shared)
    tests = paired_bootstrap_test(
        lambda w: measure.compute(ours, w, reference), lambda w: measure.compute(base, w, reference), len(shared),
        n_resamples=bootstrap.resamples, seed=bootstrap.seed, confidence=bootstrap.confidence,
        centred=measure.centred_scores,
    )
    return BaselineTest(baseline.name, len(shared), tests)
