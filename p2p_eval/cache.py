"""Per-image results cached on disk, so interrupted or repeated scoring is incremental.

Each run gets one SQLite file (``<run>/.p2p-eval-cache.sqlite``, or under
``$XDG_CACHE_HOME/p2p-eval/`` when the run folder is read-only). An entry is
keyed by a *namespace* — the measure and everything its result depends on
(segmenter sha256, resize kernel, bins ...) — and the image's content digest,
so a changed image or a changed protocol is recomputed and nothing stale is
ever reused. Each `put_many` is one committed transaction: a crash loses at
most the batch in flight. WAL mode lets several scoring processes share a file.
"""

import hashlib
import io
import itertools
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

CACHE_NAME = ".p2p-eval-cache.sqlite"


def file_digest(path: str | os.PathLike) -> str:
    """blake2b digest of a file's bytes (what the cache keys images by)."""
    digest = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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


class ItemCache:
    """Arrays stored per (namespace, content digest) in one SQLite file.

    Parameters
    ----------
    path : path-like
        The SQLite file (created with its folder).
    space : str
        From `namespace`.
    """

    def __init__(self, path: str | os.PathLike, space: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.space = space
        self._db = sqlite3.connect(self.path, timeout=60)
        for attempt in itertools.count():
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS items (space TEXT, digest TEXT, value BLOB, PRIMARY KEY (space, digest))"
                )
                self._db.commit()
                break
            except sqlite3.OperationalError:
                # Switching a new file to WAL fails at once (no busy wait) while
                # another process, e.g. a torchrun peer, is creating it too.
                if attempt >= 100:
                    raise
                time.sleep(0.05)

    def get_many(self, digests: Iterable[str]) -> dict[str, np.ndarray]:
        """Cached arrays of the digests that have one."""
        digests = list(dict.fromkeys(digests))
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(digests), 500):  # SQLite's host-parameter limit
            chunk = digests[start : start + 500]
            rows = self._db.execute(
                f"SELECT digest, value FROM items WHERE space = ? AND digest IN ({','.join('?' * len(chunk))})",
                [self.space, *chunk],
            )
            found.update((d, _from_blob(v)) for d, v in rows)
        return found

    def put_many(self, items: Mapping[str, np.ndarray]) -> None:
        """Store arrays by digest, in one committed transaction."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO items VALUES (?, ?, ?)",
                [(self.space, d, _to_blob(a)) for d, a in items.items()],
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "ItemCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
