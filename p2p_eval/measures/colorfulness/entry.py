"""The colorfulness results entry: histogram intersection per Lab channel, and the histograms."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from p2p_eval.errors import InputError
from p2p_eval.metrics.colorfulness import CHANNELS, histogram_intersection
from p2p_eval.results.entries import RunEntry
from p2p_eval.results.fields import integer
from p2p_eval.results.scores import Score, first_disagreement

COLOR_SCORES = tuple(Score(channel, channel) for channel in CHANNELS)
"""Intersection of the L*, a* and b* marginals with the real photos' (1 = identical)."""


@dataclass(frozen=True)
class ColorfulnessEntry(RunEntry):
    """A run's colorfulness (README, "Results files").

    Attributes
    ----------
    n_resized : int or None
        Images resized to the real photos' size (None for the ground-truth row).
    histograms : dict of {"L", "a", "b"} to list of int, or None
        The run's marginal histograms (bins in ``protocol.binning``).
    """

    KIND = "colorfulness"
    SCORES = COLOR_SCORES
    TITLE = "Histogram intersection"
    CAPTION = "Histogram intersection of Lab marginals against the real photos."

    n_resized: int | None = None
    histograms: dict[str, list[int]] | None = None

    def _own_dict(self) -> tuple[dict[str, Any], dict[str, Any]]:
        head, tail = super()._own_dict()
        return head, tail | {"n_resized": self.n_resized, "histograms": self.histograms}

    @classmethod
    def _own_fields(cls, value: Mapping[str, Any], where: str) -> dict[str, Any]:
        histograms = value.get("histograms")
        if histograms is not None and not (
            isinstance(histograms, dict) and set(histograms) == set(CHANNELS)
            and all(isinstance(h, list) and all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in h)
                    for h in histograms.values())
        ):
            raise InputError(f"{where}: \"histograms\" must map L, a and b to lists of pixel counts.")
        return {**super()._own_fields(value, where), "n_resized": integer(value.get("n_resized"), where, "n_resized"),
                "histograms": histograms}

    @classmethod
    def check_document(cls, entries: "tuple[ColorfulnessEntry, ...]", protocol: Mapping[str, Any], source: str, *,
                       data: Mapping[str, Any] | None = None) -> None:
        """Each run that has every scored frame: its scores are its histograms' intersections with the reference.

        ``data.reference`` holds the real photos of the frames some row scored,
        so it is exactly a run's reference when the run has all of them
        (``n_images == data.n_frames``); the ground-truth row (split halves) and
        runs with frames left out cannot be recomputed from the file.
        """
        data = data or {}
        reference, n_frames, frames = data.get("reference"), data.get("n_frames"), data.get("frames")
        if n_frames is None and isinstance(frames, list):  # the envelope check keeps the two equal when both are there
            n_frames = len(frames)
        if not isinstance(reference, dict) or set(reference) != set(CHANNELS) or not isinstance(n_frames, int):
            return
        for entry in entries:
            if entry.is_real or entry.histograms is None or entry.n_images != n_frames:
                continue
            recomputed = {c: histogram_intersection(entry.histograms[c], reference[c]) for c in CHANNELS}
            problem = first_disagreement(entry.scores, recomputed)
            if problem:
                raise InputError(
                    f"{source}: run {entry.name!r}: {problem} from its histograms and the reference; the file was "
                    "damaged or edited, so none of its numbers can be trusted. Regenerate it with the command "
                    "that wrote it.")


ENTRY = ColorfulnessEntry
