"""Per-frame states of one image set: cache, batches, decoding threads, sharding, errors.

`compute_states` is the one loop every measure runs through. Frames already
computed under the same namespace are read from the cache; the rest are
grouped into batches (`Measure.batch_key`), loaded in threads ahead of the
measure's `update`, and each batch is committed to the cache as it finishes,
so an interrupted run resumes where it stopped. Told to shard (a
`Distributed` with ``world_size > 1``), each process handles every
world_size-th frame and the records are summed across processes, so every
process returns the whole set. Unreadable files are named all at once, after
every readable frame was computed (and cached).
"""

import functools
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from p2p_eval.cache import ItemCache, file_digest
from p2p_eval.distributed import SINGLE, Distributed
from p2p_eval.errors import InputError
from p2p_eval.measures.base import Frame, Measure
from p2p_eval.measures.states import FrameStates, record_dtype
from p2p_eval.session.loader import group_batches, iterate_batches

log = logging.getLogger(__name__)


def compute_states(
    measure: Measure,
    pairs: Sequence[tuple[str, str | os.PathLike]],
    frames: Sequence[Frame],
    *,
    batch_size: int,
    workers: int,
    cache: str | os.PathLike | None = None,
    distributed: Distributed = SINGLE,
    progress: bool = True,
    desc: str = "",
) -> FrameStates:
    """The states of each (frame id, image) pair.

    Parameters
    ----------
    measure : Measure
        Opened (`Measure.open`).
    pairs : sequence of (frame id, image path)
        Order is kept in the result.
    frames : sequence of Frame
        The frame of each pair.
    batch_size : int
        Frames per `Measure.update` and per cache transaction.
    workers : int
        Decoding threads (0 loads each batch when it is needed).
    cache : path-like, optional
        SQLite cache file (`p2p_eval.cache.cache_path_for`).
    distributed : Distributed, optional
        Shard the frames over its processes (default: this process does all).
    progress : bool, optional
        tqdm bar on stderr (rank 0 only).

    Raises
    ------
    InputError
        Naming the first unreadable files and their count, after every
        readable frame was computed (and cached).
    """
    if batch_size < 1 or workers < 0:
        raise ValueError(f"Expected `batch_size` >= 1 and `workers` >= 0, got {batch_size} and {workers}.")
    images = [Path(path) for _, path in pairs]
    records = np.zeros(len(pairs), dtype=record_dtype(measure.states))
    mine = list(distributed.shard(len(pairs)))
    store = ItemCache(cache, measure.namespace()) if cache is not None else None
    keys = _item_keys(images, frames, measure.frame_inputs, mine) if store else {}
    errors: list[tuple[int, str]] = []
    modes: list[tuple[int, str]] = []
    try:
        found = store.get_many(keys.values()) if store else {}
        todo = []
        for i in mine:
            cached = found.get(keys.get(i))
            if cached is not None and cached.dtype == records.dtype:
                records[i] = cached
            else:
                todo.append(i)
        batches = _batches(measure, todo, frames, batch_size, errors)
        full = min(batch_size, len(pairs))  # every batch this size but the last (`Measure.update`)
        with tqdm(total=len(mine), initial=len(mine) - len(todo), desc=desc, unit="img", file=sys.stderr,
                  disable=not progress or not distributed.main or not todo, dynamic_ncols=True) as bar, \
                measure.computing():
            for outcomes in iterate_batches(lambda i: measure.load(images[i], frames[i]), batches, workers=workers):
                good = [(i, loaded) for i, loaded, error in outcomes if error is None]
                errors += [(i, error) for i, _, error in outcomes if error is not None]
                modes += [(i, loaded.mode) for i, loaded in good if loaded.mode != "RGB"]
                if good:
                    indices = [i for i, _ in good]
                    for name, values in measure.update([loaded.value for _, loaded in good], batch_size=full).items():
                        records[name][indices] = values
                    if store:
                        store.put_many({keys[i]: records[i] for i in indices if i in keys})
                bar.update(len(outcomes))
    finally:
        if store:
            store.close()
    if modes:
        log.warning("%d image(s) were not RGB and were converted to RGB, e.g. %s (%s).",
                    len(modes), images[modes[0][0]], modes[0][1])
    if distributed.world_size > 1:
        records = _sum_records(records, distributed, measure.device)
        errors = [e for part in distributed.gather(errors) for e in part]
    if errors:
        shown = "\n  ".join(message for _, message in sorted(errors)[:5])
        raise InputError(
            f"{len(errors)} of {len(pairs)} frame(s) could not be scored:\n  {shown}\n"
            "Fix or regenerate these files and re-run"
            + (": the other frames are cached and not recomputed." if cache is not None else ".")
        )
    return FrameStates(tuple(f for f, _ in pairs), records, tuple(measure.states))


def _batches(measure: Measure, todo: list[int], frames: Sequence[Frame], batch_size: int,
             errors: list[tuple[int, str]]) -> list[list[int]]:
    """Batches of the items to compute, grouped by `Measure.batch_key`; unreadable frames go to `errors`."""
    keys = {}
    for i in todo:
        try:
            keys[i] = measure.batch_key(frames[i])
        except InputError as err:
            errors.append((i, str(err)))
    order = list(keys)
    return [[order[k] for k in batch] for batch in group_batches(list(keys.values()), batch_size)]


def _item_keys(images: list[Path], frames: Sequence[Frame], inputs: tuple[str, ...], indices: list[int]) -> dict[int, str]:
    """Cache key of each item: digest of the image and of the frame files it is scored against.

    An unreadable file gets no key: the measure's `load` reports it, nothing is cached.
    """
    keys = {}
    for i in indices:
        try:
            parts = [file_digest(images[i])] + [_frame_digest(frames[i].path(kind)) for kind in inputs]
        except OSError:
            continue
        keys[i] = ":".join(parts)
    return keys


def _frame_digest(path: Path) -> str:
    info = path.stat()
    return _digest_once(path, info.st_mtime_ns, info.st_size)


@functools.lru_cache(maxsize=8192)
def _digest_once(path: Path, mtime_ns: int, size: int) -> str:
    """Frame files are shared by every run scored on a dataset: digest each (unchanged) file once."""
    return file_digest(path)


def _sum_records(records: np.ndarray, distributed: Distributed, device) -> np.ndarray:
    """Every process filled only its frames: sum each state across processes."""
    total = np.empty_like(records)
    for name in records.dtype.names:
        total[name] = distributed.sum(records[name], device)
    return total
