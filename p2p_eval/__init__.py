"""p2p-eval: the pix2pix paper's evaluation, reproduced and extended.

Use it from Python (README, "Use it from Python")::

    import p2p_eval

    results = p2p_eval.score("fcn-score", "runs/", data="data/synth", with_real=True, baseline="unet-l1")
    print(p2p_eval.format_table(results))
    best = max(results.runs, key=lambda entry: entry.scores["class_iou"] or 0)
    results.write("fcn.json")                       # the file `p2p-eval fcn-score --json` writes

The names below load on first use, so ``import p2p_eval`` (and ``p2p-eval
--help``) stays fast and needs no torch.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    # scoring runs, as the subcommands do
    "score": "p2p_eval.session",
    "score_runs": "p2p_eval.session",
    "SessionConfig": "p2p_eval.session",
    "format_table": "p2p_eval.session",
    "to_csv": "p2p_eval.session",
    "Bootstrap": "p2p_eval.stats",
    "Distributed": "p2p_eval.distributed",
    "setup_distributed": "p2p_eval.distributed",
    # the measures and their results
    "MEASURES": "p2p_eval.measures",
    "RESULT_KINDS": "p2p_eval.measures",
    "measure_class": "p2p_eval.measures",
    "entry_type": "p2p_eval.measures",
    "Results": "p2p_eval.results",
    "load_results": "p2p_eval.results",
    # data, and scoring image sets directly
    "PreparedDataset": "p2p_eval.data.prepared",
    "discover_runs": "p2p_eval.data.runs",
    "match_frames": "p2p_eval.data.matching",
    "load_segmenter": "p2p_eval.segmenters",
    "score_images": "p2p_eval.measures.fcn_score.pipeline",
    "score_label_maps": "p2p_eval.measures.label_score.pipeline",
    "InputError": "p2p_eval.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'p2p_eval' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
