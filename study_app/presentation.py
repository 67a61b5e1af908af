"""How a trial is shown: presentation modes as schedules of frame-locked steps, and presets.

A *schedule* is what the rater's page plays before it opens the response: a
list of steps, each painting some stimulus slots (or none) for a requested
time, optionally with a cue in the middle of the stage (the fixation cross).
The page times every step to display frames and reports the painted duration
of each; the server stores each trial's schedule, so it can check those
durations against it. A new trial kind or presentation mode is a new schedule
builder here (and its slots in the stimulus); the page needs no change.

The ``sequential`` mode and the ``pix2pix-2017`` preset follow the study code
the paper's AMT studies ran on, phillipi/AMT_Real_vs_Fake (``index_template.html``
and ``mk_expt.py`` at 4f5f25c); the lines followed are quoted below.
"""

from dataclasses import dataclass
from typing import Any

SLOTS = ("left", "right")
"""Stimulus slots of a two-alternative trial, in the order they travel in the stimulus."""

FIXATION = "+"

# index_template.html, next(): `var isi = 300;` and
#   $('#imageA').delay(offset_time+isi*3).fadeIn(0).delay(display_time).fadeOut(0); offset_time += isi*3+display_time;
#   $('#imageB').delay(offset_time+isi*2).fadeIn(0).delay(display_time).fadeOut(0); offset_time += isi*2+display_time;
# i.e. 900 ms blank, left image, 600 ms blank, right image; then
#   setTimeout(function() { ... $('#buttonA').fadeIn(fade_time); $('#buttonB').fadeIn(fade_time); }, offset_time+100);
# opens the two answer buttons 100 ms after the right image went.
AUTHORS_LEAD_MS = 900
AUTHORS_GAP_MS = 600
AUTHORS_RESPONSE_DELAY_MS = 100
# submitAnswer() in practice: both images shown again, labelled, the pick outlined, then
#   setTimeout(function() { next(); }, 2400);
AUTHORS_FEEDBACK_MS = 2400

SIMULTANEOUS_LEAD_MS = 500  # fixation cross before both images (this site's own protocol)

PRESENTATIONS = ("simultaneous", "sequential")

LEAD_MS = {"simultaneous": SIMULTANEOUS_LEAD_MS, "sequential": AUTHORS_LEAD_MS}
"""Default blank before the first image, per presentation."""

PRESETS: dict[str, dict[str, Any]] = {
    # The paper (§4.1): 1 s per image, 10 practice trials with feedback then 40 without,
    # ~50 Turkers per algorithm, no vigilance trials; shown at 256x256. mk_expt.py:
    # `opt['Npractice'] = 10`, `opt['Nhits'] = 50`, `opt['use_vigilance'] = False`,
    # `opt['paired'] = True`; index_template.html: `var display_time = 1000;` and the
    # sequential timings above. (mk_expt.py's `opt['Npairs'] = 60` would give 50 main
    # trials and `opt['im_height'] = 384` a larger display: the paper's 40 and 256 are used.)
    "pix2pix-2017": {
        "presentation": "sequential", "exposure_ms": 1000, "lead_ms": AUTHORS_LEAD_MS,
        "gap_ms": AUTHORS_GAP_MS, "feedback_ms": AUTHORS_FEEDBACK_MS, "practice_trials": 10,
        "main_trials": 40, "raters_per_algorithm": 50, "vigilance_trials": 0, "pairing": "paired",
        "image_size": 256,
    },
}


@dataclass(frozen=True)
class Step:
    """One step of a schedule.

    Attributes
    ----------
    ms : int
        Requested duration in milliseconds (the page rounds it to display frames).
    show : tuple of str
        Slots painted during the step; empty for a blank.
    cue : str
        Text shown in the middle of the stage during the step (e.g. the fixation cross).
    """

    ms: int
    show: tuple[str, ...] = ()
    cue: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"ms": self.ms, "show": list(self.show), "cue": self.cue}


def schedule(presentation: str, *, exposure_ms: int, lead_ms: int, gap_ms: int | None) -> tuple[Step, ...]:
    """The steps of one two-alternative trial.

    Parameters
    ----------
    presentation : {"simultaneous", "sequential"}
        Both images at once after a fixation cross, or one after the other in
        their left and right places (the authors' study code).
    exposure_ms : int
        How long each image is shown.
    lead_ms : int
        Blank (with the fixation cross when simultaneous) before the first image.
    gap_ms : int or None
        Blank between the two images (sequential only).

    Returns
    -------
    steps : tuple of Step
        Zero-length blanks are left out.

    Examples
    --------
    >>> [(s.ms, s.show) for s in schedule("sequential", exposure_ms=1000, lead_ms=900, gap_ms=600)]
    [(900, ()), (1000, ('left',)), (600, ()), (1000, ('right',)), (100, ())]
    """
    if presentation == "simultaneous":
        steps = (Step(lead_ms, cue=FIXATION), Step(exposure_ms, SLOTS))
    elif presentation == "sequential":
        steps = (Step(lead_ms), Step(exposure_ms, SLOTS[:1]), Step(gap_ms or 0), Step(exposure_ms, SLOTS[1:]),
                 Step(AUTHORS_RESPONSE_DELAY_MS))
    else:
        raise ValueError(f"Expected `presentation` to be one of {PRESENTATIONS}, got {presentation!r}.")
    return tuple(step for step in steps if step.ms > 0 or step.show)


def schedule_ms(steps: list[dict[str, Any]]) -> int:
    """Total requested duration of a stored schedule (its JSON form)."""
    return sum(step["ms"] for step in steps)
