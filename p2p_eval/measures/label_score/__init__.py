"""label-score (``p2p-eval label-score``): generated colour label maps against the trainIds (photo->labels).

``entry.py`` the results entry, ``cli.py`` the subcommand's options,
``measure.py`` the measure (FCN-score's confusion state plus far pixels),
``pipeline.py`` `score_label_maps` for direct callers.
"""
