"""The study config file (TOML) as frozen dataclasses, validated once.

Every error names the file and the key (``study.toml: [protocol] exposure_ms: ...``)
and says what is allowed, so a study is fixed before anyone is paid. Paths in the
file are relative to the file's folder.
"""

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from p2p_eval.errors import InputError
from p2p_eval.measures.hype_time.entry import STAIRCASE_MS
from study_app.presentation import (
    AUTHORS_GAP_MS, HYPE_COUNTDOWN, HYPE_COUNTDOWN_MS, HYPE_MASK_MS, HYPE_MASKS, LEAD_MS, PRESENTATIONS, PRESETS,
    TASKS, VIGILANCE_KINDS,
)
from study_app.protocol import FEEDBACK, PAIRINGS, TASK_ONLY, Protocol
from study_app.staircase import HYPE_TIME

ADMIN_TOKEN_ENV = "P2P_STUDY_ADMIN_TOKEN"
DATABASE_URL_ENV = "P2P_STUDY_DATABASE_URL"


@dataclass(frozen=True)
class ImageSource:
    """Where a set of images comes from.

    Attributes
    ----------
    kind : {"images", "run", "dataset"}
        A plain folder of images (``images``), a p2p-eval / PyTorch pix2pix run
        (``run``) or a prepared dataset's real photos (``dataset``).
    path : Path
        Absolute path of the folder.
    split : str
        Split of a run or dataset (ignored for a plain folder).
    glob : str
        File pattern within a plain folder.
    """

    kind: str
    path: Path
    split: str = "val"
    glob: str = "*"


@dataclass(frozen=True)
class Algorithm:
    """One algorithm under test: its name in tables and its generated images."""

    name: str
    source: ImageSource


@dataclass(frozen=True)
class Completion:
    """What a rater gets at the end: a code to paste and/or a redirect."""

    code: str | None = None
    redirect_url: str | None = None
    screened_code: str | None = None  # for raters who failed the qualification (default: `code`)
    screened_redirect_url: str | None = None  # (default: `redirect_url`)


@dataclass(frozen=True)
class StudyConfig:
    """A whole study, as read from its TOML file."""

    path: Path
    title: str
    protocol: Protocol
    real: ImageSource
    algorithms: tuple[Algorithm, ...]
    completion: Completion
    database_url: str
    admin_token: str | None
    consent: str | None = None  # information / consent text on the landing page

    @property
    def algorithm_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.algorithms)


class _Table:
    """One TOML table being read: typed look-ups whose errors name file and key."""

    def __init__(self, path: Path, section: str, data: Any):
        if not isinstance(data, dict):
            raise InputError(f"{path}: [{section}] must be a table, got {type(data).__name__}.")
        self.path, self.section, self.data, self.used = path, section, data, set()

    def where(self, key: str) -> str:
        return f"{self.path}: [{self.section}] {key}" if self.section else f"{self.path}: {key}"

    def get(self, key: str, kind: type, default: Any = None, *, required: bool = False) -> Any:
        self.used.add(key)
        if key not in self.data:
            if required:
                raise InputError(f"{self.where(key)}: missing; add it (see `p2p-eval study init`).")
            return default
        value = self.data[key]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise InputError(f"{self.where(key)}: expected an integer, got {value!r}.")
        if not isinstance(value, kind):
            name = " or ".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__
            raise InputError(f"{self.where(key)}: expected {name}, got {value!r}.")
        return value

    def int_in(self, key: str, default: int, low: int, high: int) -> int:
        value = self.get(key, int, default)
        if not low <= value <= high:
            raise InputError(f"{self.where(key)}: expected an integer in [{low}, {high}], got {value}.")
        return value

    def float_in(self, key: str, default: float, low: float, high: float) -> float:
        value = self.get(key, (int, float), default)
        if isinstance(value, bool) or not low <= value <= high:
            raise InputError(f"{self.where(key)}: expected a number in [{low}, {high}], got {value!r}.")
        return float(value)

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise InputError(
                f"{self.where(unknown[0])}: unknown key; allowed here: {sorted(self.used)}."
            )


def _source(table: _Table, base: Path, allowed: tuple[str, ...]) -> ImageSource:
    given = [kind for kind in allowed if kind in table.data]
    if len(given) != 1:
        raise InputError(
            f"{table.where('|'.join(allowed))}: give exactly one of {list(allowed)}, got {given or 'none'}."
        )
    kind = given[0]
    path = (base / table.get(kind, str)).resolve()
    split = table.get("split", str, "val")
    glob = table.get("glob", str, "*")
    if not path.is_dir():
        raise InputError(f"{table.where(kind)}: {path} is not a folder; fix the path (relative to the config file).")
    return ImageSource(kind=kind, path=path, split=split, glob=glob)


def _protocol(table: _Table) -> Protocol:
    preset = table.get("preset", str)
    if preset is not None and preset not in PRESETS:
        raise InputError(f"{table.where('preset')}: expected one of {sorted(PRESETS)}, got {preset!r}.")
    base = PRESETS.get(preset, {})

    def value(key: str, default: Any) -> Any:
        return base.get(key, default)

    task = table.get("task", str, value("task", "2afc"))
    if task not in TASKS:
        raise InputError(f"{table.where('task')}: expected one of {list(TASKS)}, got {task!r}.")
    for key, tasks in TASK_ONLY.items():
        if key in table.data and task not in tasks:
            raise InputError(f"{table.where(key)}: only a {' or '.join(tasks)} task has it, and this one is "
                             f"task = {task!r}; remove it.")
    pairing = table.get("pairing", str, value("pairing", "paired"))
    if pairing not in PAIRINGS:
        raise InputError(f"{table.where('pairing')}: expected one of {list(PAIRINGS)}, got {pairing!r}.")
    presentation = table.get("presentation", str, value("presentation", "simultaneous"))
    if presentation not in PRESENTATIONS:
        raise InputError(f"{table.where('presentation')}: expected one of {list(PRESENTATIONS)}, got {presentation!r}.")
    if presentation == "sequential":
        gap_ms = table.int_in("gap_ms", AUTHORS_GAP_MS, 0, 60_000)
    elif "gap_ms" in table.data:
        raise InputError(f"{table.where('gap_ms')}: only a sequential presentation has a gap between the "
                         "images; remove it or set presentation = \"sequential\".")
    else:
        gap_ms = None
    protocol = Protocol(
        pairing=pairing,
        exposure_ms=table.int_in("exposure_ms", value("exposure_ms", 1000), 17, 60_000),
        presentation=presentation,
        # The preset's lead belongs to its presentation; another presentation brings its own.
        lead_ms=table.int_in("lead_ms", base.get("lead_ms", LEAD_MS[presentation])
                             if base.get("presentation") == presentation else LEAD_MS[presentation], 0, 60_000),
        gap_ms=gap_ms,
        feedback_ms=table.int_in("feedback_ms", value("feedback_ms", 2400), 0, 60_000),
        practice_trials=table.int_in("practice_trials", value("practice_trials", 10), 0, 1000),
        main_trials=table.int_in("main_trials", value("main_trials", 40), 1, 1000),
        vigilance_trials=table.int_in("vigilance_trials", value("vigilance_trials", 0), 0, 1000),
        vigilance_max_misses=table.int_in("vigilance_max_misses", value("vigilance_max_misses", 0), 0, 1000),
        exclude_vigilance_failures=table.get("exclude_vigilance_failures", bool, value("exclude_vigilance_failures", True)),
        raters_per_algorithm=table.int_in("raters_per_algorithm", value("raters_per_algorithm", 50), 1, 1_000_000),
        image_size=table.int_in("image_size", value("image_size", 256), 16, 2048),
        session_timeout_s=table.int_in("session_timeout_s", 3600, 10, 7 * 24 * 3600),
        seed=table.int_in("seed", 0, 0, 2**63 - 1),
        exclude_reexposed=table.get("exclude_reexposed", bool, True),
        exclude_timing_flags=table.get("exclude_timing_flags", bool, False),
        preset=preset,
        task=task,
        vigilance=_one_of(table, "vigilance", value("vigilance", "blur"), VIGILANCE_KINDS),
        feedback=_one_of(table, "feedback", value("feedback", "practice"), FEEDBACK),
        real_percent=table.int_in("real_percent", value("real_percent", 50), 1, 99),
        blocks=table.int_in("blocks", value("blocks", 1), 1, 100),
        countdown=table.int_in("countdown", HYPE_COUNTDOWN, 0, 10),
        countdown_ms=table.int_in("countdown_ms", HYPE_COUNTDOWN_MS, 17, 10_000),
        masks=table.int_in("masks", HYPE_MASKS, 0, 20),
        mask_ms=table.int_in("mask_ms", HYPE_MASK_MS, 1, 1000),
        **{f"staircase_{key}": table.int_in(f"staircase_{key}", int(getattr(HYPE_TIME, key)), *STAIRCASE_MS)
           for key in ("start_ms", "min_ms", "max_ms")},
        staircase_up_ms=table.int_in("staircase_up_ms", int(HYPE_TIME.up_ms), 1, 900),
        staircase_down_ms=table.int_in("staircase_down_ms", int(HYPE_TIME.down_ms), 1, 900),
        staircase_n_down=table.int_in("staircase_n_down", HYPE_TIME.n_down, 1, 20),
        qualification_trials=table.int_in("qualification_trials", value("qualification_trials", 0), 0, 1000),
        qualification_min_real=table.float_in("qualification_min_real", 0.65, 0.0, 1.0),
        qualification_min_fake=table.float_in("qualification_min_fake", 0.65, 0.0, 1.0),
        qualification_pay=table.get("qualification_pay", bool, True),
        too_fast_ms=table.int_in("too_fast_ms", 0, 0, 60_000),
    )
    _check_protocol(table, protocol)
    table.finish()
    return protocol


def _one_of(table: _Table, key: str, default: str, allowed: tuple[str, ...]) -> str:
    value = table.get(key, str, default)
    if value not in allowed:
        raise InputError(f"{table.where(key)}: expected one of {list(allowed)}, got {value!r}.")
    return value


def _check_protocol(table: _Table, protocol: Protocol) -> None:
    """What holds between the values: blocks divide the trials, the staircase is one, a qualification can be passed."""
    if protocol.main_trials % protocol.blocks:
        raise InputError(f"{table.where('blocks')}: {protocol.main_trials} main trials do not split into "
                         f"{protocol.blocks} equal blocks; make main_trials a multiple of blocks.")
    try:
        protocol.staircase
    except ValueError as err:
        raise InputError(f"{table.where('staircase_start_ms')}: {err}") from None
    q = protocol.qualification_trials
    if q and not 0 < int(q * protocol.real_percent / 100 + 0.5) < q:
        raise InputError(f"{table.where('qualification_trials')}: a qualification needs real and fake images, and "
                         f"{q} trials at {protocol.real_percent}% real have only one kind; use more trials (HYPE: "
                         "100), or 0 for none.")


def load_config(path: str | os.PathLike) -> StudyConfig:
    """Read and validate a study config file.

    Parameters
    ----------
    path : path-like
        The TOML file (`p2p-eval study init` writes a commented template).

    Returns
    -------
    StudyConfig

    Raises
    ------
    InputError
        If the file is missing or not TOML, or a key is unknown, missing, of the
        wrong type or out of range; the message names the file and the key.
    """
    path = Path(path).resolve()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: file not found; write one with `p2p-eval study init DIR`.") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{path}: not valid TOML ({err}).") from None
    base = path.parent
    top = _Table(path, "", raw)
    title = top.get("title", str, "Which image is fake?")
    database_url = os.environ.get(DATABASE_URL_ENV) or top.get("database", str, "sqlite:///study.sqlite")
    if database_url.startswith("sqlite:///") and not database_url.startswith("sqlite:////"):
        relative = database_url[len("sqlite:///"):]
        database_url = f"sqlite:///{(base / relative).resolve()}" if relative and relative != ":memory:" else database_url
    admin_token = os.environ.get(ADMIN_TOKEN_ENV) or top.get("admin_token", str) or None
    if admin_token is not None and len(admin_token) < 16:
        raise InputError(f"{top.where('admin_token')}: use at least 16 random characters, got {len(admin_token)}.")
    consent = top.get("consent", str) or None
    if isinstance(top.data.get("protocol"), str):  # `protocol = "pix2pix-2017"`: a preset as it stands
        protocol_table = {"preset": top.get("protocol", str)}
    else:
        protocol_table = top.get("protocol", dict, {})
    protocol = _protocol(_Table(path, "protocol", protocol_table))
    real_table = _Table(path, "real", top.get("real", dict, required=True))
    real = _source(real_table, base, ("images", "dataset"))
    real_table.finish()
    algorithms = []
    for i, entry in enumerate(top.get("algorithms", list, required=True)):
        table = _Table(path, f"[algorithms] #{i + 1}", entry)
        name = table.get("name", str, required=True).strip()
        if not name or len(name) > 100:
            raise InputError(f"{table.where('name')}: expected 1 to 100 characters, got {name!r}.")
        algorithms.append(Algorithm(name=name, source=_source(table, base, ("images", "run"))))
        table.finish()
    if not algorithms:
        raise InputError(f"{top.where('algorithms')}: list at least one [[algorithms]] table.")
    names = [a.name for a in algorithms]
    if len(set(names)) != len(names):
        raise InputError(f"{top.where('algorithms')}: names must be unique, got {names}.")
    completion_table = _Table(path, "completion", top.get("completion", dict, {}))
    completion = Completion(
        code=completion_table.get("code", str) or None,
        redirect_url=completion_table.get("redirect_url", str) or None,
        screened_code=completion_table.get("screened_code", str) or None,
        screened_redirect_url=completion_table.get("screened_redirect_url", str) or None,
    )
    completion_table.finish()
    for key in ("redirect_url", "screened_redirect_url"):
        url = getattr(completion, key)
        if url and not url.startswith(("https://", "http://")):
            raise InputError(f"{completion_table.where(key)}: expected an http(s) URL, got {url!r}.")
    top.finish()
    return StudyConfig(
        path=path, title=title, protocol=protocol, real=real, algorithms=tuple(algorithms),
        completion=completion, database_url=database_url, admin_token=admin_token, consent=consent,
    )
