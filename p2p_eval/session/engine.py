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

Besides the measure's states, every frame's record holds the engine's own
(`ENGINE_STATES`): the size and Pillow mode of the image as it was read, so
every measure records and checks them alike, and a run scored from the cache
warns about converted images as the first one did. A cached record is used
only when its checksum holds (`p2p_eval.cache`) and the measure finds it possible for its frame
(`Measure.check_record`); otherwise it is recomputed, and the user is told.
"""

import logging
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from p2p_eval.cache import ItemCache, file_digest, stable_file_digest
from p2p_eval.data.files import image_size
from p2p_eval.data.modes import CONVERSIONS, conversion_summary
from p2p_eval.distributed import SINGLE, Distributed
from p2p_eval.errors import InputError
from p2p_eval.measures.base import Frame, Measure
from p2p_eval.measures.states import FrameStates, State, record_dtype
from p2p_eval.session.loader import group_batches, iterate_batches

log = logging.getLogger(__name__)

IMAGE_SIZE = State("image_size", (2,), "int64", reduce="cat")
"""(H, W) of each image as read, before any measure resizes it."""
MODES = ("RGB", *(mode for mode in CONVERSIONS if mode != "RGB"))
"""The Pillow modes read (`p2p_eval.data.modes.CONVERSIONS`); "RGB" is 0, as in records no process filled."""
IMAGE_MODE = State("image_mode", (), "int64", reduce="cat")  # int64: all_reduce on gloo and NCCL
"""Each image's Pillow mode before conversion to RGB, as its index in `MODES`."""
ENGINE_STATES = (IMAGE_SIZE, IMAGE_MODE)
"""States the engine keeps of every frame, whatever the measure."""


def record_specs(measure: Measure) -> tuple[State, ...]:
    """Every state a frame's record holds: the measure's, then the engine's."""
    clash = {s.name for s in measure.states} & {s.name for s in ENGINE_STATES}
    if clash:
        raise ValueError(f"Expected measure states not named {sorted(clash)} (the engine's own).")
    return (*measure.states, *ENGINE_STATES)


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
    specs = record_specs(measure)
    records = np.zeros(len(pairs), dtype=record_dtype(specs))
    mine = list(distributed.shard(len(pairs)))
    store = ItemCache(cache, measure.namespace()) if cache is not None else None
    keys = _item_keys(images, frames, measure.frame_inputs, mine) if store else {}
    errors: list[tuple[int, str]] = []

    def load(i: int):
        return measure.load(images[i], frames[i]), image_size(images[i])

    try:
        found = store.get_many(keys.values()) if store else {}
        usable = _usable_records(measure, found, keys, frames, records.dtype, workers, store)
        todo = []
        for i in mine:
            if i in usable:
                records[i] = usable[i]
            else:
                todo.append(i)
        batches = _batches(measure, todo, frames, batch_size, errors)
        full = min(batch_size, len(pairs))  # every batch this size but the last (`Measure.update`)
        with tqdm(total=len(mine), initial=len(mine) - len(todo), desc=desc, unit="img", file=sys.stderr,
                  disable=not progress or not distributed.main or not todo, dynamic_ncols=True) as bar, \
                measure.computing():
            for outcomes in iterate_batches(load, batches, workers=workers):
                good = [(i, *value) for i, value, error in outcomes if error is None]  # (i, Loaded, (H, W))
                errors += [(i, error) for i, _, error in outcomes if error is not None]
                if good:
                    indices = [i for i, _, _ in good]
                    for name, values in measure.update([loaded.value for _, loaded, _ in good], batch_size=full).items():
                        records[name][indices] = values
                    records[IMAGE_SIZE.name][indices] = [size for _, _, size in good]
                    records[IMAGE_MODE.name][indices] = [MODES.index(loaded.mode) for _, loaded, _ in good]
                    if store:
                        store.put_many({keys[i]: records[i] for i in indices if i in keys})
                bar.update(len(outcomes))
    finally:
        if store:
            store.close()
    if distributed.world_size > 1:
        records = _sum_records(records, distributed, measure.device)
        errors = [e for part in distributed.gather(errors) for e in part]
    # From the records, so frames read from the cache are counted too (an unreadable frame's stays 0: RGB).
    converted = np.flatnonzero(records[IMAGE_MODE.name])
    if converted.size:
        log.warning("%d image(s)%s were not 8-bit RGB and were converted to RGB: %s; e.g. %s.", converted.size,
                    f" of {desc}" if desc else "", conversion_summary(MODES[k] for k in records[IMAGE_MODE.name]),
                    images[converted[0]])
    if errors:
        shown = "\n  ".join(message for _, message in sorted(errors)[:5])
        raise InputError(
            f"{len(errors)} of {len(pairs)} frame(s) could not be scored:\n  {shown}\n"
            "Fix or regenerate these files and re-run"
            + (": the other frames are cached and not recomputed." if cache is not None else ".")
        )
    return FrameStates(tuple(f for f, _ in pairs), records, specs)


def _usable_records(measure: Measure, found: dict[str, np.ndarray], keys: dict[int, str], frames: Sequence[Frame],
                    dtype: np.dtype, workers: int, store: ItemCache | None) -> dict[int, np.ndarray]:
    """The cached records that can be trusted: of this layout, and possible for their frame.

    A record of another dtype (an older layout) is recomputed silently; one the
    measure finds impossible for its frame (`Measure.check_record`: a confusion
    counting more pixels than the frame labels ...) is recomputed with a warning
    naming the cache file and the first reason.
    """
    candidates = {i: found[key] for i, key in keys.items() if key in found and found[key].dtype == dtype
                  and 0 <= found[key][IMAGE_MODE.name] < len(MODES)}
    if not candidates:
        return {}

    def reason(i: int) -> str | None:
        try:
            return measure.check_record(candidates[i], frames[i])
        except InputError as err:  # the frame's own file is unreadable: recompute, `load` will say why
            return str(err)

    with ThreadPoolExecutor(max(workers, 1), thread_name_prefix="p2p-eval-check") as pool:
        reasons = dict(zip(candidates, pool.map(reason, candidates)))
    bad = [i for i, why in reasons.items() if why is not None]
    if bad:
        log.warning("%s: %d cached record(s) are impossible for their frame and are recomputed, e.g. frame %s: %s.",
                    store.path if store else "cache", len(bad), frames[bad[0]].id, reasons[bad[0]])
    return {i: record for i, record in candidates.items() if reasons[i] is None}


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
            parts = [file_digest(images[i])] + [stable_file_digest(frames[i].path(kind)) for kind in inputs]
        except OSError:
            continue
        keys[i] = ":".join(parts)
    return keys


def _sum_records(records: np.ndarray, distributed: Distributed, device) -> np.ndarray:
    """Every process filled only its frames: sum each state across processes."""
    total = np.empty_like(records)
    for name in records.dtype.names:
        total[name] = distributed.sum(records[name], device)
    return total
