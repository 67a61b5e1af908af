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
