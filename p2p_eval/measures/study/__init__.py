"""The perceptual study's results kind: its entry type (``entry.py``), the human-study entry base the HYPE
kinds share, and the tests between algorithms they store (``comparisons.py``); the study itself is ``study_app``."""
