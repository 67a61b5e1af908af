"""Bootstrap replicates as item weights: drawing them, in bounded blocks, and scoring under them.

A bootstrap replicate draws items (frames, raters) with replacement, which is
the same as giving each item a weight: how often it was drawn. Every score is
computed under a whole (B, N) matrix of such weights at once (`WeightScorer`),
never in a loop over replicates. For *additive* per-item state (a confusion
matrix per frame, histogram counts per frame) the weighted state is one matrix
product, `resampled_sums`; a measure whose state is not additive (a feature
vector per image) uses the weights directly. Intervals and tests made from
the replicates are `p2p_eval.stats`'.
"""

from collections.abc import Callable, Iterable, Iterator

import numpy as np

RESAMPLE_CHUNK = 1000
"""Replicates scored at once (`scored_in_chunks`): memory stays ``RESAMPLE_CHUNK x N`` whatever the resamples."""

WeightScorer = Callable[[np.ndarray], dict[str, np.ndarray]]
"""Scores of the items under per-item weights: (B, N) weights -> {name: (B,) scores}.

Row b of the weights says how often each of the N items counts in replicate b;
a row of ones is the point estimate over all items."""


def resample_weights(n_items: int, n_resamples: int, seed: int) -> np.ndarray:
    """How often each item is drawn in each bootstrap replicate.

    Parameters
    ----------
    n_items : int
        Items to resample (frames, raters), with replacement, `n_items` per replicate.
    n_resamples : int
    seed : int

    Returns
    -------
    weights : (n_resamples, n_items) int64 ndarray
        Each row sums to `n_items`.

    Examples
    --------
    >>> resample_weights(4, 3, seed=0).sum(axis=1).tolist()
    [4, 4, 4]
    """
    return np.concatenate(list(resample_weight_chunks(n_items, n_resamples, seed)))


def resample_weight_chunks(n_items: int, n_resamples: int, seed: int,
                           chunk: int = RESAMPLE_CHUNK) -> Iterator[np.ndarray]:
    """`resample_weights` as blocks of at most `chunk` rows: the same rows in the same order
    (one generator draws them one after another), in memory bounded by `chunk`.

    Yields
    ------
    weights : (<= chunk, n_items) int64 ndarray
    """
    if n_items < 1:
        raise ValueError(f"Expected `n_items` >= 1, got {n_items}.")
    if n_resamples < 1:
        raise ValueError(f"Expected `n_resamples` >= 1, got {n_resamples}.")
    rng = np.random.default_rng(seed)
    for start in range(0, n_resamples, chunk):
        yield rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=min(chunk, n_resamples - start))


def scored_in_chunks(scorer: "WeightScorer", chunks: Iterable[np.ndarray]) -> dict[str, np.ndarray]:
    """Every replicate's scores, `scorer` called on one block of weights at a time.

    Returns
    -------
    scores : dict of str to (B,) ndarray
        The blocks' scores one after another, as one call on all the weights would give.
    """
    parts = [scorer(weights) for weights in chunks]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def split_half_masks(n_items: int, n_splits: int, seed: int) -> np.ndarray:
    """Random splits of the items into two halves: True for the first half (n_items // 2 items).

    Returns
    -------
    first_half : (n_splits, n_items) bool ndarray

    Examples
    --------
    >>> split_half_masks(5, 3, seed=0).sum(axis=1).tolist()
    [2, 2, 2]
    """
    return np.concatenate(list(split_half_mask_chunks(n_items, n_splits, seed)))


def split_half_mask_chunks(n_items: int, n_splits: int, seed: int, chunk: int = RESAMPLE_CHUNK) -> Iterator[np.ndarray]:
    """`split_half_masks` as blocks of at most `chunk` rows: the same rows in the same order.

    Yields
    ------
    first_half : (<= chunk, n_items) bool ndarray
    """
    rng = np.random.default_rng(seed)
    for start in range(0, n_splits, chunk):
        ranks = rng.permuted(np.tile(np.arange(n_items), (min(chunk, n_splits - start), 1)), axis=1)
        yield ranks < n_items // 2


def resampled_sums(per_item: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sum of per-item states under each replicate's weights.

    Parameters
    ----------
    per_item : (N, ...) ndarray
        Additive state of each item.
    weights : (B, N) ndarray
        From `resample_weights`.

    Returns
    -------
    sums : (B, ...) ndarray
    """
    per_item = np.asarray(per_item)
    flat = per_item.reshape(per_item.shape[0], -1)
    # float64 keeps integer counts exact up to 2**53, far above any pixel count.
    return (weights.astype(np.float64) @ flat.astype(np.float64)).reshape(
        (weights.shape[0],) + per_item.shape[1:]
    )
