"""The shared scoring session: runs x measure -> one typed results document.

`score_runs` is what every measure's subcommand does between parsing
arguments and printing, and what ``p2p_eval.score`` does from a notebook:
find the runs, refuse runs of the other direction, take the dataset from
their ``run.json`` unless given, refuse runs whose images were generated from
other data (`p2p_eval.session.checks`), match every run's images to the
split's frames (all bad input is reported before any long work starts), open
the measure on the dataset, compute every row's
per-frame states (`p2p_eval.session.engine`: cached, sharded when told),
score them with bootstrap intervals and paired tests against the baseline
(`p2p_eval.session.rows`) and build the document.
"""

import functools
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from p2p_eval.cache import cache_path_for
from p2p_eval.data.files import printable
from p2p_eval.data.matching import RunMatch, match_run
from p2p_eval.data.numbered import NUMBERINGS
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.data.runs import Run, discover_runs, recorded_dataset
from p2p_eval.distributed import SINGLE, Distributed
from p2p_eval.errors import InputError
from p2p_eval.measures import measure_class
from p2p_eval.measures.base import Frame, Measure
from p2p_eval.paper import GROUND_TRUTH
from p2p_eval.results.document import Results
from p2p_eval.session.checks import check_directions, check_generated_from, check_outputs_not_inputs, warn_image_sizes
from p2p_eval.session.engine import compute_states
from p2p_eval.session.rows import ScoredRow, row_entry
from p2p_eval.stats import Bootstrap

log = logging.getLogger(__name__)

FILE_NAMES = {"photo": "real photo", "color": "colour label map", "trainids": "trainIds map"}
"""How messages name a prepared dataset's files."""


@dataclass(frozen=True)
class SessionConfig:
    """What every measure's session depends on besides the measure's own settings, validated once.

    Attributes
    ----------
    runs : tuple of str
        Run folders, or folders of runs.
    data : str or None
        The prepared dataset; None: the one the runs' ``run.json`` record.
    split : str
    with_real : bool
        Add the ground-truth row.
    baseline : str or None
        A scored run's name, or a run folder (scored too): every other row
        gets a paired bootstrap test against it.
    allow_missing : bool
        Score the frames a run has instead of refusing a run with missing or extra images.
    numbering : {0, 1} or None
        For numbered PyTorch pix2pix results: the number of the first frame
        (`p2p_eval.data.numbered`); None: identified by content.
    batch_size : int or None
        Frames per batch; None: the measure's default.
    workers : int
        Decoding threads (0: decode in the main thread).
    bootstrap : Bootstrap
    progress : bool
        Progress bars on stderr.
    outputs : tuple of (str or None, str)
        The files the command will write, with their options (``--json``):
        refused if one names a file the session reads.
    """

    runs: tuple[str, ...]
    data: str | None = None
    split: str = "val"
    with_real: bool = False
    baseline: str | None = None
    allow_missing: bool = False
    numbering: int | None = None
    batch_size: int | None = None
    workers: int = 2
    bootstrap: Bootstrap = field(default_factory=Bootstrap)
    progress: bool = True
    outputs: tuple[tuple[str | None, str], ...] = ()

    def __post_init__(self):
        if not self.runs:
            raise ValueError("Expected at least one run folder.")
        if (self.batch_size is not None and self.batch_size < 1) or self.workers < 0:
            raise ValueError(f"Expected --batch-size >= 1 and --workers >= 0, got {self.batch_size} and {self.workers}.")
        if self.numbering not in (None, *NUMBERINGS):
            raise ValueError(f"Expected --numbering in {NUMBERINGS}, got {self.numbering!r}.")


def score_runs(kind: str, settings: Any, config: SessionConfig, *, distributed: Distributed = SINGLE) -> Results:
    """Score every run of `config` with the measure `kind` and return its results document.

    Parameters
    ----------
    kind : str
        A measure of `p2p_eval.measures.MEASURES`.
    settings
        The measure's ``Settings`` (e.g. the segmenter and device of FCN-score).
    config : SessionConfig
    distributed : Distributed, optional
        Shard frames over torchrun processes; every process returns the whole document.

    Raises
    ------
    InputError
        Bad runs, dataset, baseline or images, with the file and the fix named.
    """
    try:
        plan, problem = _plan(kind, settings, config), None
    except InputError as err:
        plan, problem = None, str(err)
    problem = distributed.first_error(problem)  # every process reaches this once: one message, from every rank
    if problem is not None:
        raise InputError(problem)
    runs, baseline, dataset, split_frames, matches, measure, scored, real_row, reference_frames = plan
    compute = functools.partial(
        _compute_row, measure, dataset, config.split, batch_size=config.batch_size or measure.default_batch_size,
        workers=config.workers, distributed=distributed, progress=config.progress)
    rows = []
    if real_row:
        pairs = [(f, dataset.path(config.split, f, measure.real_input)) for f in split_frames]
        rows.append(compute(GROUND_TRUTH, None, pairs, cache_path_for(dataset.root), is_real=True))
    for run, match in zip(runs, matches):
        rows.append(compute(run.name, run, match.pairs, cache_path_for(run.root), matching=match.matching))
    reference = None
    if measure.reference_input:
        pairs = [(f, dataset.path(config.split, f, measure.reference_input)) for f in reference_frames]
        reference = compute("real photos", None, pairs, cache_path_for(dataset.root)).states
    measure.check_rows(rows)
    base = next((r for r in rows if baseline is not None and not r.is_real and r.name == printable(baseline.name)), None)
    entries = [row_entry(measure, row, config.bootstrap, reference, base) for row in rows]
    if config.with_real and not measure.real_input:
        entries.append(measure.real_entry(reference, config.bootstrap))
    entries.sort(key=lambda e: e.is_real)  # the ground-truth row last, in every measure's table (as the paper's)
    data = {
        "dataset": str(dataset.root), "dataset_name": dataset.name, "split": config.split,
        "n_frames": len(scored), "frames": scored, "source": dataset.meta.get("source"),
        "left_out": {printable(run.name): len(split_frames) - len(match.pairs) for run, match in zip(runs, matches)},
        **measure.data(reference),
    }
    own = measure.protocol()
    protocol = {
        **own,
        "bootstrap": {**asdict(config.bootstrap), "unit": "frame", "interval": "percentile", **own.get("bootstrap", {})},
        "batch_size": config.batch_size or measure.default_batch_size,
        "world_size": distributed.world_size,
        "baseline": printable(baseline.name) if baseline is not None else None,
        "real_row": measure.real_row_text(config.bootstrap) if config.with_real else None,
    }
    return Results(kind, tuple(entries), protocol, data)


class _Plan(NamedTuple):
    """What a session scores, every part checked before any long work."""

    runs: list[Run]
    baseline: Run | None
    dataset: PreparedDataset
    split_frames: tuple[str, ...]
    matches: list[RunMatch]  # per run: (frame, image) pairs and how they were matched
    measure: Measure
    scored: list[str]  # frames some row scores, in split order
    real_row: bool  # the ground-truth row is `Measure.real_input` scored as a run
    reference_frames: list[str]  # frames whose `Measure.reference_input` states every score needs


def _plan(kind: str, settings: Any, config: SessionConfig) -> _Plan:
    """Everything checked before any long work: runs, baseline, dataset, frames, measure and files."""
    runs = discover_runs(config.runs)
    baseline = _baseline(config.baseline, runs)
    check_directions(kind, measure_class(kind), runs)
    dataset = recorded_dataset(runs, config.data)
    split_frames = dataset.frames(config.split)
    check_generated_from(runs, dataset, config.split)
    matches = [match_run(run, split_frames, config.split, allow_missing=config.allow_missing, dataset=dataset,
                         numbering=config.numbering) for run in runs]
    check_outputs_not_inputs(config.outputs, dataset, config.split, runs,
                             [[path for _, path in match.pairs] for match in matches])
    if config.with_real and measure_class(kind).real_row is None:
        raise InputError(f"{kind} has no ground-truth row: leave out --with-real (with_real=False).")
    measure = measure_class(kind).open(settings, dataset, config.split)
    real_row = config.with_real and measure.real_input is not None
    used = {f for match in matches for f, _ in match.pairs} | (set(split_frames) if real_row else set())
    scored = [f for f in split_frames if f in used]  # by some row, in split order
    _check_files(dataset, config.split, [*measure.frame_inputs, measure.real_input if real_row else None], scored)
    reference_frames = list(measure.reference_frames(split_frames, scored)) if measure.reference_input else []
    _check_files(dataset, config.split, [measure.reference_input], reference_frames)
    return _Plan(runs, baseline, dataset, split_frames, matches, measure, scored, real_row, reference_frames)


def _compute_row(measure: Measure, dataset: PreparedDataset, split: str, name: str, run: Run | None, pairs,
                 cache: Path, *, is_real: bool = False, matching: dict[str, Any] | None = None, **options) -> ScoredRow:
    name = printable(name)  # a folder name that is not UTF-8 is written as \xNN everywhere
    log.info("scoring %s: %d frame(s)", name, len(pairs))
    frames = [Frame(dataset, split, f) for f, _ in pairs]
    states = compute_states(measure, pairs, frames, cache=cache, desc=name, **options)
    meta = run.meta if run is not None else {}
    images = tuple(Path(p) for _, p in pairs)
    recorded = meta.get("image_size")
    if isinstance(recorded, list) and len(recorded) == 2:
        warn_image_sizes(name, states["image_size"], images, tuple(recorded), "its size in run.json")
    else:
        warn_image_sizes(name, states["image_size"], images, dataset.image_size, "the dataset's image size")
    return ScoredRow(name, meta.get("variant"), meta.get("preset"), is_real, states, images,
                     matching=matching, run_protocol=_run_protocol(meta, split) if run is not None else None)


def _run_protocol(meta: dict[str, Any], split: str) -> dict[str, Any] | None:
    """How a p2p-eval run's images were made (run.json): its training protocol, and how the scored
    split was generated (``generated[split]``: quantize, eval_mode, step), which outranks it."""
    protocol = meta.get("protocol")
    generated = (meta.get("generated") or {}).get(split) or {}
    if not isinstance(protocol, dict) and not generated:
        return None
    made = {k: generated[k] for k in ("quantize", "eval_mode", "step") if k in generated}
    return {**(protocol if isinstance(protocol, dict) else {}), **made}


def _check_files(dataset: PreparedDataset, split: str, kinds: list[str | None], frames: list[str]) -> None:
    """Every dataset file the measure will read exists: a missing one is named before any long work."""
    for kind in [k for k in dict.fromkeys(kinds) if k is not None]:
        missing = [p for p in (dataset.path(split, f, kind) for f in frames) if not p.is_file()]
        if missing:
            raise InputError(
                f"{dataset.root}: {len(missing)} {FILE_NAMES[kind]}(s) of split {split!r} are missing, "
                f"e.g. {[str(p) for p in missing[:3]]}. Re-run the `p2p-eval prepare` command that made this "
                "dataset (it resumes).")


def _baseline(given: str | None, runs: list[Run]) -> Run | None:
    """The baseline run: a scored run's name, or a folder holding one run (scored too, appended)."""
    if given is None:
        return None
    by_name = {r.name: r for r in runs}
    for name in (given, printable(given)):  # a name typed as the folder's bytes, or as results files write it
        if name in by_name:
            return by_name[name]
    if not Path(given).is_dir():
        raise InputError(f"--baseline {given!r} is none of the runs given: neither the name of a scored run "
                         f"({sorted(by_name)}) nor a folder.")
    found = discover_runs([given])
    if len(found) != 1:
        raise InputError(f"--baseline {given}: holds {len(found)} runs; name one run folder.")
    run = found[0]
    known = {r.root.resolve(): r for r in runs}
    if run.root.resolve() in known:
        return known[run.root.resolve()]
    if run.name in by_name:
        raise InputError(f"--baseline {given}: another run is already named {run.name!r} ({by_name[run.name].root}); "
                         "give one another name: edit \"name\" in its run.json, or rename the folder of a run "
                         "without one.")
    runs.append(run)
    return run


def score(
    kind: str,
    runs: str | Path | tuple[str, ...] | list[str],
    *,
    data: str | None = None,
    split: str = "val",
    with_real: bool = False,
    baseline: str | None = None,
    allow_missing: bool = False,
    numbering: int | None = None,
    batch_size: int | None = None,
    workers: int = 2,
    bootstrap: Bootstrap = Bootstrap(),
    progress: bool = True,
    distributed: Distributed = SINGLE,
    **settings: Any,
) -> Results:
    """Score runs from Python (a notebook, a script) exactly as ``p2p-eval <kind>`` does.

    Parameters
    ----------
    kind : str
        ``"fcn-score"``, ``"label-score"``, ``"colorfulness"``, ``"fid"``, ``"lpips"``,
        ``"similarity"`` (`p2p_eval.measures.MEASURES`).
    runs : path or sequence of paths
        Run folders, or folders of runs.
    data, split, with_real, baseline, allow_missing, numbering, batch_size, workers, bootstrap, progress
        As `SessionConfig` (and the subcommand's options of the same names).
    distributed : Distributed, optional
        Shard over torchrun processes (`p2p_eval.distributed.setup_distributed`).
    **settings
        The measure's own settings (its ``Settings``): e.g. ``segmenter=``,
        ``device=``, ``absent_rule=`` for FCN-score, ``binning=`` for colorfulness.

    Returns
    -------
    results : Results
        ``results.runs`` are typed entries (``entry.scores``, ``entry.intervals``);
        ``results.write(path)`` writes the JSON the subcommand writes.
    """
    runs = (str(runs),) if isinstance(runs, (str, Path)) else tuple(str(r) for r in runs)
    config = SessionConfig(runs=runs, data=None if data is None else str(data), split=split, with_real=with_real,
                           baseline=None if baseline is None else str(baseline), allow_missing=allow_missing,
                           numbering=numbering, batch_size=batch_size, workers=workers, bootstrap=bootstrap,
                           progress=progress)
    return score_runs(kind, measure_class(kind).Settings(**settings), config, distributed=distributed)
