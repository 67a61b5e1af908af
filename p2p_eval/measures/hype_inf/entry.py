"""The hype-inf results entry: one model's human error rate under unlimited viewing (HYPE-inf).

Zhou, Gordon et al., NeurIPS 2019: the error rate over all of a model's scored
trials (fakes taken for real and reals taken for fake), with the error on
fakes and on reals separately; above 50% reads "hyper-real".
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from p2p_eval.errors import InputError
from p2p_eval.measures.study.entry import HYPE_SD, HypeEntry
from p2p_eval.results.fields import DAMAGED
from p2p_eval.results.scores import Score

HYPE_INF_SCORES = (
    Score("hype_inf", r"HYPE$_\infty$ (\%)", percent=True, spread=HYPE_SD),
    Score("fake_error", r"Fakes error (\%)", percent=True),
    Score("real_error", r"Reals error (\%)", percent=True, compared=False),  # on real images: no model made them
)
"""Error rates in [0, 1]: over all scored trials, on fakes, on reals; the first is the HYPE score."""


@dataclass(frozen=True)
class HypeInfEntry(HypeEntry):
    """One model's HYPE-inf (README, "Results files").

    Attributes
    ----------
    n_fake, n_real : int or None
        Scored trials on fake and on real images.
    hyper_real : bool or None
        ``hype_inf > 0.5``; None without a score.
    """

    KIND = "hype-inf"
    SCORES = HYPE_INF_SCORES
    TITLE = "HYPE$_\\infty$"
    CAPTION = ("HYPE$_\\infty$: human error rate on real and fake images, no time limit (\\%; above 50\\% "
               "is hyper-real).")
    COUNTS = (*HypeEntry.COUNTS, "n_fake", "n_real")

    n_fake: int | None = None
    n_real: int | None = None
    hyper_real: bool | None = None

    def _own_dict(self) -> tuple[dict[str, Any], dict[str, Any]]:
        head, tail = super()._own_dict()
        return head, {**tail, "hyper_real": self.hyper_real}

    @classmethod
    def _own_fields(cls, value: Mapping[str, Any], where: str) -> dict[str, Any]:
        hyper_real = value.get("hyper_real")
        if hyper_real is not None and not isinstance(hyper_real, bool):
            raise InputError(f"{where}: \"hyper_real\" must be true, false or null, got {hyper_real!r}.")
        return {**super()._own_fields(value, where), "hyper_real": hyper_real}

    def check(self, where: str) -> None:
        """Also: fakes and reals add up to the trials, and ``hyper_real`` says what the score says."""
        super().check(where)
        if None not in (self.n_fake, self.n_real, self.n_trials) and self.n_fake + self.n_real != self.n_trials:
            raise InputError(f"{where}: 'n_fake' + 'n_real' is {self.n_fake + self.n_real}, not the {self.n_trials} "
                             f"scored trials; {DAMAGED}")
        score = self.scores.get("hype_inf")
        expected = None if score is None else score > 0.5
        if self.hyper_real != expected:
            raise InputError(f"{where}: 'hyper_real' is {self.hyper_real}, but 'hype_inf' is {score} (hyper-real "
                             f"means above 0.5); {DAMAGED}")


ENTRY = HypeInfEntry
