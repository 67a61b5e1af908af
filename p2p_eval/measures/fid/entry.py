"""The fid results entry: FID (bootstrap interval over frames), KID (std over subsets), FID-infinity (its
fitted line), small-N warnings."""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from p2p_eval.errors import InputError
from p2p_eval.metrics.frechet_infinity import fit_infinity
from p2p_eval.results.entries import RunEntry
from p2p_eval.results.fields import DAMAGED, integer, list_of, number
from p2p_eval.results.scores import Score, first_disagreement

FID_SCORES = (
    # A centred bootstrap interval may reach below 0, and KID's unbiased estimate can be
    # negative for near-identical sets: neither range has a floor.
    Score("fid", "FID", low=-math.inf, high=math.inf, higher_is_better=False),
    Score("kid", "KID", low=-math.inf, high=math.inf, higher_is_better=False, decimals=4),
    # An intercept extrapolated to 1/N = 0: nothing keeps it above 0 either. A plain title: the
    # terminal table prints titles as they are (reports read LaTeX, but no session measure writes any).
    Score("fid_infinity", "FID-infinity", low=-math.inf, high=math.inf, higher_is_better=False),
)
"""Fréchet and kernel Inception distances to the real photos (lower is better); KID null without ``--kid``,
FID-infinity null without ``--infinity``."""
INFINITY_FIELDS = ("fid_infinity_slope", "fid_infinity_min_size", "fid_infinity_points", "fid_infinity_sizes",
                   "fid_infinity_distances")
"""The entry fields of FID-infinity's fit, all null when it was not computed."""


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
    fid_infinity_slope : float or None
        Slope of the line fitted to FID_N against 1/N (its intercept is the
        ``fid_infinity`` score).
    fid_infinity_min_size, fid_infinity_points : int or None
        The fit's smallest N and number of sizes (``--infinity-min-size``,
        ``--infinity-points``).
    fid_infinity_sizes : tuple of int or None
        The N of each point, from ``fid_infinity_min_size`` to ``n_images``.
    fid_infinity_distances : tuple of float or None
        FID_N at each size: the line is refitted to them on reading, and a
        stored value or slope that differs is refused.
    warnings : tuple of str
        Small-N warnings: FID's bias below ``protocol.fid.min_images`` frames,
        a singular covariance, a reduced KID subset, an FID-infinity fitted
        below the paper's smallest N.
    """

    KIND = "fid"
    SCORES = FID_SCORES
    TITLE = "Inception distances"
    CAPTION = "FID and KID of generated photos against the real photos of the split."

    kid_std: float | None = None
    kid_subsets: int | None = None
    kid_subset_size: int | None = None
    fid_infinity_slope: float | None = None
    fid_infinity_min_size: int | None = None
    fid_infinity_points: int | None = None
    fid_infinity_sizes: tuple[int, ...] | None = None
    fid_infinity_distances: tuple[float, ...] | None = None
    warnings: tuple[str, ...] = ()

    def _own_dict(self) -> tuple[dict[str, Any], dict[str, Any]]:
        head, tail = super()._own_dict()
        sizes, distances = self.fid_infinity_sizes, self.fid_infinity_distances
        return head, tail | {"kid_std": self.kid_std, "kid_subsets": self.kid_subsets,
                             "kid_subset_size": self.kid_subset_size, "fid_infinity_slope": self.fid_infinity_slope,
                             "fid_infinity_min_size": self.fid_infinity_min_size,
                             "fid_infinity_points": self.fid_infinity_points,
                             "fid_infinity_sizes": None if sizes is None else list(sizes),
                             "fid_infinity_distances": None if distances is None else list(distances),
                             "warnings": list(self.warnings)}

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
            "fid_infinity_slope": number(value.get("fid_infinity_slope"), where, "fid_infinity_slope"),
            "fid_infinity_min_size": integer(value.get("fid_infinity_min_size"), where, "fid_infinity_min_size"),
            "fid_infinity_points": integer(value.get("fid_infinity_points"), where, "fid_infinity_points"),
            "fid_infinity_sizes": list_of(value.get("fid_infinity_sizes"), where, "fid_infinity_sizes", integer),
            "fid_infinity_distances": list_of(value.get("fid_infinity_distances"), where, "fid_infinity_distances",
                                               number),
            "warnings": tuple(warnings),
        }

    def csv_fields(self) -> dict[str, Any]:
        sizes = self.fid_infinity_sizes
        return {"kid_std": self.kid_std, "kid_subsets": self.kid_subsets, "kid_subset_size": self.kid_subset_size,
                "fid_infinity_slope": self.fid_infinity_slope, "fid_infinity_min_size": self.fid_infinity_min_size,
                "fid_infinity_points": self.fid_infinity_points,
                "fid_infinity_sizes": None if sizes is None else " ".join(map(str, sizes)),
                "warnings": " | ".join(self.warnings)}

    def check(self, where: str) -> None:
        super().check(where)
        if self.kid_std is not None and self.kid_std < 0:
            raise InputError(f"{where}: \"kid_std\" is {self.kid_std}, a standard deviation below 0; {DAMAGED}")
        self._check_infinity(where)

    def _check_infinity(self, where: str) -> None:
        """FID-infinity's fields all null, or all there and agreeing: the stored value and slope are the line's
        refitted to the stored points, whose sizes run from the min size to the run's frames."""
        fields = {key: getattr(self, key) for key in INFINITY_FIELDS}
        if self.scores.get("fid_infinity") is None:
            given = [key for key, value in fields.items() if value is not None]
            if given:
                raise InputError(f"{where}: \"fid_infinity\" is null but {given} are not; {DAMAGED}")
            return
        missing = [key for key, value in fields.items() if value is None]
        if missing:
            raise InputError(f"{where}: \"fid_infinity\" is {self.scores['fid_infinity']} but {missing} are null; "
                             f"{DAMAGED}")
        sizes, distances = self.fid_infinity_sizes, self.fid_infinity_distances
        if not (len(sizes) == len(distances) == self.fid_infinity_points >= 2 and sizes[0] == self.fid_infinity_min_size
                and sizes[-1] == self.n_images and list(sizes) == sorted(sizes)):
            raise InputError(
                f"{where}: FID-infinity's points ({len(sizes)} sizes {list(sizes)}, {len(distances)} distances) are "
                f"not \"fid_infinity_points\" = {self.fid_infinity_points} sizes rising from \"fid_infinity_min_size\""
                f" = {self.fid_infinity_min_size} to \"n_images\" = {self.n_images}; {DAMAGED}")
        value, slope = fit_infinity(sizes, distances)
        stored = {"fid_infinity": self.scores["fid_infinity"], "fid_infinity_slope": self.fid_infinity_slope}
        differs = first_disagreement(stored, {"fid_infinity": value, "fid_infinity_slope": slope})
        if differs:
            raise InputError(f"{where}: {differs} from \"fid_infinity_sizes\" and \"fid_infinity_distances\" (the "
                             f"line's intercept and slope); {DAMAGED}")

    def notes(self) -> tuple[str, ...]:
        """KID's spread and FID-infinity's fit (the small-N warnings are logged when scoring, and kept in
        `warnings`)."""
        notes = []
        if self.kid_std is not None and self.scores.get("kid") is not None:
            places = FID_SCORES[1].decimals  # KID's, as the tables print it
            notes.append(f"KID {self.scores['kid']:.{places}f} +- {self.kid_std:.{places}f} (std over "
                         f"{self.kid_subsets} subsets of {self.kid_subset_size} frames)")
        if self.scores.get("fid_infinity") is not None:
            notes.append(f"FID-infinity {self.scores['fid_infinity']:.2f}: intercept at 1/N = 0 of the line "
                         f"FID_N = {self.scores['fid_infinity']:.2f} + {self.fid_infinity_slope:.4g} / N fitted at "
                         f"{self.fid_infinity_points} sizes N from {self.fid_infinity_min_size} to {self.n_images}")
        return tuple(notes)


ENTRY = FidEntry
