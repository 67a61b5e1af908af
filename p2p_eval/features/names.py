"""The feature networks' option names, importable without torch (the subcommands' argparse choices)."""

PROTOCOLS = ("clean", "legacy-tf1", "legacy-pytorch-fid")
"""How an image becomes the FID Inception's input (`p2p_eval.features.resize`)."""
DEFAULT_PROTOCOL = "clean"
BACKBONES = ("alex", "vgg", "squeeze")
"""LPIPS backbones (`p2p_eval.features.perceptual`); "alex" is the one papers report."""
