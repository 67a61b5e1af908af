"""Study results: fool rates per algorithm, their "±", intervals and pairwise tests.

A rater is *fooled* on a main trial when they pick the real image as the fake.
The statistics are those of the study code behind the paper,
phillipi/AMT_Real_vs_Fake ``process_csv.py``:

- the fool rate is pooled over the algorithm's scored trials
  (``acc = np.mean((gts==ans)*mask)/(np.mean(mask)+.000001)``, line 76);
- its "±" is the standard deviation of a two-level bootstrap: raters drawn
  with replacement, then each drawn rater's trials with replacement
  (``a_inds = np.random.randint(A, size=A)`` / ``n_inds = np.random.randint(N, size=(N,A))``,
  lines 89-90; ``fool_stds = np.std(bootstrap_fools, axis=0)``, line 126);
- two algorithms compare by the share of replicates in which one beats the
  other, ties counted half (line 135).

The JSON also keeps the 95% percentile interval of the same replicates, the
standard error over raters (SD of per-rater rates / sqrt(raters)), and a
two-sided bootstrap p per pair. One difference from process_csv: there every
HIT mixes methods and Turkers are resampled once for all methods; here a rater
sees one algorithm, so each algorithm's raters are resampled on their own.
Only completed sessions count; raters failing vigilance trials are excluded
when the protocol says so (and always counted in ``n_raters_excluded``).
"""

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Engine, select

from p2p_eval.data.spreadsheet import csv_text
from p2p_eval.results import results_document
from p2p_eval.stats import percentile_interval, two_level_bootstrap
from study_app import audit, db
from study_app.approved import ApprovedRaters
from study_app.comparisons import bootstrap_sd, pairwise_bootstrap
from study_app.config import Protocol, StudyConfig
from study_app.hype import SCORES, hype_entries, record_summary
from study_app.records import TrialRecord

DEFAULT_RESAMPLES = 10_000  # as in the released pix2pix study code
EXPORT_FIELDS = (
    "session_id", "rater_id", "platform", "algorithm", "idx", "phase", "kind", "real_key", "fake_key",
    "fake_left", "choice", "correct", "fooled", "reaction_ms", "exposure_ms", "exposure_frames",
    "frame_ms", "painted_ms", "load_ms", "server_ms", "views", "reexposed", "off_timing", "implausible",
    "excluded", "served_at", "received_at", "session_status", "image", "source", "block", "requested_ms",
    "requested_frames", "level_ms", "mask_frames",
)


@dataclass(frozen=True)
class RaterScore:
    """One completed session's main-phase counts."""

    session_id: str
    algorithm: str
    n_trials: int  # scored (non-vigilance) main trials
    n_fooled: int
    vigilance_trials: int
    vigilance_misses: int
    excluded: bool


def answered_trials(engine: Engine, raters: ApprovedRaters | None = None) -> list[dict[str, Any]]:
    """Every stored answer with its trial and session, as export rows (`EXPORT_FIELDS`); only the sessions of
    `raters` when given (`study_app.approved`)."""
    a, t, s = db.answers, db.trials, db.sessions
    query = (
        select(a, t.c.phase, t.c.kind, t.c.real_key, t.c.fake_key, t.c.fake_left, t.c.views, t.c.served_at,
               t.c.schedule,
               t.c.image, t.c.source, t.c.block, t.c.exposure_ms.label("requested_ms"),
               t.c.exposure_frames.label("requested_frames"), t.c.level_ms,
               s.c.rater_id, s.c.platform, s.c.algorithm, s.c.status.label("session_status"))
        .join(t, (t.c.session_id == a.c.session_id) & (t.c.idx == a.c.idx))
        .join(s, s.c.id == a.c.session_id)
        .order_by(a.c.session_id, a.c.idx)
    )
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    if raters is not None:
        rows = [row for row in rows if raters.keeps(row["rater_id"])]
    for row in rows:
        wrong_way = not row["correct"] if row["image"] is None else (row["image"], row["choice"]) == ("fake", "real")
        row["fooled"] = row["phase"] == "main" and row["kind"] == "normal" and wrong_way
    return rows


def rater_scores(rows: list[dict[str, Any]], protocol: Protocol) -> list[RaterScore]:
    """Per completed session, main-trial counts and the vigilance verdict."""
    by_session: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["session_status"] == "complete" and row["phase"] == "main":
            by_session[row["session_id"]].append(row)
    scores = []
    for session_id, trials in sorted(by_session.items()):
        normal = [r for r in trials if r["kind"] == "normal"]
        vigilance = [r for r in trials if r["kind"] == "vigilance"]
        misses = sum(not r["correct"] for r in vigilance)
        failed = misses > protocol.vigilance_max_misses
        scores.append(RaterScore(
            session_id=session_id, algorithm=trials[0]["algorithm"], n_trials=len(normal),
            n_fooled=sum(not r["correct"] for r in normal), vigilance_trials=len(vigilance),
            vigilance_misses=misses, excluded=failed and protocol.exclude_vigilance_failures,
        ))
    return scores


def algorithm_results(
    scores: list[RaterScore], names: tuple[str, ...], *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> list[dict[str, Any]]:
    """Per algorithm: pooled fool rate, bootstrap SD ("±"), interval, SE, pairwise tests.

    Parameters
    ----------
    scores : list of RaterScore
    names : tuple of str
        Algorithms in table order (one with no rater gets null scores).
    n_resamples, seed : int
        Bootstrap replicates; algorithm i uses seed ``seed + i`` (independent raters).

    Returns
    -------
    runs : list of dict
        The ``study`` entries of the results document (README "Results files"):
        ``fool_rate`` (fooled / scored trials, pooled), ``bootstrap_sd`` (SD of
        the two-level bootstrap: the "±"), ``intervals`` (``{"fool_rate":
        [low, high]}``, 95% percentile interval of the same replicates),
        ``se_over_raters`` (SD of per-rater rates / sqrt(raters); null under two
        raters) and ``pairwise`` (`study_app.comparisons.pairwise_bootstrap`).
    """
    entries, replicates = [], {}
    for i, name in enumerate(names):
        mine = [s for s in scores if s.algorithm == name]
        kept = [s for s in mine if not s.excluded and s.n_trials > 0]
        fooled = np.array([s.n_fooled for s in kept], dtype=np.int64)
        trials = np.array([s.n_trials for s in kept], dtype=np.int64)
        entry = {
            "name": name, "n_raters": len(kept), "n_raters_excluded": len(mine) - len(kept),
            "n_trials": int(trials.sum()), "n_fooled": int(fooled.sum()),
            "fool_rate": None, "bootstrap_sd": None, "intervals": {}, "se_over_raters": None,
            "pairwise": [], "vigilance_pass_rate": _vigilance_pass_rate(mine),
        }
        if kept:
            rates = fooled / trials
            boot = two_level_bootstrap(fooled, trials, n_resamples=n_resamples, seed=seed + i)
            pooled = float(fooled.sum() / trials.sum())
            replicates[name] = (pooled, boot)
            entry.update(
                fool_rate=pooled,
                bootstrap_sd=bootstrap_sd(boot),
                intervals={"fool_rate": list(percentile_interval(boot))},
                se_over_raters=float(rates.std(ddof=1) / np.sqrt(len(rates))) if len(rates) > 1 else None,
            )
        entries.append(entry)
    pairwise = pairwise_bootstrap(replicates)
    for entry in entries:
        entry["pairwise"] = pairwise.get(entry["name"], [])
    return entries


def _vigilance_pass_rate(mine: list[RaterScore]) -> float | None:
    total = sum(s.vigilance_trials for s in mine)
    return None if total == 0 else 1 - sum(s.vigilance_misses for s in mine) / total


def timing_summary(rows: list[dict[str, Any]], exposure_ms: int) -> dict[str, Any]:
    """Measured exposures: median, and the share more than one frame off target."""
    measured = np.array([r["exposure_ms"] for r in rows], dtype=np.float64)
    frames = np.array([r["frame_ms"] for r in rows], dtype=np.float64)
    if measured.size == 0:
        return {"n": 0, "median_ms": None, "off_by_more_than_one_frame": None}
    off = np.abs(measured - exposure_ms) > frames * 1.5
    return {"n": int(measured.size), "median_ms": float(np.median(measured)),
            "median_frame_ms": float(np.median(frames)), "off_by_more_than_one_frame": float(off.mean())}


def study_document(
    config: StudyConfig, engine: Engine, *, n_resamples: int = DEFAULT_RESAMPLES, raters: ApprovedRaters | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``study`` results document and every answered trial (the excluded ones marked); only the sessions of
    `raters` when given.

    Trials the config excludes (re-exposed by a reload; off timing or implausible
    when ``exclude_timing_flags``: `study_app.audit.excluded`) leave the scores
    but stay in the returned rows, with ``excluded`` true, for the CSV export.
    """
    protocol = config.protocol
    rows = answered_trials(engine, raters)
    for row in rows:
        row["excluded"] = audit.excluded(row, protocol)
    scores = rater_scores([row for row in rows if not row["excluded"]], protocol)
    runs = algorithm_results(scores, config.algorithm_names, n_resamples=n_resamples, seed=protocol.seed)
    document = results_document(
        "study", runs,
        protocol={
            "task": "2AFC real vs fake: pick the fake", "pairing": protocol.pairing,
            "exposure_ms": protocol.exposure_ms, "practice_trials": protocol.practice_trials,
            "main_trials": protocol.main_trials, "vigilance_trials": protocol.vigilance_trials,
            "vigilance_max_misses": protocol.vigilance_max_misses,
            "exclude_vigilance_failures": protocol.exclude_vigilance_failures,
            "image_size": protocol.image_size, "raters_per_algorithm": protocol.raters_per_algorithm,
            "preset": protocol.preset, "presentation": protocol.presentation, "lead_ms": protocol.lead_ms,
            "gap_ms": protocol.gap_ms, "feedback_ms": protocol.feedback_ms,
            "exclude_reexposed": protocol.exclude_reexposed, "exclude_timing_flags": protocol.exclude_timing_flags,
            "score": "fool rate = share of scored main trials where the real image was picked as fake, "
                     "pooled over the algorithm's raters",
            "bootstrap_sd": "the ±: standard deviation of the two-level bootstrap distribution of the fool rate "
                            "(raters with replacement, then trials within each drawn rater), as "
                            "phillipi/AMT_Real_vs_Fake process_csv.py",
            "intervals": "95% percentile interval of the same bootstrap replicates",
            "se_over_raters": "standard deviation of per-rater fool rates / sqrt(raters)",
            "pairwise": "bootstrap difference, its 95% interval, two-sided p, and p_greater = P(this > other) "
                        "with ties counted half",
            "bootstrap": {"scheme": "two-level: raters, then trials within rater",
                          "resamples": n_resamples, "seed": protocol.seed, "confidence": 0.95},
        },
        data={
            "config": str(config.path), "title": config.title,
            "sessions_complete": len(scores),
            "timing": timing_summary([r for r in rows if r["phase"] == "main"], protocol.exposure_ms),
        },
    )
    return document, rows


HYPE_SCORE_TEXT = {
    "hype-inf": "HYPE-inf = wrong answers / scored trials, pooled over the model's raters (fakes called real "
                "and reals called fake); fake_error and real_error the same on fakes and on reals; above 0.5 "
                "reads hyper-real",
    "hype-time": "HYPE-time = mean over raters of (mean over blocks of the block's modal requested exposure, "
                 "ms); a tie between modes is broken by the mean of the tied exposures (after rounding to "
                 "0.001 ms)",
}


def hype_document(
    records: list[TrialRecord], protocol: str, *, source: dict[str, Any], n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """The ``hype-inf`` / ``hype-time`` results document of per-trial records.

    Parameters
    ----------
    records : list of TrialRecord
    protocol : {"hype-inf", "hype-time"}
    source : dict
        Where the records came from (path, sha256), stored as ``data.records``.
    n_resamples, seed : int
    """
    runs, comparisons = hype_entries(records, protocol, n_resamples=n_resamples, seed=seed)
    return results_document(
        protocol, runs,
        protocol={
            "name": protocol, "task": "one image per trial: real or fake?", "score": HYPE_SCORE_TEXT[protocol],
            "scores": list(SCORES[protocol]),
            "bootstrap_sd": f"standard deviation (ddof=0) of the bootstrap replicates of {SCORES[protocol][0]}",
            "intervals": "95% percentile intervals of the same replicates",
            "rater_sd": "standard deviation (ddof=1) of the per-rater scores",
            "pairwise": "bootstrap difference, its 95% interval, two-sided p, and p_greater = P(this > other) "
                        "with ties counted half",
            "tests": "on per-rater scores: one-way ANOVA and Tukey HSD across 3+ models, Student's unpaired "
                     "t-test for two (scipy.stats f_oneway, tukey_hsd, ttest_ind)",
            "bootstrap": {"scheme": "raters with replacement", "resamples": n_resamples, "seed": seed,
                          "confidence": 0.95},
        },
        data={"records": source, **record_summary(records)},
        comparisons=comparisons,
    )


def trials_csv(rows: list[dict[str, Any]]) -> str:
    """Every answered trial as CSV text (columns `EXPORT_FIELDS`)."""
    return csv_text(EXPORT_FIELDS, rows, extra_keys="ignore")  # rater ids come from the web: never a formula
