"""`p2p-eval study results`: its options, the two sources of a document (a study database or a records file),
and its printout (the analysis is `study_app.analysis` and `study_app.site_results`)."""

import argparse
from pathlib import Path

from p2p_eval.commands.argtypes import resamples, seed
from p2p_eval.errors import InputError
from study_app.records import HYPE_PROTOCOLS


def results_options(parser: argparse.ArgumentParser) -> None:
    """The arguments of `study results`."""
    parser.add_argument("config", type=Path, nargs="?", help="the study config (not with --records)")
    parser.add_argument("--json", type=Path, required=True, help="results document to write")
    parser.add_argument("--csv", type=Path, help="also write every answered trial as CSV (study database only)")
    parser.add_argument("--resamples", type=resamples, default=10_000,
                        help="bootstrap replicates, 100 to 100000 (default 10000)")
    parser.add_argument("--records", type=Path, metavar="TRIALS.csv|json",
                        help="analyse per-trial records of a single-image study instead of a study database "
                        "(columns: study_app/records.py)")
    parser.add_argument("--raters", type=Path, metavar="APPROVED.csv",
                        help="keep only these raters' sessions: the platform's export of approved participants "
                             "(Prolific's submissions export, AMT's batch results CSV) or one id per line")
    parser.add_argument("--protocol", choices=HYPE_PROTOCOLS, help="the records' protocol (with --records)")
    parser.add_argument("--seed", type=seed, help="bootstrap seed with --records, 0 to 2**32-1 (default 0; a study "
                        "database uses its config's seed)")


def run_results(args: argparse.Namespace) -> int:
    """`p2p-eval study results`: write the results document (and the trials CSV), print one line per algorithm."""
    from p2p_eval.data.files import json_text, write_text
    from p2p_eval.data.outputs import check_distinct_outputs, check_output_path

    if (args.config is None) == (args.records is None):
        raise InputError("give either a study config or --records TRIALS.csv (with --protocol), not both or neither.")
    outputs = [(args.json, "--json"), (args.csv, "--csv")]
    for path, option in outputs:  # before any work
        if path is not None:
            check_output_path(path, option=option)
    # --json x --csv x: the CSV replaced the JSON; --json naming the records: the answers were lost
    inputs = ((args.config, "the study config"), (args.records, "--records"), (args.raters, "--raters"))
    check_distinct_outputs(outputs, [(path, what) for path, what in inputs if path])
    if args.records is not None:
        document, rows = _records_document(args), None
    else:
        document, rows = _database_document(args)
    texts = [(args.json, json_text(document))]  # both made before either is written: both files or neither
    if args.csv:  # only with a database: _records_document refuses --csv
        from study_app.analysis import trials_csv
        from study_app.site_results import records_csv

        texts.append((args.csv, trials_csv(rows) if document["kind"] == "study" else records_csv(rows)))
    for path, text in texts:
        write_text(path, text)
    for line in _result_lines(document):
        print(line)
    print(f"wrote {args.json}" + (f" and {args.csv}" if args.csv else ""))
    return 0


def _database_document(args: argparse.Namespace) -> tuple[dict, list]:
    from sqlalchemy import inspect

    from study_app.analysis import study_document
    from study_app.approved import read_approved
    from study_app.config import load_config
    from study_app.db import make_engine
    from study_app.site_results import add_site_facts, check_algorithms, database_hype_document

    if args.protocol or args.seed is not None:
        raise InputError("--protocol and --seed go with --records; a study's protocol and seed are in its config.")
    config = load_config(args.config)
    raters = read_approved(args.raters) if args.raters else None  # a bad file fails before any work
    sqlite_file = config.database_url.removeprefix("sqlite:///")
    if config.database_url.startswith("sqlite:///") and not Path(sqlite_file).is_file():
        raise InputError(f"{sqlite_file}: no study database yet; serve the study first (`p2p-eval study serve`).")
    engine = make_engine(config.database_url)
    if not inspect(engine).has_table("answers"):
        raise InputError(f"{config.database_url}: no study answers here; serve the study first.")
    if inspect(engine).has_table("study_rules"):
        from study_app.rules import check_rules

        check_rules(engine, config.protocol, str(config.path))  # the rules the answers were collected under
    check_algorithms(engine, config)  # every rated algorithm is scored
    if config.protocol.task != "2afc":  # HYPE: the records of every answered trial (the --csv export)
        return database_hype_document(config, engine, n_resamples=args.resamples, raters=raters)
    document, rows = study_document(config, engine, n_resamples=args.resamples, raters=raters)
    add_site_facts(document, config, engine, rows, raters)
    return document, rows


def _records_document(args: argparse.Namespace) -> dict:
    import hashlib

    from study_app.analysis import hype_document
    from study_app.records import read_records

    if args.protocol is None:
        raise InputError(f"{args.records}: say which protocol the records follow: --protocol {{{','.join(HYPE_PROTOCOLS)}}}.")
    if args.csv:
        raise InputError("--csv exports a study database's trials; with --records the trials are already a file.")
    if args.raters:
        raise InputError("--raters keeps the approved raters' sessions of a study database; with --records, "
                         "leave the other raters' rows out of the records file.")
    records = read_records(args.records)
    source = {"path": str(args.records), "sha256": hashlib.sha256(args.records.read_bytes()).hexdigest()}
    return hype_document(records, args.protocol, source=source, n_resamples=args.resamples, seed=args.seed or 0)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _result_lines(document: dict) -> list[str]:
    """One line per algorithm: the score ± bootstrap SD, the interval, raters; then HYPE's tests."""
    kind, lines = document["kind"], []
    for run in document["runs"]:
        raters = f"{run['n_raters']} raters, {run['n_raters_excluded']} excluded"
        if kind == "study":
            pm = "" if run["bootstrap_sd"] is None else f" ± {_percent(run['bootstrap_sd'])}"
            bounds = run["intervals"].get("fool_rate")  # none when nobody rated the algorithm
            ci = f"; 95% interval {_percent(bounds[0])}–{_percent(bounds[1])}" if bounds else ""
            lines.append(f"{run['name']}: {_percent(run['fool_rate'])}{pm} fooled (± bootstrap SD, raters then "
                         f"trials{ci}; {raters})")
        elif run["bootstrap_sd"] is None:
            lines.append(f"{run['name']}: no scored trials ({raters})")
        elif kind == "hype-inf":
            low, high = run["intervals"]["hype_inf"]
            lines.append(f"{run['name']}: HYPE-inf {_percent(run['hype_inf'])} ± {_percent(run['bootstrap_sd'])} "
                         f"(95% CI {_percent(low)}–{_percent(high)}; wrong on fakes {_percent(run['fake_error'])}, "
                         f"on reals {_percent(run['real_error'])}; {raters})" + (" hyper-real" if run["hyper_real"] else ""))
        else:
            low, high = run["intervals"]["hype_time_ms"]
            lines.append(f"{run['name']}: HYPE-time {run['hype_time_ms']:.1f} ms ± {run['bootstrap_sd']:.1f} ms "
                         f"(95% CI {low:.1f}–{high:.1f} ms; {raters})")
        flags = (document["data"].get("trial_flags") or {}).get(run["name"])
        if flags:
            lines.append(f"  main trials: {flags['trials']}; re-exposed {flags['reexposed']}, off timing "
                         f"{flags['off_timing']}, implausible {flags['implausible']}; excluded {flags['excluded']}")
    for rule, counts in (document["data"].get("exclusions") or {}).items():
        lines.append(f"excluded by rule {rule}: {counts['trials']} main trial(s), {counts['raters']} rater(s)")
    approved = document["data"].get("approved_raters")
    if approved:
        lines.append(f"approved raters ({approved['path']}, sha256 {approved['sha256'][:12]}…): kept "
                     f"{approved['sessions_kept']} session(s); dropped {approved['sessions_dropped']} session(s) with "
                     f"{approved['trials_dropped']} answered trial(s) of unlisted ids")
        if approved["never_seen"]:
            lines.append(f"  {len(approved['never_seen'])} approved id(s) never took part: "
                         + ", ".join(approved["never_seen"]))
        if approved["not_approved_rows"]:
            lines.append("  rows of the file not approved: " + ", ".join(
                f"{status} {n}" for status, n in sorted(approved["not_approved_rows"].items())))
    for display in document["data"].get("displays") or []:
        lines += [f"warning: raters at {display['hz']:g} Hz ({display['sessions']} session(s)): {w}"
                  for w in display["warnings"]]
    tests = document.get("comparisons") or {}
    if tests.get("anova"):
        anova = tests["anova"]
        lines.append(f"one-way ANOVA across {len(tests['models'])} models: F({anova['df'][0]}, {anova['df'][1]}) = "
                     f"{_maybe(anova['statistic'])}, p = {_maybe(anova['p_value'], '.3g')}")
        lines += [f"  Tukey HSD {t['a']} - {t['b']}: {t['difference']:+.4g}, p = {_maybe(t['p_value'], '.3g')}"
                  for t in tests["tukey_hsd"]]
    if tests.get("t_test"):
        t = tests["t_test"]
        lines.append(f"unpaired t-test {t['a']} vs {t['b']}: t({t['df']}) = {_maybe(t['statistic'])}, "
                     f"p = {_maybe(t['p_value'], '.3g')}")
    return lines


def _maybe(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)
