"""PSNR and SSIM (``p2p-eval similarity``): each generated image against the real photo of its frame.

``entry.py`` the results entry, ``cli.py`` the subcommand's options,
``measure.py`` the measure (both numbers per frame, computed in the decoding
threads; means with bootstrap intervals over frames).
"""
