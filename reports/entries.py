"""Reading the fields of results documents: scores, intervals, tests, run order, provenance facts.

Null scores become NaN here, once; everything downstream handles NaN.
"""

from typing import Any

import numpy as np

from p2p_eval.measures import entry_type
from p2p_eval.measures.similarity.entry import identical_note
from p2p_eval.measures.study.entry import RatedEntry
from p2p_eval.stats import DEFAULT_CONFIDENCE, confidence_percent


def score(entry: dict[str, Any], key: str) -> float:
    """The entry's score `key` as float; NaN when null."""
    value = entry.get(key)
    return np.nan if value is None else float(value)


def interval(entry: dict[str, Any], key: str) -> tuple[float, float]:
    """The entry's interval for `key` (``intervals[key]``); NaN bounds when it has none."""
    bounds = (entry.get("intervals") or {}).get(key)
    if not bounds or any(b is None for b in bounds):
        return np.nan, np.nan
    return float(bounds[0]), float(bounds[1])


def p_value(entry: dict[str, Any], key: str) -> float:
    """p-value of the entry's bootstrap test of `key` against its baseline; NaN if none."""
    test = (entry.get("baseline_test") or {}).get(key) or {}
    value = test.get("p_value")
    return np.nan if value is None else float(value)


def ordered_entries(
    runs: list[dict[str, Any]], order: tuple[str, ...]
) -> list[dict[str, Any] | str]:
    """Runs in `order` first, then the rest in document order.

    A name in `order` that the document lacks stays in its place as the bare
    name (rendered as a row of missing cells), so no row disappears silently.

    Examples
    --------
    >>> ordered_entries([{"name": "a"}, {"name": "b"}], ("b", "c"))
    [{'name': 'b'}, 'c', {'name': 'a'}]
    """
    by_name = {r["name"]: r for r in runs}
    first = [by_name.get(name, name) for name in order]
    return first + [r for r in runs if r["name"] not in order]


def confidence(document: dict[str, Any]) -> float:
    """The confidence level of a document's bootstrap intervals (as recorded; 0.95 when it records none)."""
    recorded = ((document.get("protocol") or {}).get("bootstrap") or {}).get("confidence")
    return DEFAULT_CONFIDENCE if recorded is None else float(recorded)


def document_facts(document: dict[str, Any]) -> tuple[str, ...]:
    """Short plain-text facts on what a document measured and how."""
    data, protocol = document.get("data") or {}, document.get("protocol") or {}
    facts = []
    frames = data.get("frames")
    n_frames = len(frames) if isinstance(frames, list) else data.get("n_frames")
    where = " ".join(str(x) for x in (n_frames, data.get("split"), "frames of" if n_frames else None,
                                      data.get("dataset_name") or data.get("dataset")) if x)
    if where:
        facts.append(f"measured on {where}")
    segmenter = protocol.get("segmenter")
    if isinstance(segmenter, dict):
        digest = str(segmenter.get("sha256") or "")[:12]
        facts.append(f"segmenter {segmenter.get('arch', '?')}" + (f" (sha256 {digest})" if digest else ""))
    facts += _feature_facts(document["runs"], protocol)
    if issubclass(entry_type(document["kind"]), RatedEntry):
        facts += _study_facts(document["runs"], data, protocol)
    if protocol.get("scores"):  # e.g. fcn-score --protocol official: the official script's numbers
        facts.append(f"scores: {protocol['scores']}")
    facts += _comparison_facts(document.get("comparisons") or {})
    bootstrap = protocol.get("bootstrap")
    if isinstance(bootstrap, dict) and bootstrap.get("resamples"):
        facts.append(f"{confidence_percent(confidence(document))} bootstrap intervals, {bootstrap['resamples']} resamples")
    return tuple(facts)


def _feature_facts(runs: list[dict[str, Any]], protocol: dict[str, Any]) -> list[str]:
    """The weights a feature measure used (FID Inception, LPIPS backbone) and what its FIDs can be compared with."""
    facts = []
    for key, what in (("features", "Inception"), ("backbone", "LPIPS backbone")):
        weights = protocol.get(key)
        if isinstance(weights, dict) and weights.get("sha256"):
            published = "" if weights.get("published") else ", not the published file: not comparable with papers"
            facts.append(f"{what} sha256 {str(weights['sha256'])[:12]}{published}")
    if protocol.get("resize") and isinstance(protocol.get("features"), dict):
        facts.append(f"resize {protocol['resize']}")
    if any(r.get("warnings") for r in runs if not r.get("is_real")):
        facts.append("FID from fewer than 2,000 frames is biased upward: compare only FIDs of equally many frames")
    facts += [f"{r['name']}: {note}" for r in runs if (note := identical_note(r.get("n_identical"), r.get("n_images")))]
    if (protocol.get("bootstrap") or {}).get("centred"):
        facts.append("FID intervals: sampling variability over frames, centred on the FID (not its bias)")
    return facts


def _study_facts(runs: list[dict[str, Any]], data: dict[str, Any], protocol: dict[str, Any]) -> list[str]:
    """Title, raters and exposure of a perceptual study (the numbers its ± depends on)."""
    facts = [f"study: {data['title']}"] if data.get("title") else []
    raters = sorted(e["n_raters"] for e in runs if e.get("n_raters") is not None)
    if raters:
        count = str(raters[0]) if raters[0] == raters[-1] else f"{raters[0]} to {raters[-1]}"
        excluded = sum(e.get("n_raters_excluded") or 0 for e in runs)
        facts.append(f"{count} raters per algorithm ({excluded} excluded)")
    if protocol.get("exposure_ms"):
        facts.append(f"each image shown {protocol['exposure_ms']} ms")
    return facts


def _comparison_facts(tests: dict[str, Any]) -> list[str]:
    """HYPE's tests across models, as stored in a document's ``comparisons``."""
    facts = []
    anova = tests.get("anova")
    if isinstance(anova, dict) and anova.get("p_value") is not None:
        facts.append(f"one-way ANOVA F({anova['df'][0]}, {anova['df'][1]}) = {anova['statistic']:.2f}, "
                     f"p = {anova['p_value']:.2g}")
        facts += [f"Tukey HSD {t['a']} vs {t['b']}: p = {t['p_value']:.2g}"
                  for t in tests.get("tukey_hsd") or () if t.get("p_value") is not None]
    t_test = tests.get("t_test")
    if isinstance(t_test, dict) and t_test.get("p_value") is not None:
        facts.append(f"unpaired t-test {t_test['a']} vs {t_test['b']}: t({t_test['df']}) = {t_test['statistic']:.2f}, "
                     f"p = {t_test['p_value']:.2g}")
    return facts
