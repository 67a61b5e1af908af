"""Every subcommand's --help renders (argparse formats help with %, so a stray % breaks it)."""

import argparse

from p2p_eval.cli import build_parser


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def test_every_help_text_renders():
    found = dict(_parsers(build_parser()))
    assert ("prepare", "pix2pix-ab") in found and ("export", "pix2pix-ab") in found and ("train",) in found
    for path, parser in found.items():
        text = parser.format_help()
        assert "usage:" in text, path


def test_every_command_with_a_progress_bar_has_quiet():
    # #14: fcn-score and label-score, train, generate and train-segmenter showed bars that could not be silenced.
    found = dict(_parsers(build_parser()))
    for path in [("fcn-score",), ("label-score",), ("colorfulness",), ("train",), ("generate",), ("train-segmenter",),
                 ("prepare", "synthetic"), ("prepare", "cityscapes"), ("prepare", "pix2pix-ab"), ("show",),
                 ("export", "pix2pix-ab")]:
        assert "--quiet" in found[path].format_help(), path


def test_help_examples_name_folders_that_exist_in_their_layouts():
    # #14: `colorfulness checkpoints/facades_pix2pix` cannot work: PyTorch pix2pix's test.py writes results/<name>/.
    found = dict(_parsers(build_parser()))
    assert "checkpoints/" not in found[("colorfulness",)].epilog
    assert "results/label2photo" in found[("colorfulness",)].epilog
