"""`p2p-eval study demo`: a short study of two runs against a prepared dataset's photos."""

import json
import secrets
from collections.abc import Sequence
from pathlib import Path

from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.errors import InputError

DEMO_PRACTICE = 3
DEMO_MAIN = 10


def write_demo_config(runs: Sequence[Path], data: Path, split: str, out: Path) -> Path:
    """Write ``<out>/study.toml`` for a short paired study of `runs`; return its path.

    Trial counts shrink to the frames the split has (at least 2 are needed).
    """
    frames = PreparedDataset.load(data).frames(split)
    if len(frames) < 2:
        raise InputError(f"{data}: split {split!r} has {len(frames)} frame(s); a study needs at least 2.")
    practice = min(DEMO_PRACTICE, len(frames) // 3)
    main = min(DEMO_MAIN, len(frames) - practice)
    out.mkdir(parents=True, exist_ok=True)
    # json.dumps writes valid TOML basic strings (quotes and backslashes escaped).
    quoted = json.dumps
    algorithms = "".join(
        f"\n[[algorithms]]\nname = {quoted(Path(run).resolve().name)}\nrun = {quoted(str(Path(run).resolve()))}\n"
        f"split = {quoted(split)}\n"
        for run in runs
    )
    path = out / "study.toml"
    path.write_text(
        "# Written by `p2p-eval study demo`: a short study of two runs.\n"
        'title = "Which image is fake? (p2p-eval demo)"\n'
        'database = "sqlite:///study.sqlite"\n'
        f'admin_token = "{secrets.token_urlsafe(24)}"\n\n'
        f"[protocol]\npairing = \"paired\"\nexposure_ms = 1000\npractice_trials = {practice}\n"
        f"main_trials = {main}\nraters_per_algorithm = 5\n\n"
        f"[real]\ndataset = {quoted(str(Path(data).resolve()))}\nsplit = {quoted(split)}\n"
        + algorithms
        + '\n[completion]\ncode = "DEMO"\n',
        encoding="utf-8",
    )
    return path
