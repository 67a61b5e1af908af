"""Dataset layouts: reading, preparing and writing images, datasets and runs."""
