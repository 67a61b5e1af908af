"""FCN-score (``p2p-eval fcn-score``): generated photos segmented by a segmenter trained on real photos.

``entry.py`` the results entry, ``cli.py`` the subcommand's options,
``measure.py`` the measure (confusion per frame), ``inputs.py`` what it reads,
``pipeline.py`` `score_images` for callers holding a segmenter.
"""
