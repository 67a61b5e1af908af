"""Producers of models: the pix2pix variants of the paper and the segmenter."""
