"""`p2p-eval classes`: print the Cityscapes train-class table."""

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "classes",
        help="print the 19 Cityscapes train classes (trainId, id, name, colour)",
        description="Print the 19 Cityscapes train classes in evaluation order.",
        epilog="example:\n  p2p-eval classes",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from p2p_eval.classes import describe

    print(describe())
    return 0
