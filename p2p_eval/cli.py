"""The `p2p-eval` command: parse arguments, call the library, print results.

Each area registers its own subcommands: a module in `COMMAND_MODULES` has
``register(subparsers)``, which adds its parsers and sets ``func`` to a
function ``(args) -> int``. Registration imports only argparse-level code;
heavy imports (torch, flask) happen inside the command functions, so
``p2p-eval --help`` stays fast.
"""

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from p2p_eval import __version__
from p2p_eval.errors import InputError

COMMAND_MODULES = (
    "p2p_eval.commands.classes",
    "p2p_eval.commands.segmenter",
    "trainers.segmenter.cli",
    "p2p_eval.commands.measures",
    "p2p_eval.commands.demo",
    "p2p_eval.commands.prepare",
    "p2p_eval.commands.export",
    "p2p_eval.commands.show",
    "reports.cli",
    "study_app.cli",
    "trainers.pix2pix.cli",
)

log = logging.getLogger("p2p_eval")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="p2p-eval",
        description="Evaluate image-to-image translation models the way the pix2pix paper did, and more.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"p2p-eval {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args) or 0)
    except InputError as err:
        print(f"p2p-eval: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed: not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("p2p-eval: interrupted; re-run the same command to resume.", file=sys.stderr)
        return 130
