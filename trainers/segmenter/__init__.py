"""The segmenter trainer: `p2p-eval train-segmenter` (FCN-score's "ground truth" segmenter)."""
