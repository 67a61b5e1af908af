"""LPIPS (``p2p-eval lpips``): each generated image against the real photo of its frame.

``entry.py`` the results entry, ``cli.py`` the subcommand's options,
``measure.py`` the measure (one distance per frame, mean with a bootstrap
interval over frames).
"""
