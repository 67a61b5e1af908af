"""`p2p-eval study plan`: its options and its printout (the simulation is `study_app.plan`)."""

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from p2p_eval.commands.argtypes import positive_float, positive_int, resamples, seed
from p2p_eval.errors import InputError
from study_app.plan import PROTOCOLS

if TYPE_CHECKING:
    from study_app.plan import Estimate, PlanProtocol, Raters

CURVE_RATERS = (10, 20, 30, 50, 100)
"""Raters per algorithm at which the half-width table is always printed."""


def _values(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    return values


def _fraction(text: str) -> float:
    value = positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return value


def plan_options(parser: argparse.ArgumentParser) -> None:
    """The planner's arguments."""
    parser.add_argument("--protocol", choices=tuple(PROTOCOLS), required=True)
    parser.add_argument("--expected", type=_values, metavar="X[,Y...]",
                        help="expected score per algorithm: fool (2AFC) or error (hype-inf) rate as a fraction; "
                        "for hype-time the raters' mean threshold in ms; one value is shared by --algorithms algorithms")
    parser.add_argument("--pilot", type=Path, metavar="RESULTS.json",
                        help="a pilot study's results: expected scores and the between-rater spread from it")
    parser.add_argument("--algorithms", type=positive_int, help="number of algorithms (default: one per value)")
    parser.add_argument("--rater-sd", type=float, metavar="SD",
                        help="between-rater SD of the rate (fraction) or threshold (ms); default: the paper's "
                        "spread for rates (study_app/plan.py DEFAULT_CONCENTRATION), 50 ms for hype-time")
    parser.add_argument("--trials", type=positive_int, help="scored trials per rater (per block for hype-time); "
                        "default: the protocol's")
    parser.add_argument("--raters", type=positive_int, help="raters per algorithm for power and cost when no target "
                        "is given (default: the protocol's)")
    parser.add_argument("--half-width", type=positive_float, metavar="H",
                        help="target 95%% interval half width (fraction; ms for hype-time): the raters needed")
    parser.add_argument("--difference", type=positive_float, metavar="D",
                        help="a difference between two algorithms to detect (fraction; ms for hype-time)")
    parser.add_argument("--power", type=_fraction, help="target power for --difference: the raters needed")
    parser.add_argument("--alpha", type=_fraction, default=0.05, help="two-sided test level (default 0.05)")
    parser.add_argument("--pay", type=float, default=0.0, metavar="USD", help="base pay per session")
    parser.add_argument("--pay-per-correct", type=float, default=0.0, metavar="USD",
                        help="bonus per right answer (HYPE: 0.02)")
    parser.add_argument("--fee", type=float, default=0.0, help="platform fee as a fraction of pay (MTurk: 0.2)")
    parser.add_argument("--frame-hz", type=positive_float, default=60.0, help="hype-time display rate (default 60)")
    parser.add_argument("--slope", type=positive_float, help="hype-time raters' psychometric slope (default 3)")
    parser.add_argument("--studies", type=positive_int, default=200, help="simulated studies per estimate (default 200)")
    parser.add_argument("--resamples", type=resamples, default=2000,
                        help="bootstrap replicates, 100 to 100000 (default 2000)")
    parser.add_argument("--seed", type=seed, default=0, help="simulation seed, 0 to 2**32-1 (default 0)")


def _algorithms(args: argparse.Namespace, protocol: "PlanProtocol") -> list[tuple[str, "Raters"]]:
    from p2p_eval.results import load_results
    from study_app.plan import DEFAULT_SLOPE, DEFAULT_TIME_SD_MS, PILOT_DESIGNS, Raters, default_rater_sd, pilot_raters

    timed = protocol.design == "hype-time"
    slope, frame_ms = args.slope or DEFAULT_SLOPE, 1000 / args.frame_hz
    if (args.expected is None) == (args.pilot is None):
        raise InputError("give the expected scores (--expected) or a pilot study's results (--pilot), one of them.")
    if args.pilot is not None:
        document = load_results(args.pilot, kinds=tuple(PILOT_DESIGNS))
        if PILOT_DESIGNS[document["kind"]] != protocol.design:
            raise InputError(f"{args.pilot}: {document['kind']} results cannot pilot a {protocol.name} study.")
        try:
            return pilot_raters(document, slope=slope, frame_ms=frame_ms if timed else None, seed=args.seed)
        except ValueError as err:
            raise InputError(f"{args.pilot}: {err}") from None
    means = list(args.expected) * (args.algorithms or 1) if len(args.expected) == 1 else list(args.expected)
    if args.algorithms not in (None, len(means)):
        raise InputError(f"--algorithms {args.algorithms} but --expected gives {len(means)} values.")
    for mean in means:
        if (timed and not 100 <= mean <= 1000) or (not timed and not 0 < mean < 1):
            raise InputError(f"--expected {mean}: expected " + ("ms in [100, 1000]" if timed else "a fraction in (0, 1)")
                             + f" for {protocol.name}.")
    if timed:
        sd = DEFAULT_TIME_SD_MS if args.rater_sd is None else args.rater_sd
        return [(f"#{i + 1}", Raters(m, sd, slope, frame_ms)) for i, m in enumerate(means)]
    return [(f"#{i + 1}", Raters(m, default_rater_sd(m) if args.rater_sd is None else args.rater_sd))
            for i, m in enumerate(means)]


def _progress(text: str) -> None:
    """What is being simulated, on one stderr line that the next call overwrites ("" clears it)."""
    if sys.stderr.isatty():
        print(f"\r{text:<72}" + ("" if text else "\r"), end="", file=sys.stderr, flush=True)


def _simulated(compute, *args, **kwargs):
    """Run a simulation; a ValueError (raters that cannot exist, a target out of reach) is the user's input."""
    try:
        return compute(*args, **kwargs)
    except ValueError as err:
        raise InputError(f"cannot plan this: {err}") from None
    finally:
        _progress("")


def run_plan(args: argparse.Namespace) -> int:
    """Print the interval width by raters, the raters a target needs, power and cost."""
    from study_app import plan
    from study_app.staircase import frame_warnings

    protocol = PROTOCOLS[args.protocol]
    trials = args.trials or protocol.trials
    timed = protocol.design == "hype-time"
    show = (lambda v: f"{v:.1f} ms") if timed else (lambda v: f"{100 * v:.1f}%")
    algorithms = _algorithms(args, protocol)
    settings = dict(trials=trials, n_studies=args.studies, n_resamples=args.resamples, seed=args.seed)
    cache: dict[tuple[int, int], "Estimate"] = {}

    def estimate(index: int, n: int) -> "Estimate":
        if (index, n) not in cache:
            _progress(f"simulating {args.studies} studies of {algorithms[index][0]} at {n} raters")
            cache[index, n] = _simulated(plan.estimate, protocol, algorithms[index][1], n, **settings)
        return cache[index, n]

    print(f"{protocol.name} ({protocol.source}): {trials} scored trials per rater"
          + (f" in each of {protocol.blocks} blocks" if protocol.blocks > 1 else "")
          + f"; {args.studies} simulated studies per figure, {args.resamples} bootstrap resamples, seed {args.seed}.")
    for name, raters in algorithms:
        what = "raters' mean threshold" if timed else "expected"
        print(f"  {name}: {what} {show(raters.mean)}, between-rater SD {show(raters.rater_sd)}")
    for warning in frame_warnings(algorithms[0][1].frame_ms) if timed else ():
        print(f"  note: {warning}")
    grid = sorted({*CURVE_RATERS, protocol.raters})
    needed = []
    if args.half_width is not None:
        each = [_simulated(plan.fewest_raters, lambda n, i=i: estimate(i, n).half_width <= args.half_width, grid)
                for i in range(len(algorithms))]
        needed.append(max(each))
        print(f"raters needed for a 95% interval half width <= {show(args.half_width)}: {max(each)} x {trials} "
              "trials per algorithm (" + ", ".join(f"{n}: {k}" for (n, _), k in zip(algorithms, each)) + ")")
    print("95% interval half width (± bootstrap SD) by raters per algorithm:")
    print("  raters  " + "  ".join(f"{name:>18}" for name, _ in algorithms))
    for n in sorted({*grid, *needed}):
        row = [estimate(i, n) for i in range(len(algorithms))]
        print(f"  {n:>6}  " + "  ".join(f"{show(e.half_width):>8} ({show(e.bootstrap_sd):>7})" for e in row))
    if args.difference is not None:
        needed += _print_power(args, protocol, algorithms[0][1], trials, show)
    correct = [estimate(i, grid[0]).correct_per_rater for i in range(len(algorithms))]
    print(_cost_line(args, max(needed) if needed else (args.raters or protocol.raters), correct))
    return 0


def _print_power(args: argparse.Namespace, protocol: "PlanProtocol", first: "Raters", trials: int, show) -> list[int]:
    """Print the power to tell `first` from `first` + ``--difference``; returns the raters ``--power`` needs."""
    from dataclasses import replace

    from study_app import plan

    timed = protocol.design == "hype-time"
    shifted = first.mean + args.difference
    other = replace(first, mean=shifted if shifted < (1000 if timed else 1) else first.mean - args.difference)
    if not timed and args.rater_sd is None and args.pilot is None:
        other = replace(other, rater_sd=plan.default_rater_sd(other.mean))
    test = dict(trials=trials, alpha=args.alpha, n_studies=args.studies, n_resamples=args.resamples, seed=args.seed)
    powers: dict[int, float] = {}

    def power(n: int) -> float:
        if n not in powers:
            _progress(f"simulating {args.studies} study pairs at {n} raters")
            powers[n] = _simulated(plan.power, protocol, first, other, n, **test)
        return powers[n]

    at = args.raters or protocol.raters
    print(f"power to tell {show(first.mean)} from {show(other.mean)} at {at} raters per algorithm: "
          f"{power(at):.2f} (two-sided bootstrap test, p < {args.alpha:g})")
    if args.power is None:
        return []
    n = _simulated(plan.fewest_raters, lambda n: power(n) >= args.power, (at,))
    print(f"raters needed for power {args.power:g}: {n} x {trials} trials per algorithm")
    return [n]


def _cost_line(args: argparse.Namespace, raters: int, correct: list[float]) -> str:
    """Total pay and fees of `raters` sessions per algorithm, with the expected right answers of each."""
    from study_app.plan import Pay

    pay = Pay(args.pay, args.pay_per_correct, args.fee)
    per_session = [pay.session_cost(c) for c in correct]
    how = (f"pay ${args.pay:.2f} + ${args.pay_per_correct:.2f} x ~{correct[0]:.0f} right answers per session"
           if args.pay_per_correct else f"pay ${args.pay:.2f} per session")
    fee = f", fee {100 * args.fee:g}%" if args.fee else ""
    return (f"cost at {raters} raters per algorithm: " + " + ".join(f"{raters} x ${c:.2f}" for c in per_session)
            + f" = ${raters * sum(per_session):,.2f} ({how}{fee})")
