"""The raters a platform approved: `p2p-eval study results --raters approved.csv`.

The site cannot verify a platform id: ``?PROLIFIC_PID=`` and ``workerId`` are
whatever the URL says, so a bot, or a rater the platform screened out, can come
back with a made-up id and be served. The platform knows whom it paid. This
module reads its export and keeps only those raters' sessions in the results:

- **Prolific**'s submissions export: the participant id column, ``Participant
  id`` (earlier exports: ``participant_id``), with its ``Status`` (``status``);
  only rows whose status is ``APPROVED`` approve a rater.
- **AMT**'s batch results CSV: ``WorkerId``, with ``AssignmentStatus`` (one of
  ``Submitted``, ``Approved``, ``Rejected``, as the Requester API documents it);
  only ``Approved`` rows approve a rater.
- A **plain list**: one id per line, no header, for any platform.

A Prolific export matches only Prolific sessions and an AMT one only AMT
sessions; a plain list matches either by id. Plain-link (``local``) sessions
have no platform id and are never approved. What the filter removed (sessions,
their answered trials, ids of the file that no session used, rows the platform
did not approve) goes into the results document with the file's SHA-256
(`summary`).
"""

import csv
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from p2p_eval.errors import InputError
from study_app import db

ID_COLUMNS = {"Participant id": "prolific", "participant_id": "prolific", "WorkerId": "amt"}
"""Column names of the platforms' exports that hold the rater's id, and the platform each means."""
STATUS_COLUMNS = {"prolific": ("Status", "status"), "amt": ("AssignmentStatus",)}
APPROVED_STATUS = "approved"  # Prolific "APPROVED", AMT "Approved"
_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")  # what the site accepts as a platform id (study_app.rater)
_FIX = ("give the platform's export of approved participants (Prolific: the submissions export, with "
        "`Participant id` and `Status`; AMT: the batch results CSV, with `WorkerId` and `AssignmentStatus`), "
        "or a file of one id per line")


@dataclass(frozen=True)
class ApprovedRaters:
    """The platform ids a file approves.

    Attributes
    ----------
    path : Path
    sha256 : str
        Of the file's bytes.
    platform : str or None
        ``"prolific"`` or ``"amt"`` for a platform's export, None for a plain list.
    ids : frozenset of str
        Approved platform ids (without the site's ``prolific:`` / ``amt:`` prefix).
    not_approved : dict of str to int
        Rows of an export whose status did not approve the rater, by status.
    """

    path: Path
    sha256: str
    platform: str | None
    ids: frozenset[str]
    not_approved: dict[str, int]

    def keeps(self, rater_id: str) -> bool:
        """Whether the session of `rater_id` (the site's ``platform:id``) is an approved rater's.

        Examples
        --------
        >>> raters = ApprovedRaters(Path("a.csv"), "", "prolific", frozenset({"5f1a"}), {})
        >>> raters.keeps("prolific:5f1a"), raters.keeps("amt:5f1a"), raters.keeps("prolific:0000")
        (True, False, False)
        """
        platform, _, platform_id = rater_id.partition(":")
        return platform != "local" and self.platform in (None, platform) and platform_id in self.ids


def read_approved(path: Path) -> ApprovedRaters:
    """Read a platform's export of approved participants, or a plain list of ids.

    Raises
    ------
    InputError
        If the file is missing or unreadable, has no id column, holds an id the
        site would never have accepted, or approves nobody.
    """
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")  # a spreadsheet's export may start with a byte-order mark
    except OSError as error:
        raise InputError(f"{path}: cannot read the approved raters ({error.strerror or error}); {_FIX}.") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; {_FIX}.") from None
    reader = csv.reader(io.StringIO(text))
    # Blank lines are skipped, but every row keeps its line in the file, for the errors.
    rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    if not rows:
        raise InputError(f"{path}: no raters in it; {_FIX}.")
    header = [cell.strip() for cell in rows[0][1]]
    id_column = next((name for name in header if name in ID_COLUMNS), None)
    if id_column is not None:
        platform = ID_COLUMNS[id_column]
        ids, not_approved = _export_ids(path, header, rows[1:], id_column, platform)
    elif all(len(row) == 1 for _, row in rows):
        platform, not_approved = None, {}
        ids = [_checked(path, row[0], line) for line, row in rows]
    else:
        raise InputError(f"{path}: no participant id column (found {', '.join(map(repr, header))}); {_FIX}.")
    if not ids:
        statuses = ", ".join(f"{status} {n}" for status, n in sorted(not_approved.items()))
        raise InputError(f"{path}: approves nobody (rows by status: {statuses or 'none'}); approve the submissions "
                         "on the platform first and export again, or list the ids to keep one per line.")
    return ApprovedRaters(path, hashlib.sha256(raw).hexdigest(), platform, frozenset(ids), not_approved)


def _export_ids(path: Path, header: list[str], rows: list[tuple[int, list[str]]], id_column: str,
                platform: str) -> tuple[list[str], dict[str, int]]:
    """The approved ids of a platform export's (line, row)s (all of them when it has no status column)."""
    at = header.index(id_column)
    status_at = next((header.index(name) for name in STATUS_COLUMNS[platform] if name in header), None)
    ids, not_approved = [], Counter()
    for line, row in rows:
        if len(row) != len(header):
            raise InputError(f"{path}: line {line} has {len(row)} fields where the header has {len(header)}; "
                             "export the file again from the platform.")
        status = row[status_at].strip() if status_at is not None else APPROVED_STATUS
        if status.lower() == APPROVED_STATUS:
            ids.append(_checked(path, row[at], line))
        else:
            not_approved[status or "(empty)"] += 1
    return ids, dict(not_approved)


def _checked(path: Path, value: str, line: int) -> str:
    value = value.strip()
    if not _ID.match(value):
        raise InputError(f"{path}: line {line}: expected a platform id (letters, digits, `_.-`, at most 100), "
                         f"got {value!r}; {_FIX}.")
    return value


def summary(raters: ApprovedRaters, engine: Engine) -> dict[str, Any]:
    """What keeping only `raters` removed, for the results document's ``data.approved_raters``.

    Returns
    -------
    summary : dict
        ``path``, ``sha256``, ``platform`` (None: a plain list), ``approved``
        (ids the file approves), ``not_approved_rows`` (by status),
        ``sessions_dropped`` and ``trials_dropped`` (answered trials of those
        sessions, every phase), ``sessions_kept``, and ``never_seen``: the
        approved ids no session of the database used (sorted).
    """
    s, a = db.sessions, db.answers
    query = (select(s.c.rater_id, func.count(a.c.idx)).outerjoin(a, a.c.session_id == s.c.id).group_by(s.c.rater_id))
    with engine.connect() as conn:
        sessions = conn.execute(query).all()
    kept = [rater for rater, _ in sessions if raters.keeps(rater)]
    dropped = [(rater, n) for rater, n in sessions if not raters.keeps(rater)]
    seen = {rater.partition(":")[2] for rater in kept}
    return {
        "path": str(raters.path), "sha256": raters.sha256, "platform": raters.platform, "approved": len(raters.ids),
        "not_approved_rows": raters.not_approved, "sessions_kept": len(kept), "sessions_dropped": len(dropped),
        "trials_dropped": sum(n for _, n in dropped), "never_seen": sorted(raters.ids - seen),
    }
