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
and ``mk_expt.py`` at 4f5f25c); the lines followed are quoted below. The other
presets follow the papers as ``../shared/reference/USERS_AND_PROTOCOLS.md`` §2
transcribes them (quoted at each preset).

Single-image trials (the HYPE tasks) have one stimulus slot, ``image``;
HYPE-time's noise masks are slots ``mask:0`` ... that the page fills with fresh
noise (no pixels travel for them). A step whose ``ms`` is None stays on screen
until the answer (HYPE-inf's unlimited viewing). Every step of a HYPE-time
trial is a whole number of display frames (`frames_ms`), computed on the
server for the rater's display, so what is requested is what can be painted.
"""

import math
from dataclasses import dataclass
from typing import Any

SLOTS = ("left", "right")
"""Stimulus slots of a two-alternative trial, in the order they travel in the stimulus."""
IMAGE_SLOT = "image"
"""The one stimulus slot of a single-image trial."""
MASK_SLOT = "mask"
"""Prefix of the noise-mask slots (``mask:0``, ``mask:1`` ...): noise the page draws, not stimulus pixels."""
CHOICES = {"2afc": SLOTS, "single": ("real", "fake")}
"""What a rater may answer, per trial kind: the side picked as fake, or what the one image was."""
TASKS = ("2afc", "hype-inf", "hype-time")
"""``2afc``: pick the fake of a real and a fake image; ``hype-inf`` / ``hype-time``: one image, real or fake?"""

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
VIGILANCE_KINDS = ("blur", "random-colour")
"""The obviously fake image of a vigilance trial: the real photo heavily blurred, or its lightness with the
colours of another real photo (Zhang et al.'s random-colour baseline)."""

# HYPE (Zhou, Gordon et al., NeurIPS 2019), as USERS_AND_PROTOCOLS.md §2 transcribes it:
#   "a 3-2-1 countdown (500 ms per number); the image for the current exposure time; then 4
#    texture-synthesis noise masks of 30 ms each to stop afterimages. Correctness feedback after every answer."
HYPE_COUNTDOWN = 3
HYPE_COUNTDOWN_MS = 500
HYPE_MASKS = 4
HYPE_MASK_MS = 30

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
    # Zhang, Isola, Efros 2016, the colorization Turing test the pix2pix paper cites (§2): "2AFC: click the
    # image with fake colours. Each 256x256 image is shown for 1 s; unlimited response time", "10 practice
    # trials (excluded from analysis, with feedback), then 40 test pairs", "40 participants per algorithm",
    # "10% vigilance trials (ground truth vs a random-colour baseline); these were caught 87% of the time".
    # Shown side by side (simultaneous); 4 vigilance pairs are 10% of the 40 test pairs. Their catch rate was
    # reported, not used to drop anyone: the preset reports the pass rate and excludes nobody for it.
    "zhang-2016": {
        "presentation": "simultaneous", "exposure_ms": 1000, "practice_trials": 10, "main_trials": 40,
        "vigilance_trials": 4, "vigilance": "random-colour", "exclude_vigilance_failures": False,
        "raters_per_algorithm": 40, "pairing": "paired", "image_size": 256,
    },
    # HYPE-inf (§2): "100 images per evaluator (50 real, 50 fake, ratio told to evaluators), no time limit",
    # "30 per model". The text says nothing of feedback: none (`feedback = "every"` adds it).
    "hype-inf": {
        "task": "hype-inf", "practice_trials": 0, "main_trials": 100, "real_percent": 50,
        "raters_per_algorithm": 30, "feedback": "practice", "image_size": 256,
    },
    # HYPE-time (§2): "3 blocks x 150 images (50% real) per evaluator", the staircase of `study_app.staircase`,
    # the countdown and masks above, "correctness feedback after every answer" (shown 1 s: this site's choice).
    "hype-time": {
        "task": "hype-time", "practice_trials": 0, "main_trials": 450, "blocks": 3, "real_percent": 50,
        "raters_per_algorithm": 30, "feedback": "every", "feedback_ms": 1000, "image_size": 256,
    },
}


@dataclass(frozen=True)
class Step:
    """One step of a schedule.

    Attributes
    ----------
    ms : float or None
        Requested duration in milliseconds (the page rounds it to display frames);
        None: on screen until the answer (it must be the last step).
    show : tuple of str
        Slots painted during the step; empty for a blank.
    cue : str
        Text shown in the middle of the stage during the step (e.g. the fixation cross).
    """

    ms: float | None
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


def unlimited_schedule() -> tuple[Step, ...]:
    """A single-image trial with unlimited viewing: the image until the answer (HYPE-inf, qualification)."""
    return (Step(None, (IMAGE_SLOT,)),)


def frames_ms(ms: float, frame_ms: float) -> float:
    """`ms` as the nearest whole number of display frames, at least one, in ms (halves round up).

    >>> round(frames_ms(30, 1000 / 60), 2), round(frames_ms(500, 1000 / 60), 6)
    (33.33, 500.0)
    """
    return round(max(1, math.floor(ms / frame_ms + 0.5)) * frame_ms, 6)


def timed_single_schedule(
    exposure_ms: float, frame_ms: float, *, countdown: int, countdown_ms: int, masks: int, mask_ms: int,
) -> tuple[Step, ...]:
    """A HYPE-time trial: countdown, the image, noise masks; every step whole frames of `frame_ms`.

    Parameters
    ----------
    exposure_ms : float
        The image's exposure, already frame-rounded by the staircase (`study_app.staircase.frame_exposure`).
    frame_ms : float
        The rater's display frame period.
    countdown, countdown_ms : int
        Numbers counted down (3: "3", "2", "1") and how long each shows.
    masks, mask_ms : int
        Noise masks after the image and how long each shows.

    Examples
    --------
    >>> [(round(s.ms, 1), s.show, s.cue) for s in timed_single_schedule(
    ...     500.0, 1000 / 60, countdown=2, countdown_ms=500, masks=2, mask_ms=30)]
    [(500.0, (), '2'), (500.0, (), '1'), (500.0, ('image',), ''), (33.3, ('mask:0',), ''), (33.3, ('mask:1',), '')]
    """
    steps = [Step(frames_ms(countdown_ms, frame_ms), cue=str(n)) for n in range(countdown, 0, -1)]
    steps.append(Step(exposure_ms, (IMAGE_SLOT,)))
    steps += [Step(frames_ms(mask_ms, frame_ms), (f"{MASK_SLOT}:{i}",)) for i in range(masks)]
    return tuple(steps)


def is_mask(slot: str) -> bool:
    """Whether a slot is a noise mask (drawn by the page) rather than a stimulus image."""
    return slot.startswith(MASK_SLOT + ":")


def schedule_ms(steps: list[dict[str, Any]]) -> float:
    """Total requested duration of a stored schedule (its JSON form); a step until the answer counts 0."""
    return sum(step["ms"] or 0 for step in steps)
