"""What the server decides from stored answers: the next HYPE-time exposure, and the qualification verdict.

The staircase lives on the server. A staircase trial is stored without a
schedule; when the answer before it is stored (or, for a session's first
trial, when the rater's display frame period is), the server computes its
level from that answer with `study_app.staircase.staircase_step`, rounds it to
whole frames of the session's display with `frame_exposure`, and stores the
schedule, level and streak in the same transaction. The page only plays what
it is given: it cannot ask for a longer look, and a reload replays the same
exposure (counted as a re-exposure, as for every trial).

Rules (HYPE-time as USERS_AND_PROTOCOLS.md §2 transcribes it: "3-up/1-down over
100-1000 ms, starting at 500 ms, +10 ms after a wrong answer and -30 ms after
three right ones"; "3 blocks x 150 images"):

- each main block starts a fresh staircase at ``staircase_start_ms``;
- a main trial follows from the main trial before it in its block;
- practice trials are shown at the start level and move nothing.

The display's frame period is fixed once per session, from the page's
measurement, within `FRAME_MS_RANGE`; a page cannot change it afterwards.
"""

import json
from dataclasses import dataclass
from typing import Any

from study_app.config import Protocol
from study_app.presentation import frames_ms, timed_single_schedule
from study_app.staircase import frame_exposure, frame_warnings, staircase_step

FRAME_MS_RANGE = (4.0, 50.0)
"""Display frame periods the site accepts (250 Hz to 20 Hz)."""
COMMON_DISPLAYS_HZ = (60, 75, 120, 144)
"""Refresh rates `study check` warns for before anyone's display is known."""


@dataclass(frozen=True)
class Shown:
    """A staircase trial as it was stored and answered: where the next one starts from."""

    phase: str
    block: int
    level_ms: float
    streak: int
    correct: bool


def staircase_trial(protocol: Protocol, frame_ms: float, phase: str, block: int, previous: Shown | None) -> dict[str, Any]:
    """The stored columns of a staircase trial: its level and streak, exposure and schedule.

    Parameters
    ----------
    protocol : Protocol
    frame_ms : float
        The session's display frame period.
    phase : {"practice", "main"}
    block : int
    previous : Shown or None
        The trial before it, if that was a staircase trial.

    Returns
    -------
    columns : dict
        ``level_ms``, ``streak``, ``exposure_ms`` (frame-rounded), ``exposure_frames``, ``schedule`` (JSON).

    Examples
    --------
    >>> p = Protocol(task="hype-time", blocks=1, main_trials=3)
    >>> first = staircase_trial(p, 10.0, "main", 0, None)
    >>> first["level_ms"], first["exposure_ms"]
    (500.0, 500.0)
    >>> staircase_trial(p, 10.0, "main", 0, Shown("main", 0, 500.0, 0, False))["exposure_ms"]
    510.0
    """
    rule = protocol.staircase
    if phase == "main" and previous is not None and previous.phase == "main" and previous.block == block:
        level, streak = staircase_step(previous.level_ms, previous.streak, previous.correct, rule)
    else:
        level, streak = float(rule.start_ms), 0
    frames, shown_ms = frame_exposure(level, frame_ms, rule)
    shown_ms = round(shown_ms, 6)  # 60 frames of 1000/60 ms are 1000.0000000000001 ms: within the bounds, as stored
    steps = timed_single_schedule(shown_ms, frame_ms, countdown=protocol.countdown, countdown_ms=protocol.countdown_ms,
                                  masks=protocol.masks, mask_ms=protocol.mask_ms)
    return {"level_ms": level, "streak": streak, "exposure_ms": shown_ms, "exposure_frames": frames,
            "schedule": json.dumps([step.as_json() for step in steps])}


def qualification_passed(protocol: Protocol, answers: list[tuple[str, bool]]) -> bool:
    """Whether a rater's qualification answers pass: enough right on the reals and on the fakes.

    Parameters
    ----------
    protocol : Protocol
        ``qualification_min_real`` and ``qualification_min_fake`` (HYPE: 0.65 each).
    answers : list of (str, bool)
        Per qualification trial, what it showed (``real`` / ``fake``) and whether the answer was right.

    Examples
    --------
    >>> qualification_passed(Protocol(), [("real", True), ("real", True), ("fake", True), ("fake", False)])
    False
    """
    for image, least in (("real", protocol.qualification_min_real), ("fake", protocol.qualification_min_fake)):
        right = [correct for shown, correct in answers if shown == image]
        if right and sum(right) / len(right) < least:
            return False
    return True


def display_warnings(protocol: Protocol, frame_ms: float) -> list[str]:
    """Why a display with this frame period cannot show the hype-time protocol exactly as configured.

    The staircase's own (`study_app.staircase.frame_warnings`: a step shorter
    than a frame, a floor that is no whole number of frames), and the countdown
    numbers and noise masks, each rounded to whole frames.

    Examples
    --------
    >>> display_warnings(Protocol(task="hype-time"), 1000 / 60)[-1]
    'each 30 ms noise mask is shown as 2 frames = 33.3 ms (whole frames at 60 Hz)'
    """
    if protocol.task != "hype-time":
        return []
    warnings = frame_warnings(frame_ms, protocol.staircase)
    hz = 1000 / frame_ms
    for what, ms, count in (("countdown number", protocol.countdown_ms, protocol.countdown),
                            ("noise mask", protocol.mask_ms, protocol.masks)):
        shown = frames_ms(ms, frame_ms)
        if count and abs(shown - ms) > 1e-6:
            warnings.append(f"each {ms} ms {what} is shown as {round(shown / frame_ms)} frames = {shown:.1f} ms "
                            f"(whole frames at {hz:.0f} Hz)")
    return warnings
