"""The measures' subcommands (``p2p-eval fcn-score``, ``label-score``, ``colorfulness``, ...), all of one shape.

Every measure of `p2p_eval.measures.MEASURES` gets a subcommand with the
session's options (runs, ``--data``, ``--split``, ``--json``, ``--csv``,
``--with-real``, ``--baseline``, ``--allow-missing``, ``--resamples``,
``--seed``, ``--workers``, ``--quiet``) and its own (its ``cli.py``). Running
one: options and output paths checked, then torchrun joined and the device
picked, once, here (`p2p_eval.distributed`); the session scores; rank 0
prints the table and writes the files.
"""

import argparse
import functools
import logging

from p2p_eval.commands.argtypes import non_negative_int, resamples, seed


def register(subparsers: argparse._SubParsersAction) -> None:
    from p2p_eval.measures import MEASURES, measure_cli

    for kind in MEASURES:
        cli = measure_cli(kind)
        parser = subparsers.add_parser(kind, help=cli.HELP, description=cli.DESCRIPTION, epilog=cli.EPILOG,
                                       formatter_class=argparse.RawDescriptionHelpFormatter)
        _add_session_arguments(parser, cli)
        cli.add_arguments(parser)
        parser.set_defaults(func=functools.partial(run, kind=kind, parser=parser))


def _add_session_arguments(parser: argparse.ArgumentParser, cli) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN_OR_RUNS_DIR", help="run folders, or folders of runs")
    parser.add_argument("--data", metavar="PREPARED", help="prepared dataset (default: the one the runs' run.json record)")
    parser.add_argument("--split", default="val", help="split to score (default: val)")
    parser.add_argument("--json", metavar="OUT", help="write the results document here")
    parser.add_argument("--csv", metavar="OUT", help="write one CSV row per run here")
    if cli.WITH_REAL is not None:  # None: the measure has no ground-truth row
        parser.add_argument("--with-real", action="store_true", help=cli.WITH_REAL)
    parser.add_argument("--baseline", metavar="RUN",
                        help="paired bootstrap test of every run against this one (a run's name or its folder)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="score the frames a run has, warning how many are left out, instead of refusing")
    parser.add_argument("--numbering", type=int, choices=(0, 1), default=None,
                        help="numbered PyTorch pix2pix results (<id>_fake_B.png) without their real_A/real_B "
                             "siblings: the number of the first frame (0: PyTorch pix2pix's "
                             "prepare_cityscapes_dataset.py, 1: the pix2pix download's AB set); by default "
                             "each id's frame is found from its siblings' content")
    parser.add_argument("--resamples", type=resamples, default=1000, metavar="B",
                        help="bootstrap resamples, 100 to 100000 (default: 1000)")
    parser.add_argument("--seed", type=seed, default=0, help="bootstrap seed, 0 to 2**32-1 (default: 0)")
    parser.add_argument("--workers", type=non_negative_int, default=cli.DEFAULT_WORKERS, metavar="N",
                        help=f"decoding threads, 0 = decode between batches (default: {cli.DEFAULT_WORKERS})")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace, *, kind: str, parser: argparse.ArgumentParser) -> int:
    from dataclasses import replace

    from p2p_eval.data.files import json_text, write_text
    from p2p_eval.data.outputs import check_distinct_outputs, check_output_path
    from p2p_eval.distributed import setup_distributed, teardown_distributed
    from p2p_eval.measures import measure_cli
    from p2p_eval.session import SessionConfig, format_table, score_runs, to_csv
    from p2p_eval.stats import Bootstrap

    cli = measure_cli(kind)
    requested = getattr(args, "device", None)
    outputs = [(args.json, "--json"), (args.csv, "--csv"), *getattr(cli, "output_paths", lambda args: [])(args)]
    for path, option in outputs:  # before any work: a bad path stops here, not after scoring
        if path:
            check_output_path(path, option=option)
    check_distinct_outputs(outputs)
    try:
        config = SessionConfig(
            runs=tuple(args.runs), data=args.data, split=args.split, with_real=getattr(args, "with_real", False),
            baseline=args.baseline, allow_missing=args.allow_missing, numbering=args.numbering,
            batch_size=getattr(args, "batch_size", None),
            workers=args.workers, bootstrap=Bootstrap(resamples=args.resamples, seed=args.seed),
            progress=not args.quiet, outputs=tuple(outputs),
        )
        settings = cli.settings(args)
        distributed, device = setup_distributed(requested)
    except ValueError as err:
        parser.error(str(err))
    if device is not None:
        settings = replace(settings, device=device)  # this process's GPU under torchrun
    if not distributed.main:
        logging.getLogger().setLevel(logging.ERROR)  # one voice: rank 0's
    completed = False
    try:
        results = score_runs(kind, settings, config, distributed=distributed)
        completed = True
    finally:
        teardown_distributed(completed=completed)
    if not distributed.main:
        return 0
    texts = [(path, make(results)) for path, make in ((args.json, lambda r: json_text(r.to_dict())), (args.csv, to_csv))
             if path]  # both made before either is written: both files or neither
    print(format_table(results))
    written = []
    for path, text in texts:
        write_text(path, text)
        written.append(path)
    written += getattr(cli, "write_outputs", lambda args, results: [])(args, results)
    for path in written:
        print(f"wrote {path}")
    return 0
