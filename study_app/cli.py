"""`p2p-eval study ...`: write, check, serve and analyse a perceptual study."""

import argparse
import logging
import secrets
from pathlib import Path

from p2p_eval.errors import InputError
from study_app.plan_cli import plan_options, run_plan
from study_app.results_cli import results_options, run_results

log = logging.getLogger(__name__)

TEMPLATE = '''\
# A p2p-eval perceptual study ("real vs fake", the pix2pix paper's AMT protocol).
# Check it with `p2p-eval study check study.toml`, run it with `p2p-eval study serve study.toml`.
# Paths are relative to this file.

title = "Which image is fake?"
# SQLite file (WAL mode) by default; a PostgreSQL URL for several server processes:
#   database = "postgresql://user:password@host/dbname"  (or env P2P_STUDY_DATABASE_URL)
database = "sqlite:///study.sqlite"
# Token for /admin/?token=... (at least 16 characters; or env P2P_STUDY_ADMIN_TOKEN).
admin_token = "{token}"

# The information / consent text shown on the landing page (plain text; blank lines part paragraphs).
# consent = """
# By making judgments about these images, you are taking part in a study run by ...
# """

[protocol]
# The protocol of the paper's AMT studies (phillipi/AMT_Real_vs_Fake): the images one after the other,
# 900 ms blank, left 1000 ms, 600 ms blank, right 1000 ms; 10 practice + 40 main trials, 50 raters per
# algorithm, no vigilance. Every value below overrides it; without a preset both images show at once.
preset = "pix2pix-2017"
pairing = "paired"              # "paired": real and fake from the same input (colorization);
                                # "unpaired": from different inputs (maps <-> aerial)
# presentation = "sequential"   # or "simultaneous": both images at once after a fixation cross
# exposure_ms = 1000            # each image shown this long, locked to display frames
# lead_ms = 900                 # blank before the first image (simultaneous: 500, with a fixation cross)
# gap_ms = 600                  # blank between the two images (sequential only)
# feedback_ms = 2400            # practice feedback (both images, labelled) shows this long; 0: until Continue
# practice_trials = 10          # with feedback, not scored
# main_trials = 40              # scored, no feedback
vigilance_trials = 0            # extra obviously-fake trials in the main phase ...
# vigilance = "blur"            # ... heavily blurred, or "random-colour" (another photo's colours; zhang-2016)
vigilance_max_misses = 0        # raters missing more are flagged ...
exclude_vigilance_failures = true   # ... and left out of the results
# raters_per_algorithm = 50
# image_size = 256              # both images are shown as raw pixels at this size
exclude_reexposed = true        # trials shown twice (a reload mid-trial) leave the results
exclude_timing_flags = false    # trials more than a frame off target, or with an implausible timeline
too_fast_ms = 0                 # answers sooner than this after the response opened leave the results (0: off)
# Other presets: "zhang-2016" (colorization 2AFC, 1 s, side by side, 10% random-colour vigilance trials),
# "hype-inf" (one image per trial, real or fake 50/50, unlimited viewing, 100 images), "hype-time" (one image
# after a 3-2-1 countdown, exposure on a 100-1000 ms staircase, noise masks, 3 blocks of 150). Their keys
# (README "Protocol presets"): task, real_percent, feedback, blocks, countdown(_ms), masks, mask_ms,
# staircase_start_ms/min_ms/max_ms/up_ms/down_ms/n_down. The rules above are fixed once an answer is stored.
# qualification_trials = 100    # a qualification block first (HYPE: 100 images, 50/50, no time limit) ...
# qualification_min_real = 0.65 # ... passed with this share right on the reals ...
# qualification_min_fake = 0.65 # ... and on the fakes; raters who fail are not admitted ...
# qualification_pay = true      # ... and are paid ([completion] screened_code) or, if false, asked to return
session_timeout_s = 3600        # an idle session past this frees its slot
seed = 0                        # which images each session sees (sides come from the OS's CSPRNG)

# The real photos: a folder of images, or a prepared dataset's photos.
[real]
images = "real"
# dataset = "data/synthetic"
# split = "val"
# glob = "*_real_B.png"         # e.g. a PyTorch pix2pix results folder

# One table per algorithm: a folder of images, or a run (p2p-eval or PyTorch pix2pix).
[[algorithms]]
name = "L1"
images = "fake_l1"

[[algorithms]]
name = "L1+cGAN"
images = "fake_l1_cgan"
# run = "runs/unet-l1-cgan"
# split = "val"

[completion]
code = "{code}"                 # shown at the end (paste into Prolific / your form)
# screened_code = "..."         # for raters who fail the qualification (default: code)
# redirect_url = "https://app.prolific.com/submissions/complete?cc={code}"
'''


def register(subparsers: argparse._SubParsersAction) -> None:
    study = subparsers.add_parser(
        "study",
        help="host an AMT-style real-vs-fake perceptual study and analyse it",
        description="Host the pix2pix paper's real-vs-fake perceptual study and compute its results.",
        epilog="examples:\n  p2p-eval study init mystudy\n  p2p-eval study check mystudy/study.toml\n"
               "  p2p-eval study serve mystudy/study.toml --port 8080\n"
               "  p2p-eval study results mystudy/study.toml --json study.json --csv trials.csv\n"
               "  p2p-eval study results --records trials.csv --protocol hype-time --json hype.json\n"
               "  p2p-eval study plan --protocol pix2pix-2017 --expected 0.2,0.3 --difference 0.1 --pay 1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = study.add_subparsers(title="study commands", metavar="COMMAND", required=True)

    def add(name: str, help_: str, example: str, func) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_, description=help_[0].upper() + help_[1:] + ".",
                                     epilog=f"example:\n  {example}", formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.set_defaults(func=func)
        return parser

    init = add("init", "write a commented study config template", "p2p-eval study init mystudy", _init)
    init.add_argument("dir", type=Path, help="folder to write study.toml into")
    check = add("check", "validate a study config and read every image", "p2p-eval study check mystudy/study.toml", _check)
    check.add_argument("config", type=Path)
    serve = add("serve", "serve a study with the waitress WSGI server", "p2p-eval study serve mystudy/study.toml --host 0.0.0.0 --port 8080", _serve)
    serve.add_argument("config", type=Path)
    _server_options(serve)
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes sharing one port (default 1; more need a PostgreSQL database)")
    results = add("results", "compute fool rates (or HYPE scores) with their bootstrap SD, intervals and tests",
                  "p2p-eval study results mystudy/study.toml --json study.json --csv trials.csv\n"
                  "  p2p-eval study results --records trials.csv --protocol hype-inf --json hype.json", run_results)
    results_options(results)
    plan = add("plan", "raters x trials, power and cost of a study, by simulating it and its bootstrap",
               "p2p-eval study plan --protocol hype-inf --expected 0.3 --half-width 0.03 --pay 1 --pay-per-correct 0.02",
               run_plan)
    plan_options(plan)
    demo = add("demo", "serve a short study of two runs against a prepared dataset's real photos",
               "p2p-eval study demo --runs runs/unet-l1 runs/unet-l1-cgan --data data/synthetic --port 8080", _demo)
    demo.add_argument("--runs", type=Path, nargs=2, required=True, metavar="RUN")
    demo.add_argument("--data", type=Path, required=True, help="prepared dataset (real photos)")
    demo.add_argument("--split", default="val")
    demo.add_argument("--out", type=Path, default=Path("study-demo"), help="folder for the config and database")
    _server_options(demo)


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one; default 8080)")
    parser.add_argument("--threads", type=int, default=4, help="waitress worker threads (default 4; more is slower on few cores)")


def _init(args: argparse.Namespace) -> int:
    path = args.dir / "study.toml"
    if path.exists():
        raise InputError(f"{path}: already exists; remove it or choose another folder.")
    args.dir.mkdir(parents=True, exist_ok=True)
    path.write_text(TEMPLATE.format(token=secrets.token_urlsafe(24), code=secrets.token_hex(4).upper()), encoding="utf-8")
    print(f"wrote {path}; edit the image paths, then run `p2p-eval study check {path}`.")
    return 0


def _check(args: argparse.Namespace) -> int:
    from study_app.adaptive import COMMON_DISPLAYS_HZ, display_warnings
    from study_app.config import load_config
    from study_app.rules import describe
    from study_app.stimuli import check_images, load_stimuli

    config = load_config(args.config)
    stimuli = load_stimuli(config)
    for warning in check_images(stimuli, config.protocol.image_size):
        log.warning("%s", warning)
    p = config.protocol
    if p.task == "2afc":
        trials = (f"{p.practice_trials} practice + {p.main_trials} main (+{p.vigilance_trials} vigilance"
                  + (f", {p.vigilance}" if p.vigilance_trials else "") + f") trials, {p.presentation} {p.exposure_ms} ms, "
                  f"{p.pairing}")
    else:
        viewing = "unlimited viewing" if p.task == "hype-inf" else (
            f"staircase {p.staircase_min_ms}-{p.staircase_max_ms} ms from {p.staircase_start_ms} ms "
            f"(+{p.staircase_up_ms} ms wrong, -{p.staircase_down_ms} ms after {p.staircase_n_down} right), "
            f"{p.countdown}-step countdown of {p.countdown_ms} ms, {p.masks} masks of {p.mask_ms} ms")
        trials = (f"{p.task}: {p.practice_trials} practice + {p.main_trials} main trials in {p.blocks} block(s), one "
                  f"image each, {p.real_percent}% real, {viewing}, feedback after "
                  + ("every trial" if p.feedback == "every" else "practice trials only"))
    qualification = f"{p.qualification_trials} qualification trials + " if p.qualification_trials else ""
    print(f"{config.path}: OK. {len(stimuli.real)} real images; "
          + ", ".join(f"{name}: {len(images)} images" for name, images in stimuli.fakes.items())
          + f". {qualification}{trials}" + (f" (preset {p.preset})" if p.preset else "")
          + f", {p.raters_per_algorithm} raters per algorithm.")
    print("exclusion rules (fixed at the first start; the site refuses other rules once an answer is stored):")
    for line in describe(p):
        print(f"  {line}")
    session_photos = (p.practice_trials + p.main_trials) * (1 if p.pairing == "paired" else 2)
    if p.task == "2afc" and p.vigilance_trials and len(stimuli.real) < session_photos + 2:
        print(f"warning: vigilance trials need 2 real photos a session shows nowhere else, and {len(stimuli.real)} "
              f"real images leave fewer beside a session's {session_photos}: a vigilance trial may show a scored "
              "trial's real photo again, which tells a rater who remembers it which side of that trial is real.")
    if p.task == "2afc" and p.pairing == "unpaired" and len(stimuli.real) < 2 * (p.practice_trials + p.main_trials):
        print(f"warning: unpaired sessions show {p.practice_trials + p.main_trials} fakes and as many real photos; "
              f"with {len(stimuli.real)} real images a scene shown as one trial's fake may be another trial's real "
              "photo, and a rater can compare the two.")
    for hz in COMMON_DISPLAYS_HZ:
        for warning in display_warnings(p, 1000 / hz):
            print(f"warning: on a {hz} Hz display, {warning}")
    if not config.admin_token:
        print("note: no admin_token; `serve` will generate one for the session.")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from study_app.serve import serve

    if args.workers < 1:
        raise InputError(f"Expected `--workers` to be at least 1, got {args.workers}.")
    return serve(args.config, args.host, args.port, args.threads, args.workers)


def _demo(args: argparse.Namespace) -> int:
    from study_app.demo import write_demo_config
    from study_app.serve import serve

    return serve(write_demo_config(args.runs, args.data, args.split, args.out), args.host, args.port, args.threads)
