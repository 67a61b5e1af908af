"""The HYPE-time staircase: one pure update rule, frame rounding, and where it converges.

HYPE-time (Zhou, Gordon et al., NeurIPS 2019) shows each image for an
exposure that follows an adaptive staircase on 100-1000 ms from 500 ms:
10 ms longer after a wrong answer, 30 ms shorter after three right answers
in a row. `staircase_step` is that rule and nothing else, on scalars (a
rater's page) or arrays (many simulated raters at once); the site and the
simulator (`study_app.simulate`) both call it.

Frame rounding: the staircase keeps its level in ms, exactly as specified;
what is shown is the nearest whole number of display frames (`frame_exposure`),
kept within the bounds. A step shorter than a frame then sometimes changes
nothing on screen; `frame_warnings` says so for a given display.
"""

import math
from dataclasses import dataclass

import numpy as np

from p2p_eval.measures.hype_time.entry import STAIRCASE_MS


@dataclass(frozen=True)
class Staircase:
    """An up/down staircase on exposure time (defaults: HYPE-time's).

    Attributes
    ----------
    start_ms, min_ms, max_ms : float
        First level and bounds.
    up_ms : float
        Added after a wrong answer (a longer look: easier).
    down_ms : float
        Taken off after `n_down` right answers in a row (harder).
    n_down : int
    """

    start_ms: float = 500.0
    min_ms: float = STAIRCASE_MS[0]  # the hype-time results entry checks scores against these bounds
    max_ms: float = STAIRCASE_MS[1]
    up_ms: float = 10.0
    down_ms: float = 30.0
    n_down: int = 3

    def __post_init__(self) -> None:
        if not 0 < self.min_ms <= self.start_ms <= self.max_ms:
            raise ValueError(f"Expected 0 < min_ms <= start_ms <= max_ms, got {self.min_ms}, {self.start_ms}, "
                             f"{self.max_ms}.")
        if self.up_ms <= 0 or self.down_ms <= 0 or self.n_down < 1:
            raise ValueError(f"Expected positive steps and n_down >= 1, got up_ms={self.up_ms}, "
                             f"down_ms={self.down_ms}, n_down={self.n_down}.")


HYPE_TIME = Staircase()


def staircase_step(
    level_ms: float | np.ndarray, streak: int | np.ndarray, correct: bool | np.ndarray, rule: Staircase = HYPE_TIME
) -> tuple[float, int] | tuple[np.ndarray, np.ndarray]:
    """The staircase after one answer.

    Parameters
    ----------
    level_ms : float or (N,) ndarray
        Current level (ms, unrounded); start at ``rule.start_ms``.
    streak : int or (N,) ndarray
        Right answers in a row since the level last went down; start at 0.
    correct : bool or (N,) ndarray of bool
        Whether the answer at this level was right.
    rule : Staircase, optional

    Returns
    -------
    level_ms, streak : (float, int), or two (N,) ndarrays for array input
        The next level (within the bounds) and streak.

    Examples
    --------
    >>> staircase_step(500.0, 0, False)
    (510.0, 0)
    >>> staircase_step(500.0, 2, True)
    (470.0, 0)
    >>> staircase_step(500.0, 1, True)
    (500.0, 2)
    """
    level, count, right = np.asarray(level_ms, float), np.asarray(streak, np.int64), np.asarray(correct, bool)
    count = np.where(right, count + 1, 0)
    down = count >= rule.n_down
    level = np.where(right, np.where(down, level - rule.down_ms, level), level + rule.up_ms)
    level = np.clip(level, rule.min_ms, rule.max_ms)
    count = np.where(down, 0, count)
    if level.ndim == 0:
        return float(level), int(count)
    return level, count


def convergence_probability(rule: Staircase = HYPE_TIME) -> float:
    """The probability of a right answer at which the staircase drifts neither way.

    Per run of answers the level moves ``-down_ms`` with probability
    ``p ** n_down`` and ``+up_ms`` otherwise; no drift when
    ``p ** n_down = up_ms / (up_ms + down_ms)``: 0.63 for HYPE-time
    (0.79 for the equal-step 3-down/1-up staircase).

    Examples
    --------
    >>> round(convergence_probability(), 3)
    0.63
    """
    return (rule.up_ms / (rule.up_ms + rule.down_ms)) ** (1 / rule.n_down)


def frame_exposure(
    level_ms: float | np.ndarray, frame_ms: float | None, rule: Staircase = HYPE_TIME
) -> tuple[int | np.ndarray | None, float | np.ndarray]:
    """What is shown for a level: the nearest whole number of frames, within the bounds.

    Parameters
    ----------
    level_ms : float or (N,) ndarray
    frame_ms : float or None
        The display's frame period (16.67 at 60 Hz); None shows the level as is.
    rule : Staircase, optional

    Returns
    -------
    frames : int, (N,) int ndarray, or None
        Frames to show (None when `frame_ms` is None). Halves round up; the
        count stays between the fewest frames covering ``min_ms`` and the most
        within ``max_ms``.
    shown_ms : float or (N,) ndarray
        ``frames * frame_ms``: the exposure to request and record.

    Examples
    --------
    >>> frame_exposure(510.0, 1000 / 60)
    (31, 516.6666666666667)
    """
    if frame_ms is None:
        return None, level_ms
    if not frame_ms > 0:
        raise ValueError(f"Expected `frame_ms` > 0, got {frame_ms}.")
    fewest = math.ceil(rule.min_ms / frame_ms - 1e-9)
    most = max(fewest, math.floor(rule.max_ms / frame_ms + 1e-9))
    frames = np.clip(np.floor(np.asarray(level_ms, float) / frame_ms + 0.5), fewest, most).astype(np.int64)
    if frames.ndim == 0:
        return int(frames), int(frames) * frame_ms
    return frames, frames * frame_ms


def frame_warnings(frame_ms: float | None, rule: Staircase = HYPE_TIME) -> list[str]:
    """Why a display cannot show the staircase's steps as specified (empty when it can)."""
    if frame_ms is None:
        return []
    warnings = []
    hz = 1000 / frame_ms
    for name, step in (("+", rule.up_ms), ("-", rule.down_ms)):
        if step < frame_ms:
            warnings.append(
                f"a {name}{step:g} ms step is shorter than one frame ({frame_ms:.2f} ms at {hz:.0f} Hz): the shown "
                "exposure changes only when the level crosses a frame boundary, so some steps show no change")
    shown_min = frame_exposure(rule.min_ms, frame_ms, rule)[1]
    if abs(shown_min - rule.min_ms) > 1e-6:
        warnings.append(f"the {rule.min_ms:g} ms floor is shown as {shown_min:.1f} ms (whole frames at {hz:.0f} Hz)")
    return warnings
