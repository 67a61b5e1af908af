"""HYPE-time, a results kind of per-trial human judgements: its entry type (``entry.py``).

Scored by ``study_app.hype``.
"""
