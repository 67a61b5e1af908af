from dataclasses import dataclass

import numpy as np

from brightness.entry import BrightnessEntry
from p2p_eval.cache import namespace
from p2p_eval.data.files import read_rgb
from p2p_eval.measures.base import Loaded, Measure
from p2p_eval.measures.states import State


@dataclass(frozen=True)
class BrightnessSettings:
    pass


class Brightness(Measure):
    kind = "brightness"
    Settings = BrightnessSettings
    entry_type = BrightnessEntry
    real_input = "photo"  # --with-real scores the real photos as a run
    states = (State("brightness", dtype="float64", reduce="cat"),)

    @classmethod
    def open(cls, settings, dataset, split):
        return cls()

    def namespace(self):
        return namespace("brightness", scale="mean of RGB / 255")

    def load(self, image, frame):
        return Loaded(read_rgb(image).mean() / 255)

    def update(self, batch, *, batch_size):
        return {"brightness": np.array(batch, dtype=np.float64)}

    def compute(self, states, weights, reference):
        return {"brightness": weights @ states["brightness"] / weights.sum(axis=1)}


MEASURE = Brightness
