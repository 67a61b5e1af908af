"""The perceptual study's results kind: its entry type (``entry.py``); the study itself is ``study_app``."""
