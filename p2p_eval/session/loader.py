"""Decoding ahead of the model: items loaded in threads, batch by batch, in order.

Threads rather than worker processes: Pillow's decoders and resizes and
numpy's loops release the GIL, so threads decode in parallel while a model
runs, without forking the process (on a 2-core machine, starting and feeding
worker processes cost more than all the decoding they hid). A bad file never
raises in a worker: the item comes back with its error, so the caller can
score the rest, cache it, and then name every bad file at once.
"""

import collections
import itertools
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from p2p_eval.errors import InputError

Outcome = tuple[int, Any, str | None]
"""One item's outcome: (its position, what `load` returned or None, error message or None)."""


def group_batches(keys: Sequence[Hashable], batch_size: int) -> list[list[int]]:
    """Batches of item positions: equal keys together, given order kept within a key.

    Examples
    --------
    >>> group_batches([(2, 4), (8, 8), (2, 4), (2, 4)], 2)
    [[0, 2], [3], [1]]
    """
    groups: dict[Hashable, list[int]] = {}
    for index, key in enumerate(keys):
        groups.setdefault(key, []).append(index)
    return [group[k : k + batch_size] for group in groups.values() for k in range(0, len(group), batch_size)]


def _outcome(load: Callable[[int], Any], index: int) -> Outcome:
    try:
        return index, load(index), None
    except InputError as err:
        return index, None, str(err)


def iterate_batches(load: Callable[[int], Any], batches: list[list[int]], *, workers: int) -> Iterator[list[Outcome]]:
    """Each batch's outcomes, in order, loaded by `workers` threads ahead of the consumer.

    Up to ``2 * workers`` batches are loaded ahead; ``workers=0`` loads each
    batch when it is needed, in the calling thread.

    Parameters
    ----------
    load : callable
        Item position -> loaded item; an `InputError` becomes that item's error.
    batches : list of list of int
        Item positions per batch (`group_batches`).
    workers : int
    """
    if workers == 0:
        for indices in batches:
            yield [_outcome(load, i) for i in indices]
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="p2p-eval-decode")
    pending: collections.deque = collections.deque()
    upcoming = iter(batches)
    try:
        for indices in itertools.islice(upcoming, 2 * workers):
            pending.append([pool.submit(_outcome, load, i) for i in indices])
        while pending:
            outcomes = [future.result() for future in pending.popleft()]
            indices = next(upcoming, None)
            if indices is not None:
                pending.append([pool.submit(_outcome, load, i) for i in indices])
            yield outcomes
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
