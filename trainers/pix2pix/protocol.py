"""The training-protocol choices where the paper's Torch code and the PyTorch port differ.

Names only (no torch import), so that the command line can offer them cheaply;
`schedule` and `data` implement them, run.json records the ones a run used.
"""

SCHEDULES = ("torch", "pytorch")
"""lr schedules: ``torch`` as the paper's train.lua (constant), ``pytorch`` as the port (then linear decay)."""

DEFAULT_EPOCHS = {"torch": (200, 0), "pytorch": (100, 100)}
"""(epochs at constant lr, decay epochs) in each code: ``niter = 200``; ``n_epochs = n_epochs_decay = 100``."""

QUANTIZE = ("truncate", "round")
"""How generated images become 8-bit: as both reference codes (truncate), or to the nearest level."""
