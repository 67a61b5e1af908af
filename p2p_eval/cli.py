"""The `p2p-eval` command: parse arguments, call the library, print results.

Each area registers its own subcommands: a module in `COMMAND_MODULES` has
``register(subparsers)``, which adds its parsers and sets ``func`` to a
function ``(args) -> int``. Registration imports only argparse-level code;
heavy imports (torch, flask) happen inside the command functions, so
``p2p-eval --help`` stays fast.
"""

import argparse
import contextlib
import importlib
import io
import logging
import os
import sys
from collections.abc import Sequence

from p2p_eval import __version__
from p2p_eval.commands.argtypes import positive_int
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
        allow_abbrev=False,  # `--nproc-per-node` is removed from each process's command line by its full name
    )
    parser.add_argument("--version", action="version", version=f"p2p-eval {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--nproc-per-node", type=positive_int, metavar="N",
                        help="run the command in N processes on this machine, as `torchrun --standalone "
                        "--nproc-per-node N -m p2p_eval COMMAND ...` does, but with p2p-eval's one error message "
                        "instead of torchrun's traceback (fcn-score, label-score, colorfulness, train)")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    with _voice():
        args = parser.parse_args(argv)  # the same arguments fail the same way in every process
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s: %(message)s",
        stream=sys.stderr,  # the real one: a process's warnings and errors stay visible (`_voice`)
    )
    with _voice():
        return _run(args, argv)


def _run(args: argparse.Namespace, argv: list[str]) -> int:
    try:
        from p2p_eval.data.files import set_pixel_limit

        set_pixel_limit()
        if args.nproc_per_node is not None and _torchrun_rank() is None:
            from p2p_eval.launch import launch

            return launch(args.nproc_per_node, _without_nproc(argv))
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


def _voice() -> contextlib.AbstractContextManager:
    """Under torchrun, rank 0 alone prints messages for all processes; the others' printed stderr is dropped.

    Every process runs the same command on the same input, and the measures agree
    on errors across processes (`p2p_eval.distributed.Distributed.first_error`),
    so one ``p2p-eval: error:`` line says it all. Logging keeps the real stderr
    (non-zero ranks log errors only), and a crash's traceback is printed after
    the redirection ends.
    """
    return contextlib.nullcontext() if _torchrun_rank() in (None, 0) else contextlib.redirect_stderr(io.StringIO())


def _torchrun_rank() -> int | None:
    """This process's rank when torchrun started it, else None."""
    rank = os.environ.get("RANK")
    return int(rank) if rank is not None and rank.isdigit() and "WORLD_SIZE" in os.environ else None


def _without_nproc(argv: list[str]) -> list[str]:
    """The command line of each process: `argv` without ``--nproc-per-node N`` (the main parser takes no
    abbreviation, so these are its only spellings)."""
    out, skip = [], False
    for arg in argv:
        if not skip and arg != "--nproc-per-node" and not arg.startswith("--nproc-per-node="):
            out.append(arg)
        skip = arg == "--nproc-per-node"
    return out
