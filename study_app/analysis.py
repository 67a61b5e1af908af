"""Study results: fool rates per algorithm, bootstrap intervals and pairwise tests.

A rater is *fooled* on a main trial when they pick the real image as the fake.
Per algorithm the paper reports the fool rate as mean ± standard error over
raters; here also a 95% two-level bootstrap interval (resample raters, then
each rater's trials, as phillipi/AMT_Real_vs_Fake does) and, between every two
algorithms, the bootstrap difference with its interval and a two-sided p.
Only completed sessions count; raters failing vigilance trials are excluded
when the protocol says so (and always counted in ``n_raters_excluded``).
"""

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Engine, select

from p2p_eval.results import results_document
from p2p_eval.stats import percentile_interval, two_level_bootstrap, two_sided_p
from study_app import db
from study_app.config import Protocol, StudyConfig

DEFAULT_RESAMPLES = 10_000  # as in the released pix2pix study code
EXPORT_FIELDS = (
    "session_id", "rater_id", "platform", "algorithm", "idx", "phase", "kind", "real_key", "fake_key",
    "fake_left", "choice", "correct", "fooled", "reaction_ms", "exposure_ms", "exposure_frames",
    "frame_ms", "views", "served_at", "received_at", "session_status",
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


def answered_trials(engine: Engine) -> list[dict[str, Any]]:
    """Every stored answer with its trial and session, as export rows (`EXPORT_FIELDS`)."""
    a, t, s = db.answers, db.trials, db.sessions
    query = (
        select(a, t.c.phase, t.c.kind, t.c.real_key, t.c.fake_key, t.c.fake_left, t.c.views, t.c.served_at,
               s.c.rater_id, s.c.platform, s.c.algorithm, s.c.status.label("session_status"))
        .join(t, (t.c.session_id == a.c.session_id) & (t.c.idx == a.c.idx))
        .join(s, s.c.id == a.c.session_id)
        .order_by(a.c.session_id, a.c.idx)
    )
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        row["fooled"] = row["phase"] == "main" and row["kind"] == "normal" and not row["correct"]
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
    """Per algorithm: fool rate, SE over raters, bootstrap interval, pairwise tests.

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
        The ``study`` entries of the results document (README "Results files").
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
            "fool_rate": None, "se": None, "intervals": {}, "bootstrap_sd": None, "pairwise": [],
            "vigilance_pass_rate": _vigilance_pass_rate(mine),
        }
        if kept:
            rates = fooled / trials
            boot = two_level_bootstrap(fooled, trials, n_resamples=n_resamples, seed=seed + i)
            replicates[name] = (float(rates.mean()), boot)
            entry.update(
                fool_rate=float(rates.mean()),
                se=float(rates.std(ddof=1) / np.sqrt(len(rates))) if len(rates) > 1 else None,
                intervals={"fool_rate": list(percentile_interval(boot))},
                bootstrap_sd=float(boot.std(ddof=1)),
            )
        entries.append(entry)
    for entry in entries:
        if entry["name"] not in replicates:
            continue
        point, boot = replicates[entry["name"]]
        for other in names:
            if other == entry["name"] or other not in replicates:
                continue
            other_point, other_boot = replicates[other]
            diff = boot - other_boot
            entry["pairwise"].append({
                "other": other, "difference": point - other_point,
                "interval": list(percentile_interval(diff)), "p_value": two_sided_p(diff),
                "p_greater": float(np.mean(diff > 0)),
            })
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
    config: StudyConfig, engine: Engine, *, n_resamples: int = DEFAULT_RESAMPLES
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``study`` results document and the trial rows it was computed from."""
    rows = answered_trials(engine)
    scores = rater_scores(rows, config.protocol)
    protocol = config.protocol
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
            "score": "fool rate = share of scored main trials where the real image was picked as fake",
            "se": "standard deviation of per-rater fool rates / sqrt(raters)",
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


def trials_csv(rows: list[dict[str, Any]]) -> str:
    """Every answered trial as CSV text (columns `EXPORT_FIELDS`)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
