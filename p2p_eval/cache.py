"""Per-image results cached on disk, so interrupted or repeated scoring is incremental.

Each run gets one SQLite file (``<run>/.p2p-eval-cache.sqlite``, or under
``$XDG_CACHE_HOME/p2p-eval/`` when the run folder is read-only). An entry is
keyed by a *namespace* — the measure and everything its result depends on
(segmenter sha256, resize kernel, bins ...) — and the image's content digest,
so a changed image or a changed protocol is recomputed and nothing stale is
ever reused. Each `put_many` is one committed transaction: a crash loses at
most the batch in flight. WAL mode lets several scoring processes share a file.

Nothing read back is trusted blindly: every entry carries a checksum of its
bytes, and an entry whose bytes no longer match (a flipped bit, a hand edit)
is dropped with a warning naming the file, so it is recomputed. A file that
SQLite cannot read at all (truncated, overwritten, not a database) is moved
aside to ``<name>.damaged-<time>`` with a warning, and a fresh one is started.
"""

import datetime as _dt
import functools
import hashlib
import io
import itertools
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

import numpy as np

log = logging.getLogger(__name__)

CACHE_NAME = ".p2p-eval-cache.sqlite"
_TABLE = "states"  # (space, digest, value, checksum); the table before checksums was "items"
_T = TypeVar("_T")


def file_digest(path: str | os.PathLike) -> str:
    """blake2b digest of a file's bytes (what the cache keys images by)."""
    digest = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stable_file_digest(path: str | os.PathLike) -> str:
    """`file_digest`, computed once per process for a file whose size and mtime did not change.

    For the dataset files every run is scored against (and whose digest each
    split's record holds): read once, however many runs use them.
    """
    info = os.stat(path)
    return _digest_once(Path(path), info.st_mtime_ns, info.st_size)


@functools.lru_cache(maxsize=16384)
def _digest_once(path: Path, mtime_ns: int, size: int) -> str:
    return file_digest(path)


def namespace(measure: str, **protocol) -> str:
    """A cache namespace: the measure plus a hash of what its numbers depend on."""
    blob = json.dumps(protocol, sort_keys=True, default=str).encode()
    return f"{measure}:{hashlib.sha256(blob).hexdigest()[:16]}"


def cache_path_for(run_root: str | os.PathLike) -> Path:
    """The cache file of a run folder (a user cache folder if the run is read-only)."""
    run_root = Path(run_root)
    if os.access(run_root, os.W_OK):
        return run_root / CACHE_NAME
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "p2p-eval"
    return base / f"{hashlib.sha256(str(run_root.resolve()).encode()).hexdigest()[:16]}.sqlite"


def _to_blob(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def _from_blob(blob: bytes) -> np.ndarray:
    return np.load(io.BytesIO(blob), allow_pickle=False)


def _checksum(blob: bytes) -> str:
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


def _is_damage(err: sqlite3.DatabaseError) -> bool:
    """A file SQLite cannot read (not a database, malformed), as opposed to a busy or locked one."""
    return type(err) is sqlite3.DatabaseError  # SQLITE_CORRUPT, SQLITE_NOTADB; subclasses are busy, locked, misuse


class ItemCache:
    """Arrays stored per (namespace, content digest) in one SQLite file, each with a checksum.

    Parameters
    ----------
    path : path-like
        The SQLite file (created with its folder). A file SQLite cannot read is
        moved aside (``<name>.damaged-<time>``, with a warning) and replaced.
    space : str
        From `namespace`.
    """

    def __init__(self, path: str | os.PathLike, space: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.space = space
        self._db = self._guarded(self._open)

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60)
        try:
            for attempt in itertools.count():
                try:
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute(f"CREATE TABLE IF NOT EXISTS {_TABLE} "
                               "(space TEXT, digest TEXT, value BLOB, checksum TEXT, PRIMARY KEY (space, digest))")
                    db.execute("DROP TABLE IF EXISTS items")  # entries without checksums, never read again
                    db.commit()
                    return db
                except sqlite3.OperationalError as err:
                    # Switching a new file to WAL fails at once (no busy wait) while
                    # another process, e.g. a torchrun peer, is creating it too.
                    if _is_damage(err) or attempt >= 100:
                        raise
                    time.sleep(0.05)
        except BaseException:
            db.close()
            raise

    def _guarded(self, action: Callable[[], _T]) -> _T:
        """Run `action`; if SQLite finds the file damaged, move it aside, start a new one and run it again."""
        try:
            return action()
        except sqlite3.DatabaseError as err:
            if not _is_damage(err):
                raise
            self._move_aside(err)
            self._db = self._open()
            return action()

    def _move_aside(self, err: sqlite3.DatabaseError) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
        stamp = _dt.datetime.now().strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{os.getpid()}")
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:  # another process moved it first
            aside = None
        for suffix in ("-wal", "-shm"):  # SQLite's journal files belong to the damaged file
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        log.warning("%s: the cache file is damaged (%s); %s a new one is started and the frames it held are "
                    "recomputed.", self.path, err, f"moved it to {aside.name};" if aside else "another process "
                    "moved it aside;")

    def get_many(self, digests: Iterable[str]) -> dict[str, np.ndarray]:
        """Cached arrays of the digests that have one whose checksum holds.

        An entry whose bytes fail their checksum is left out (so it is
        recomputed), with one warning naming the file and the count.
        """
        digests = list(dict.fromkeys(digests))
        return self._guarded(lambda: self._get_many(digests))

    def _get_many(self, digests: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        damaged = 0
        for start in range(0, len(digests), 500):  # SQLite's host-parameter limit
            chunk = digests[start : start + 500]
            rows = self._db.execute(
                f"SELECT digest, value, checksum FROM {_TABLE} WHERE space = ? AND digest IN "
                f"({','.join('?' * len(chunk))})",
                [self.space, *chunk],
            )
            for digest, value, checksum in rows:
                try:
                    if not isinstance(value, bytes) or checksum != _checksum(value):
                        raise ValueError("checksum mismatch")
                    found[digest] = _from_blob(value)
                except ValueError:  # a flipped bit: in the checksum's bytes or in numpy's header
                    damaged += 1
        if damaged:
            log.warning("%s: %d cached record(s) failed their checksum (the file was damaged or edited); "
                        "recomputing them.", self.path, damaged)
        return found

    def put_many(self, items: Mapping[str, np.ndarray]) -> None:
        """Store arrays by digest, with their checksums, in one committed transaction."""
        rows = [(self.space, d, blob, _checksum(blob)) for d, blob in ((d, _to_blob(a)) for d, a in items.items())]

        def put() -> None:
            with self._db:
                self._db.executemany(f"INSERT OR REPLACE INTO {_TABLE} VALUES (?, ?, ?, ?)", rows)

        self._guarded(put)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "ItemCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
