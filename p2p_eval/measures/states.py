"""Named per-frame states: what a measure keeps of each frame, and how it reduces.

A measure declares its states (`State`); the session keeps one record per
frame with one field per state (`FrameStates`, a numpy structured array), so
a frame's states are cached, gathered across processes and resampled together
without ever being packed into, or sliced out of, one anonymous array.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from p2p_eval.resampling import resampled_sums

REDUCTIONS = ("sum", "cat")
"""How a state reduces across frames, batches and processes: "sum" (additive
counts: a confusion matrix, a histogram) or "cat" (kept per frame and
concatenated: a feature vector, a per-frame value)."""


@dataclass(frozen=True)
class State:
    """One named per-frame state of a measure.

    Attributes
    ----------
    name : str
        The field name (``"confusion"``).
    shape : tuple of int
        Shape of one frame's state (``()`` for a number).
    dtype : str
        numpy dtype (``"int64"`` for counts, ``"float64"`` for features).
    reduce : {"sum", "cat"}
        See `REDUCTIONS`; only "sum" states have a total and weighted sums.
    """

    name: str
    shape: tuple[int, ...] = ()
    dtype: str = "int64"
    reduce: str = "sum"

    def __post_init__(self):
        if self.reduce not in REDUCTIONS:
            raise ValueError(f"Expected `reduce` in {REDUCTIONS}, got {self.reduce!r}.")


def record_dtype(states: Sequence[State]) -> np.dtype:
    """The structured dtype of one frame's record: one field per state."""
    return np.dtype([(s.name, np.dtype(s.dtype), s.shape) for s in states])


@dataclass(frozen=True, eq=False)
class FrameStates:
    """The states of a set of frames: one record per frame, one field per state.

    Attributes
    ----------
    frames : tuple of str
        Frame ids, in record order.
    records : (N,) structured ndarray
        Of `record_dtype` (`specs`).
    specs : tuple of State
    """

    frames: tuple[str, ...]
    records: np.ndarray
    specs: tuple[State, ...]

    def __post_init__(self):
        if len(self.frames) != len(self.records) or self.records.dtype != record_dtype(self.specs):
            raise ValueError(f"Expected {len(self.frames)} records of {record_dtype(self.specs)}, "
                             f"got {len(self.records)} of {self.records.dtype}.")

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, name: str) -> np.ndarray:
        """(N, *shape) per-frame values of the state `name`."""
        return self.records[name]

    def _spec(self, name: str) -> State:
        spec = next((s for s in self.specs if s.name == name), None)
        if spec is None:
            raise KeyError(f"No state {name!r}; the states are {[s.name for s in self.specs]}.")
        return spec

    def total(self, name: str) -> np.ndarray:
        """(*shape) sum over the frames of a "sum" state."""
        if self._spec(name).reduce != "sum":
            raise ValueError(f"State {name!r} is not additive (reduce={self._spec(name).reduce!r}).")
        return self[name].sum(axis=0)

    def sums(self, name: str, weights: np.ndarray) -> np.ndarray:
        """(B, *shape) float64 sums of a "sum" state under (B, N) frame weights (`p2p_eval.resampling`)."""
        if self._spec(name).reduce != "sum":
            raise ValueError(f"State {name!r} is not additive (reduce={self._spec(name).reduce!r}).")
        return resampled_sums(self[name], weights)

    def select(self, frames: Sequence[str]) -> "FrameStates":
        """The states of `frames`, in that order (each must be here)."""
        position = {frame: i for i, frame in enumerate(self.frames)}
        missing = [f for f in frames if f not in position]
        if missing:
            raise KeyError(f"No states for frame(s) {missing[:5]}.")
        return FrameStates(tuple(frames), self.records[[position[f] for f in frames]], self.specs)
