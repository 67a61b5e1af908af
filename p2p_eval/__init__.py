"""p2p-eval: the pix2pix paper's evaluation, reproduced and extended."""

__version__ = "0.1.0"
