"""Colorfulness (``p2p-eval colorfulness``): Lab marginals of generated vs real photos (paper Figure 6).

``entry.py`` the results entry, ``cli.py`` the subcommand's options,
``measure.py`` the measure (a Lab histogram per frame, the real photos as
reference, the split-half ground-truth row), ``histograms.py`` the per-image
state, ``plot.py`` Figure 6 from a results document.
"""
