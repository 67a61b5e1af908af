"""Segmenters: architectures, the checkpoint format and preprocessing."""

from p2p_eval.segmenters.checkpoint import Preprocess, Segmenter, load_segmenter, save_segmenter
from p2p_eval.segmenters.registry import ARCHITECTURES, build_model

__all__ = ["ARCHITECTURES", "Preprocess", "Segmenter", "build_model", "load_segmenter", "save_segmenter"]
