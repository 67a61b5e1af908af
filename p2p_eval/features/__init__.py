"""Feature networks of the field, loaded from local files: the FID Inception and LPIPS."""

from p2p_eval.features.inception import FEATURE_DIM, InceptionFeatures, load_inception
from p2p_eval.features.perceptual import Lpips, load_lpips
from p2p_eval.features.resize import DEFAULT_PROTOCOL, PROTOCOLS

__all__ = ["DEFAULT_PROTOCOL", "FEATURE_DIM", "PROTOCOLS", "InceptionFeatures", "Lpips", "load_inception", "load_lpips"]
