"""Feature networks of the field, loaded from local files: the FID Inception and LPIPS.

The names below load on first use, so the subcommands' option names
(`p2p_eval.features.names`) import without torch.
"""

import importlib

_EXPORTS = {
    "FEATURE_DIM": "p2p_eval.features.inception",
    "InceptionFeatures": "p2p_eval.features.inception",
    "load_inception": "p2p_eval.features.inception",
    "Lpips": "p2p_eval.features.perceptual",
    "load_lpips": "p2p_eval.features.perceptual",
    "DEFAULT_PROTOCOL": "p2p_eval.features.names",
    "PROTOCOLS": "p2p_eval.features.names",
    "BACKBONES": "p2p_eval.features.names",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'p2p_eval.features' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
