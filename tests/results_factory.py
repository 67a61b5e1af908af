"""Results documents built to the README contract, with coherent, realistic numbers.

Scores are computed from a random 19x19 confusion matrix (FCN kinds) or from
random Lab histograms (colorfulness), so per-class detail and totals agree the
way a real producer's would.
"""

import numpy as np

from p2p_eval.classes import CLASS_NAMES, NUM_CLASSES
from p2p_eval.results import results_document

PROTOCOL_FCN = {
    "segmenter": {"path": "seg.pt", "sha256": "0123456789abcdef" * 4, "arch": "fcn8s"},
    "resize": "bilinear",
    "resolution": [64, 128],
    "absent_classes": "skipped (NaN)",
    "bootstrap": {"resamples": 200, "seed": 0, "confidence": 0.95},
}
DATA = {"dataset": "data/tiny", "dataset_name": "tiny", "split": "val",
        "frames": ["city_000000_000019", "city_000001_000019"]}


def _confusion(rng: np.random.Generator, quality: float) -> np.ndarray:
    """Counts with `quality` of each row on the diagonal, the rest spread at random."""
    rows = rng.integers(1_000, 50_000, NUM_CLASSES)
    confusion = rng.dirichlet(np.ones(NUM_CLASSES), NUM_CLASSES) * (1 - quality)
    confusion[np.diag_indices(NUM_CLASSES)] += quality
    return np.round(confusion * rows[:, None]).astype(np.int64)


def fcn_entry(name: str, variant: str | None, quality: float, seed: int, *, is_real: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    counts = _confusion(rng, quality)
    tp, rows, cols = np.diag(counts), counts.sum(1), counts.sum(0)
    acc, iou = tp / rows, tp / (rows + cols - tp)
    scores = {"pixel_acc": tp.sum() / counts.sum(), "class_acc": acc.mean(), "class_iou": iou.mean()}
    return {
        "name": name,
        "variant": variant,
        "preset": "losses",
        "is_real": is_real,
        "n_images": 2,
        **{k: float(v) for k, v in scores.items()},
        "intervals": {k: [float(v) - 0.021, float(v) + 0.018] for k, v in scores.items()},
        "baseline_test": None,
        "per_class": [{"name": n, "acc": float(a), "iou": float(i)} for n, a, i in zip(CLASS_NAMES, acc, iou)],
        "confusion": counts.tolist(),
        "confusion_other": [0] * NUM_CLASSES,
    }


def fcn_document(runs: list[tuple[str, str | None, float]], kind: str = "fcn-score", real: bool = True) -> dict:
    """`runs`: (name, variant, quality) triples; `real` adds the ground-truth row last."""
    entries = [fcn_entry(n, v, q, seed) for seed, (n, v, q) in enumerate(runs)]
    if real:
        entries.append(fcn_entry("real", None, 0.9, 99, is_real=True))
    return results_document(kind, entries, protocol=PROTOCOL_FCN, data=DATA)


def losses_document() -> dict:
    """Every variant of the paper's Table 1, plus the real photos."""
    return fcn_document([
        ("unet-l1", "unet-l1", 0.3), ("unet-gan", "unet-gan", 0.1), ("unet-cgan", "unet-cgan", 0.5),
        ("unet-l1-gan", "unet-l1-gan", 0.55), ("unet-l1-cgan", "unet-l1-cgan", 0.6),
    ])


BINS = 16


def _histograms(rng: np.random.Generator, spread: float) -> dict:
    """Gaussian-ish counts per channel; a and b narrower than L, as in real photos."""
    shapes = {"L": (8, 1.0), "a": (8, 0.5), "b": (9, 0.7)}
    out = {}
    for channel, (centre, width) in shapes.items():
        x = np.arange(BINS)
        density = np.exp(-0.5 * ((x - centre) / (spread * width)) ** 2) + 1e-3 * rng.random(BINS)
        out[channel] = np.round(density / density.sum() * 100_000).astype(int).tolist()
    return out


def _intersection(p: list[int], q: list[int]) -> float:
    p, q = np.asarray(p, float), np.asarray(q, float)
    return float(np.minimum(p / p.sum(), q / q.sum()).sum())


def colorfulness_document(runs: list[tuple[str, str | None, float]]) -> dict:
    """`runs`: (name, variant, histogram spread); the reference spread is 3."""
    reference = _histograms(np.random.default_rng(99), 3.0)
    entries = []
    for seed, (name, variant, spread) in enumerate(runs):
        hist = _histograms(np.random.default_rng(seed), spread)
        scores = {c: _intersection(hist[c], reference[c]) for c in "Lab"}
        entries.append({
            "name": name, "variant": variant, "preset": None, "is_real": False, "n_images": 2,
            **scores, "intervals": {c: [v - 0.01, min(1.0, v + 0.01)] for c, v in scores.items()},
            "baseline_test": None, "histograms": hist,
        })
    ranges = {"L": [0, 100], "a": [-128, 128], "b": [-128, 128]}
    protocol = {"binning": {c: {"range": r, "bins": BINS} for c, r in ranges.items()},
                "bootstrap": {"resamples": 200, "seed": 0, "confidence": 0.95}}
    return results_document("colorfulness", entries, protocol=protocol,
                            data={**DATA, "reference": reference})


def study_document(rates: dict[str, float]) -> dict:
    entries = []
    for name, rate in rates.items():
        entries.append({
            "name": name, "n_raters": 50, "n_raters_excluded": 2, "n_trials": 2000,
            "n_fooled": int(rate * 2000), "fool_rate": rate, "bootstrap_sd": 0.013, "se_over_raters": 0.009,
            "intervals": {"fool_rate": [rate - 0.025, rate + 0.026]},
            "pairwise": [{"other": o, "difference": rate - r, "interval": [rate - r - 0.03, rate - r + 0.03],
                          "p_value": 0.04} for o, r in rates.items() if o != name],
        })
    protocol = {"exposure_ms": 1000, "bootstrap": {"scheme": "two-level", "resamples": 1000, "seed": 0,
                                                   "confidence": 0.95}}
    return results_document("study", entries, protocol=protocol, data={"title": "maps_demo", "sessions_complete": 52})
