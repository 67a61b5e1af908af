"""FID and KID (``p2p-eval fid``): each run's Inception features against the whole split's real photos.

``entry.py`` the results entry, ``cli.py`` the subcommand's options,
``measure.py`` the measure (a 2048-d feature row per frame, the real photos
of the whole split as the fixed reference, KID over subsets, the split-half
ground-truth row).
"""
