"""Metrics: additive state (confusion matrices, histograms) and pure scores of it."""
