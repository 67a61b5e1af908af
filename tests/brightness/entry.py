from dataclasses import dataclass

from p2p_eval.results import RunEntry, Score


@dataclass(frozen=True)
class BrightnessEntry(RunEntry):
    KIND = "brightness"
    SCORES = (Score("brightness", "Mean brightness"),)
    TITLE = "Brightness"
    CAPTION = "Mean brightness of the generated images."


ENTRY = BrightnessEntry
