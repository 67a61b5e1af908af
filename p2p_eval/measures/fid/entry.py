"""The fid results entry: FID (bootstrap interval over frames), KID (std over subsets), small-N warnings."""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from p2p_eval.errors import InputError
from p2p_eval.results.entries import RunEntry
from p2p_eval.results.fields import integer, number
from p2p_eval.results.scores import Score

FID_SCORES = (
    # A centred bootstrap interval may reach below 0, and KID's unbiased estimate can be
    # negative for near-identical sets: neither range has a floor.
    Score("fid", "FID", low=-math.inf, high=math.inf, higher_is_better=False),
    Score("kid", "KID", low=-math.inf, high=math.inf, higher_is_better=False, decimals=4),
)
"""Fréchet and kernel Inception distances to the real photos (lower is better); KID null without ``--kid``."""


@dataclass(frozen=True)
class FidEntry(RunEntry):
    """A run's FID and KID (README, "Results files").

    Attributes
    ----------
    kid_std : float or None
        Standard deviation of KID over its subsets (``np.std``, as torch-fidelity).
    kid_subsets, kid_subset_size : int or None
        How KID was drawn: subsets, and frames per subset after any reduction
        (below ``protocol.kid.subset_size`` when a set had fewer frames).
    warnings : tuple of str
        Small-N warnings: FID's bias below ``protocol.fid.min_images`` frames,
        a singular covariance, a reduced KID subset.
    """

    KIND = "fid"
    SCORES = FID_SCORES
    TITLE = "Inception distances"
    CAPTION = "FID and KID of generated photos against the real photos of the split."

    kid_std: float | None = None
    kid_subsets: int | None = None
    kid_subset_size: int | None = None
    warnings: tuple[str, ...] = ()

    def _own_dict(self) -> tuple[dict[str, Any], dict[str, Any]]:
        head, tail = super()._own_dict()
        return head, tail | {"kid_std": self.kid_std, "kid_subsets": self.kid_subsets,
                             "kid_subset_size": self.kid_subset_size, "warnings": list(self.warnings)}

    @classmethod
    def _own_fields(cls, value: Mapping[str, Any], where: str) -> dict[str, Any]:
        warnings = value.get("warnings") or []
        if not (isinstance(warnings, list) and all(isinstance(w, str) for w in warnings)):
            raise InputError(f"{where}: \"warnings\" must be a list of strings, got {warnings!r}.")
        return {
            **super()._own_fields(value, where),
            "kid_std": number(value.get("kid_std"), where, "kid_std"),
            "kid_subsets": integer(value.get("kid_subsets"), where, "kid_subsets"),
            "kid_subset_size": integer(value.get("kid_subset_size"), where, "kid_subset_size"),
            "warnings": tuple(warnings),
        }

    def csv_fields(self) -> dict[str, Any]:
        return {"kid_std": self.kid_std, "kid_subsets": self.kid_subsets, "kid_subset_size": self.kid_subset_size,
                "warnings": " | ".join(self.warnings)}

    def check(self, where: str) -> None:
        super().check(where)
        if self.kid_std is not None and self.kid_std < 0:
            raise InputError(f"{where}: \"kid_std\" is {self.kid_std}, a standard deviation below 0; the file is "
                             "damaged or was edited. Regenerate it with the command that wrote it.")

    def notes(self) -> tuple[str, ...]:
        """KID's spread (the small-N warnings are logged when scoring, and kept in `warnings`)."""
        if self.kid_std is None or self.scores.get("kid") is None:
            return ()
        places = FID_SCORES[1].decimals  # KID's, as the tables print it
        return (f"KID {self.scores['kid']:.{places}f} +- {self.kid_std:.{places}f} (std over {self.kid_subsets} subsets of "
                f"{self.kid_subset_size} frames)",)


ENTRY = FidEntry
