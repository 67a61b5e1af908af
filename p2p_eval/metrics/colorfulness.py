"""Lab colour histograms and their intersection: the colorfulness measure of pix2pix.

The paper (v3 Figure 7, CVPR Figure 6) compares the *marginal* distributions of
L*, a* and b* over all pixels of the generated photos with those of the real
photos, and reports the histogram intersection per channel. Here:

* sRGB -> CIE L*a*b* is `p2p_eval.metrics.lab` (skimage's constants: D65
  white, 2 degree observer), on planar chunks of pixels.
* Histograms are additive counts (state), concatenated L, a, b; scores are
  pure functions of that state, so per-frame histograms can be summed across
  frames, bootstrap replicates, workers and machines.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from p2p_eval.metrics.lab import LAB_FROM_CUBE_ROOTS, LAB_OFFSET, LINEAR_FROM_UINT8, cube_root_planes, lab_channel

CHANNELS = ("L", "a", "b")
LAB_RANGES = ((0.0, 100.0), (-128.0, 128.0), (-128.0, 128.0))
"""Fixed histogram range per channel; every sRGB colour lies inside."""

_CHUNK_PIXELS = 1 << 14  # pixels per step: float temporaries stay in cache and off mmap


@dataclass(frozen=True)
class Binning:
    """Equal-width bins over the fixed ranges of L*, a* and b* (`LAB_RANGES`).

    Attributes
    ----------
    bins : (int, int, int)
        Bins for L, a and b. The default, ``(100, 256, 256)``, gives bins of
        width 1 in Lab units.

    Notes
    -----
    Bins are half-open ``[left, right)`` except the last of each channel,
    which also holds values exactly at the top edge (L = 100), as
    ``numpy.histogram``. Values outside a range (possible only by rounding,
    e.g. L = 100 + 1e-14) are counted in the nearest edge bin, never dropped.
    """

    bins: tuple[int, int, int] = (100, 256, 256)

    def __post_init__(self):
        if len(self.bins) != 3 or not all(isinstance(b, (int, np.integer)) and b >= 1 for b in self.bins):
            raise ValueError(f"Expected `bins` to be three positive integers (L, a, b), got {self.bins!r}.")

    @property
    def total(self) -> int:
        """Length of the concatenated L, a, b histogram."""
        return int(sum(self.bins))

    @property
    def offsets(self) -> tuple[int, int, int]:
        """Index of each channel's first bin in the concatenated histogram."""
        return (0, self.bins[0], self.bins[0] + self.bins[1])

    def edges(self, channel: int) -> np.ndarray:
        """(bins + 1,) float64 bin edges of channel 0 (L), 1 (a) or 2 (b)."""
        low, high = LAB_RANGES[channel]
        return np.linspace(low, high, self.bins[channel] + 1)

    def split(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        """Split (..., total) concatenated histograms into ``{"L", "a", "b"}`` views."""
        counts = np.asarray(counts)
        if counts.shape[-1] != self.total:
            raise ValueError(f"Expected histograms of length {self.total} on the last axis, got {counts.shape}.")
        return {
            name: counts[..., start : start + size]
            for name, start, size in zip(CHANNELS, self.offsets, self.bins)
        }

    def as_dict(self) -> dict:
        """The binning as recorded in results documents."""
        return {
            name: {"range": list(LAB_RANGES[i]), "bins": self.bins[i],
                   "width": (LAB_RANGES[i][1] - LAB_RANGES[i][0]) / self.bins[i]}
            for i, name in enumerate(CHANNELS)
        } | {"top_edge": "in the last bin", "out_of_range": "counted in the nearest edge bin"}


DEFAULT_BINNING = Binning()

_NEAR_EDGE = 1e-6  # in bins: far above float64 rounding (~1e-12), so other values bin safely


@dataclass(frozen=True)
class _BinTables:
    """A binning as matrices and (3, 1) columns, so the three channels are binned in one pass."""

    scale: np.ndarray  # (3, 3): cube-root planes -> position in bins
    shift: np.ndarray  # (3, 1)
    last: np.ndarray  # (3, 1) last bin of each channel
    offsets: np.ndarray  # (3, 1) first bin of each channel in the concatenated histogram
    edges: tuple[np.ndarray, ...]  # bin edges per channel, as numpy.histogram makes them

    @classmethod
    def of(cls, binning: Binning) -> "_BinTables":
        low = _column([r[0] for r in LAB_RANGES])
        per_unit = _column(binning.bins) / (_column([r[1] for r in LAB_RANGES]) - low)
        return cls(
            scale=LAB_FROM_CUBE_ROOTS * per_unit,
            shift=(LAB_OFFSET - low) * per_unit,
            last=_column(binning.bins).astype(np.intp) - 1,
            offsets=_column(binning.offsets).astype(np.intp),
            edges=tuple(binning.edges(c) for c in range(3)),
        )


def _column(values) -> np.ndarray:
    return np.asarray(list(values), dtype=np.float64)[:, None]


def _bin_indices(f: np.ndarray, tables: _BinTables) -> np.ndarray:
    """(3, P) cube-root planes -> (3, P) indices into the concatenated histogram.

    The bin of each value is its position in bins, truncated. Where that
    position lies within `_NEAR_EDGE` of an edge, rounding could decide, so
    those few values are binned exactly as ``numpy.histogram`` bins the Lab
    values of `rgb2lab`: ``edges[i] <= v < edges[i + 1]``, the last bin
    closed. Out-of-range values go to the edge bins.
    """
    position = tables.scale @ f
    position += tables.shift
    index = position.astype(np.intp)  # truncation is floor for the in-range positions >= 0
    fraction = position - index
    near = (fraction < _NEAR_EDGE) | (fraction > 1 - _NEAR_EDGE)
    if near.any():
        for channel in range(3):
            columns = np.flatnonzero(near[channel])
            if columns.size:
                values = lab_channel(f.take(columns, axis=1), channel)
                index[channel, columns] = np.searchsorted(tables.edges[channel], values, side="right") - 1
    np.clip(index, 0, tables.last, out=index)
    index += tables.offsets
    return index


def lab_histograms(
    images: Iterable[np.ndarray], binning: Binning = DEFAULT_BINNING, *, channel_axis: int = -1
) -> np.ndarray:
    """Marginal L*, a*, b* histograms over all pixels of a set of sRGB images.

    Parameters
    ----------
    images : iterable of (H, W, 3) uint8 ndarray
        sRGB photos, real or generated; sizes may differ. One (N, H, W, 3)
        array counts as N images.
    binning : Binning, optional
        Bins per channel over `LAB_RANGES` (default: width 1).
    channel_axis : int, optional
        Axis of each image holding the channels (default: last).

    Returns
    -------
    counts : (binning.total,) int64 ndarray
        Pixel counts of L, then a, then b (`Binning.split` separates them);
        counts of two image sets add up to the counts of their union.

    Raises
    ------
    ValueError
        If an image is not uint8 or lacks size 3 along `channel_axis` (the
        message gives its index and shape).

    Notes
    -----
    Lab values are those of `rgb2lab`; binning follows ``numpy.histogram``
    (see `Binning`). Pixels are processed in chunks of `_CHUNK_PIXELS`, so
    memory stays small for any image size.

    Examples
    --------
    >>> counts = lab_histograms([np.zeros((4, 4, 3), np.uint8)], Binning((10, 8, 8)))
    >>> counts.shape, int(counts[0]), int(counts[10 + 4])
    ((26,), 16, 16)
    """
    counts = np.zeros(binning.total, dtype=np.int64)
    tables = _BinTables.of(binning)
    for position, image in enumerate(images):
        image = np.moveaxis(np.asarray(image), channel_axis, -1)
        if image.dtype != np.uint8 or image.shape[-1] != 3:
            raise ValueError(
                f"Expected image {position} to be (..., 3) uint8 sRGB, got {image.dtype} {image.shape}; "
                "convert greyscale or RGBA images to RGB first."
            )
        pixels = image.reshape(-1, 3)
        for start in range(0, len(pixels), _CHUNK_PIXELS):
            linear = np.take(LINEAR_FROM_UINT8, pixels[start : start + _CHUNK_PIXELS].T)
            index = _bin_indices(cube_root_planes(linear), tables)
            counts += np.bincount(index.ravel(), minlength=binning.total)
    return counts


def histogram_intersection(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Sum over bins of the minimum of two normalised histograms.

    Parameters
    ----------
    p, q : (..., bins) array_like
        Counts (or any non-negative weights); leading axes broadcast, so a
        (B, bins) stack of bootstrap replicates scores in one call.

    Returns
    -------
    intersection : (...) float64 ndarray
        In [0, 1]: 1 for proportional histograms, 0 for disjoint ones, NaN
        where a histogram is empty.

    Examples
    --------
    >>> float(histogram_intersection([2, 2, 0], [0, 1, 1]))
    0.5
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(f"Expected histograms with equal bins, got shapes {p.shape} and {q.shape}.")
    with np.errstate(invalid="ignore", divide="ignore"):
        p = p / p.sum(axis=-1, keepdims=True)
        q = q / q.sum(axis=-1, keepdims=True)
    return np.minimum(p, q).sum(axis=-1)


def channel_intersections(
    counts: np.ndarray, reference: np.ndarray, binning: Binning = DEFAULT_BINNING
) -> dict[str, np.ndarray]:
    """Histogram intersection per Lab channel of concatenated histograms.

    Parameters
    ----------
    counts, reference : (..., binning.total) array_like
        Concatenated L, a, b counts (from `lab_histograms`); leading axes
        broadcast.

    Returns
    -------
    scores : dict of {"L", "a", "b"} to (...) float64 ndarray
    """
    ours, theirs = binning.split(counts), binning.split(reference)
    return {name: histogram_intersection(ours[name], theirs[name]) for name in CHANNELS}
